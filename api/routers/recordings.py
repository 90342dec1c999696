"""A recording's signed download link (``GET /v1/calls/{id}/recording`` hands it out): the signature, made with
the deployment's secret over the recording and the expiry, is the authorization; the file is streamed from the
recordings directory or the bucket (docs/recordings.md)."""

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import DbSession
from api.routers.common import Context, not_found
from api.services import recordings

router = APIRouter(tags=["recordings"])


@router.get("/recordings/{recording_id}", response_class=StreamingResponse, include_in_schema=False)
async def download_recording(
    recording_id: str,
    session: DbSession,
    ctx: Context,
    expires: int = Query(description="Unix time the link expires at"),
    signature: str = Query(max_length=128, description="HMAC-SHA256 (hex) of the recording id and the expiry"),
) -> StreamingResponse:
    """The recording's file; 404 for a bad or expired signature, so a link reveals nothing once it is dead."""
    try:
        row, chunks = await recordings.open_linked_recording(session, ctx.settings, recording_id, expires, signature)
    except recordings.RecordingNotFoundError as err:
        not_found(str(err))
    return StreamingResponse(
        chunks,
        media_type=row.content_type,
        headers={"Cache-Control": "private, no-store", "Content-Disposition": f'inline; filename="{row.id}"'},
    )
