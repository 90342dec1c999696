"""Recording who did what: the services call these as they change something an auditor asks about.

The actor is whoever the request's principal names (a member's email, an API key's prefix and label);
a change made on the command line is the operator's at the machine, ``cli``.
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store import audit

CLI_ACTOR = "cli"


async def record(
    session: AsyncSession, *, org_id: str, actor: str, action: str, target: str, details: dict[str, Any] | None = None
) -> None:
    """Record the event in ``session``'s transaction: it commits (or not) with the change it describes."""
    await audit.record(session, org_id, actor, action, target, details)


async def record_done(
    sessions: async_sessionmaker[AsyncSession],
    *,
    org_id: str,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Record an event whose change is already done outside the store (a signal sent to a workflow)."""
    async with sessions() as session:
        await audit.record(session, org_id, actor, action, target, details)
        await session.commit()


def masked_phone(phone: str) -> str:
    """How an erased person appears in the log: never the number the erasure removed, only its last digits."""
    return f"person …{phone[-2:]}"
