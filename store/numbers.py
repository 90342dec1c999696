"""The account's phone numbers, the agent bound to each, and the inbound calls they received."""

from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.agent import AgentConfig
from store import queries
from store.models import INBOUND_IN_PROGRESS, Base, InboundCallRow, PhoneNumberRow, utcnow


def _insert(session: AsyncSession, model: type[Base]):
    table = cast(Table, model.__table__)
    if session.get_bind().dialect.name == "postgresql":
        return postgres_insert(table)
    return sqlite_insert(table)


async def upsert_number(session: AsyncSession, number: str, twilio_sid: str = "", friendly_name: str = "") -> None:
    """Add the number or refresh its Twilio sid and name; its agent binding is kept."""
    insert = _insert(session, PhoneNumberRow).values(
        number=number, twilio_sid=twilio_sid, friendly_name=friendly_name, agent_name=None, updated_at=utcnow()
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["number"],
            set_={
                "twilio_sid": insert.excluded.twilio_sid,
                "friendly_name": insert.excluded.friendly_name,
                "updated_at": insert.excluded.updated_at,
            },
        )
    )


async def get_number(session: AsyncSession, number: str) -> PhoneNumberRow | None:
    return await session.get(PhoneNumberRow, number, populate_existing=True)


async def list_numbers(session: AsyncSession) -> list[PhoneNumberRow]:
    """Every known number, in number order."""
    result = await session.execute(select(PhoneNumberRow).order_by(PhoneNumberRow.number))
    return list(result.scalars())


async def assign_agent(session: AsyncSession, number: str, agent_name: str | None) -> bool:
    """Bind ``agent_name`` to the number (``None`` unbinds). False when the number is unknown."""
    result = await session.execute(
        update(PhoneNumberRow).where(PhoneNumberRow.number == number).values(agent_name=agent_name, updated_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def agent_for_number(session: AsyncSession, number: str) -> AgentConfig | None:
    """The active agent bound to the number; None for an unknown number, no agent, or an inactive one."""
    row = await get_number(session, number)
    if row is None or not row.agent_name:
        return None
    agent = await queries.get_agent(session, row.agent_name)
    if agent is None or not agent.active:
        return None
    return agent


async def record_inbound_call(
    session: AsyncSession,
    call_sid: str,
    to_number: str,
    from_number: str,
    agent_name: str,
    status: str = INBOUND_IN_PROGRESS,
) -> None:
    """Record that a call came in. Idempotent on the CallSid: a repeat changes nothing."""
    await session.execute(
        _insert(session, InboundCallRow)
        .values(
            call_sid=call_sid,
            to_number=to_number,
            from_number=from_number,
            agent_name=agent_name,
            status=status,
            started_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["call_sid"])
    )


async def finish_inbound_call(
    session: AsyncSession, call_sid: str, status: str, duration_seconds: float | None
) -> None:
    """Record the call's end. Idempotent: the first end recorded stays; later ones change nothing."""
    await session.execute(
        update(InboundCallRow)
        .where(InboundCallRow.call_sid == call_sid, InboundCallRow.ended_at.is_(None))
        .values(status=status, duration_seconds=duration_seconds, ended_at=utcnow())
    )


async def get_inbound_call(session: AsyncSession, call_sid: str) -> InboundCallRow | None:
    return await session.get(InboundCallRow, call_sid, populate_existing=True)
