"""Call recordings' rows (docs/recordings.md): written by the ``collect_recordings`` activity only."""

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.recordings import RecordingOut
from store.models import RecordingRow, utcnow
from store.queries import dialect_insert, rowcount


def recording_view(row: RecordingRow) -> RecordingOut:
    return RecordingOut.model_validate(row, from_attributes=True)


async def record_recording(session: AsyncSession, **values: object) -> None:
    """Store one egress's file. Idempotent on the egress id: a retried write changes nothing."""
    await session.execute(
        dialect_insert(session, RecordingRow)
        .values(id=uuid.uuid4().hex, created_at=utcnow(), **values)
        .on_conflict_do_nothing(index_elements=["egress_id"])
    )


async def recordings_of_call(
    session: AsyncSession, campaign_id: str, external_id: str, attempt: int
) -> list[RecordingRow]:
    query = (
        select(RecordingRow)
        .where(
            RecordingRow.campaign_id == campaign_id,
            RecordingRow.external_id == external_id,
            RecordingRow.attempt == attempt,
        )
        .order_by(RecordingRow.created_at, RecordingRow.id)
    )
    return list((await session.scalars(query)).all())


async def get_recording(session: AsyncSession, recording_id: str) -> RecordingRow | None:
    return await session.get(RecordingRow, recording_id)


async def recordings_of_contacts(
    session: AsyncSession, campaign_id: str, external_ids: list[str]
) -> list[RecordingRow]:
    query = select(RecordingRow).where(
        RecordingRow.campaign_id == campaign_id, RecordingRow.external_id.in_(external_ids)
    )
    return list((await session.scalars(query)).all())


async def delete_recordings(session: AsyncSession, ids: list[str]) -> int:
    if not ids:
        return 0
    result = await session.execute(
        delete(RecordingRow).where(RecordingRow.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return rowcount(result)
