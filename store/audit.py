"""The audit log: who changed what in an organization, newest first."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AuditEventRow, utcnow


async def record(
    session: AsyncSession, org_id: str, actor: str, action: str, target: str, details: dict[str, Any] | None = None
) -> None:
    """Add an event to the caller's transaction, so the change and its record commit together."""
    session.add(
        AuditEventRow(
            org_id=org_id, occurred_at=utcnow(), actor=actor, action=action, target=target[:512], details=details or {}
        )
    )
    await session.flush()


async def events(session: AsyncSession, org_id: str, *, limit: int, offset: int) -> tuple[list[AuditEventRow], int]:
    """A page of the organization's events, newest first, and how many there are."""
    where = AuditEventRow.org_id == org_id
    total = int(await session.scalar(select(func.count()).select_from(AuditEventRow).where(where)) or 0)
    stmt = select(AuditEventRow).where(where).order_by(AuditEventRow.id.desc()).limit(limit).offset(offset)
    return list((await session.scalars(stmt)).all()), total
