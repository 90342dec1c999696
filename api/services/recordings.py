"""Call recordings for the API and the dashboard: a call's recording with its signed download link, and the file
behind a link (docs/recordings.md). The rows are the ``collect_recordings`` activity's; this only reads them."""

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from infra.recordings import RecordingUnavailableError, S3Storage, link_is_valid, signed_path, storage_for
from schemas.recordings import RecordingLink
from schemas.settings import Settings
from store import recordings
from store.models import RecordingRow


class RecordingNotFoundError(Exception):
    """No recording of that call, or a link that is not (or no longer) valid; the message says which."""


async def call_recording_link(
    session: AsyncSession, settings: Settings, campaign_id: str, external_id: str, attempt: int, base_url: str
) -> RecordingLink:
    """The call's recording (its first file) and a link to it, signed and expiring; on S3, a presigned URL too."""
    rows = await recordings.recordings_of_call(session, campaign_id, external_id, attempt)
    if not rows:
        raise RecordingNotFoundError("this call has no recording")
    row = rows[0]
    now = time.time()
    path, expires = signed_path(settings, row.id, now)
    storage_url = None
    if row.storage == "s3":
        storage = storage_for(settings, row.storage)
        assert isinstance(storage, S3Storage)
        storage_url = storage.presigned_url(row.location, settings.recording_link_seconds)
    return RecordingLink(
        recording=recordings.recording_view(row),
        url=base_url.rstrip("/") + path,
        storage_url=storage_url,
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


async def open_linked_recording(
    session: AsyncSession, settings: Settings, recording_id: str, expires: int, signature: str
) -> tuple[RecordingRow, AsyncIterator[bytes]]:
    """The recording a signed link names, and its bytes; refused for a bad or expired signature."""
    if not link_is_valid(settings, recording_id, expires, signature):
        raise RecordingNotFoundError("this link is not valid, or has expired: ask the API for a new one")
    row = await recordings.get_recording(session, recording_id)
    if row is None:
        raise RecordingNotFoundError("no such recording")
    storage = storage_for(settings, row.storage)
    if await storage.size(row.location) is None:
        raise RecordingNotFoundError("the recording's file is gone")
    try:
        return row, storage.read(row.location)
    except RecordingUnavailableError as err:
        raise RecordingNotFoundError(str(err)) from None
