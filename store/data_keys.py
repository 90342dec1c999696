"""The wrapped data keys that seal one person's workflow payloads (crypto-shredding, ``infra/codec.py``).

The store keeps only what it is given: an id, the workflow, the deployment key that wrapped it and the
wrapped bytes. Wrapping and unwrapping are the codec's; destroying the rows is erasure's.
"""

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import PayloadDataKeyRow, utcnow
from store.queries import dialect_insert

# Keeps one IN (...) list well under every driver's bound-parameter limit.
LOOKUP_CHUNK = 500


async def data_key_for_workflow(session: AsyncSession, workflow_id: str) -> PayloadDataKeyRow | None:
    return await session.scalar(select(PayloadDataKeyRow).where(PayloadDataKeyRow.workflow_id == workflow_id))


async def add_data_key(
    session: AsyncSession, *, key_id: str, workflow_id: str, wrapping_key_id: str, wrapped_key: bytes
) -> PayloadDataKeyRow:
    """Store a new key for ``workflow_id``, unless one is there already; either way the workflow's one key.

    Two processes sealing the first payloads of one workflow at once both propose a key: the first
    insert wins and both use its key.
    """
    await session.execute(
        dialect_insert(session, PayloadDataKeyRow)
        .values(
            key_id=key_id,
            workflow_id=workflow_id,
            wrapping_key_id=wrapping_key_id,
            wrapped_key=wrapped_key,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["workflow_id"])
    )
    row = await data_key_for_workflow(session, workflow_id)
    assert row is not None  # inserted now, or by whoever won the race
    return row


async def data_keys_by_id(session: AsyncSession, key_ids: Iterable[str]) -> list[PayloadDataKeyRow]:
    wanted = sorted(set(key_ids))
    rows: list[PayloadDataKeyRow] = []
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        rows.extend((await session.scalars(select(PayloadDataKeyRow).where(PayloadDataKeyRow.key_id.in_(chunk)))).all())
    return rows


async def destroy_data_keys(session: AsyncSession, workflow_ids: Iterable[str]) -> list[str]:
    """Delete the keys of these workflows; the ids of the keys destroyed (their payloads are now unreadable)."""
    wanted = sorted(set(workflow_ids))
    destroyed: list[str] = []
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        result = await session.execute(
            delete(PayloadDataKeyRow)
            .where(PayloadDataKeyRow.workflow_id.in_(chunk))
            .returning(PayloadDataKeyRow.key_id)
            .execution_options(synchronize_session=False)
        )
        destroyed.extend(result.scalars().all())
    return destroyed
