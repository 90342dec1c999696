"""The account's phone numbers, the agent bound to each, and the inbound calls they received."""

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.agent import AgentConfig
from store import queries
from store.models import DEFAULT_ORG_ID, INBOUND_IN_PROGRESS, InboundCallRow, PhoneNumberRow, utcnow


async def upsert_number(
    session: AsyncSession,
    number: str,
    twilio_sid: str = "",
    friendly_name: str = "",
    org_id: str = DEFAULT_ORG_ID,
) -> None:
    """Add the number to ``org_id`` or refresh its Twilio sid and name. A number that changes organization
    loses its agent binding (that agent belongs to the old organization); otherwise the binding is kept."""
    insert = queries.dialect_insert(session, PhoneNumberRow).values(
        number=number,
        org_id=org_id,
        twilio_sid=twilio_sid,
        friendly_name=friendly_name,
        agent_name=None,
        updated_at=utcnow(),
    )
    same_org = PhoneNumberRow.__table__.c.org_id == insert.excluded.org_id
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["number"],
            set_={
                "twilio_sid": insert.excluded.twilio_sid,
                "friendly_name": insert.excluded.friendly_name,
                "agent_name": case((same_org, PhoneNumberRow.__table__.c.agent_name), else_=None),
                "org_id": insert.excluded.org_id,
                "updated_at": insert.excluded.updated_at,
            },
        )
    )


async def get_number(session: AsyncSession, number: str, org_id: str | None = None) -> PhoneNumberRow | None:
    """The number; with ``org_id``, only if that organization owns it."""
    row = await session.get(PhoneNumberRow, number, populate_existing=True)
    if row is None or (org_id is not None and row.org_id != org_id):
        return None
    return row


async def list_numbers(session: AsyncSession, org_id: str | None = None) -> list[PhoneNumberRow]:
    """Every known number (of ``org_id``, when given), in number order."""
    stmt = select(PhoneNumberRow).order_by(PhoneNumberRow.number)
    if org_id is not None:
        stmt = stmt.where(PhoneNumberRow.org_id == org_id)
    return list((await session.execute(stmt.execution_options(populate_existing=True))).scalars())


async def assign_agent(
    session: AsyncSession, number: str, agent_name: str | None, org_id: str = DEFAULT_ORG_ID
) -> bool:
    """Bind the organization's ``agent_name`` to its number (``None`` unbinds). False when it has no such number."""
    result = await session.execute(
        update(PhoneNumberRow)
        .where(PhoneNumberRow.number == number, PhoneNumberRow.org_id == org_id)
        .values(agent_name=agent_name, updated_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def agent_for_number(session: AsyncSession, number: str) -> AgentConfig | None:
    """The active agent bound to the number (an agent of the number's organization); None for an unknown
    number, no agent, or an inactive one."""
    row = await get_number(session, number)
    if row is None or not row.agent_name:
        return None
    agent = await queries.get_agent(session, row.agent_name, row.org_id)
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
    *,
    kind: str = "phone",
    org_id: str | None = None,
) -> None:
    """Record that a call came in, for the organization that owns the dialled number (or ``org_id``, a dashboard
    call's, which dialled no number). Idempotent on the CallSid: a repeat changes nothing."""
    if org_id is None:
        number = await get_number(session, to_number)
        org_id = number.org_id if number is not None else DEFAULT_ORG_ID
    await session.execute(
        queries.dialect_insert(session, InboundCallRow)
        .values(
            call_sid=call_sid,
            org_id=org_id,
            kind=kind,
            to_number=to_number,
            from_number=from_number,
            agent_name=agent_name,
            status=status,
            started_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["call_sid"])
    )


async def finish_inbound_call(
    session: AsyncSession,
    call_sid: str,
    status: str,
    duration_seconds: float | None,
    *,
    outcome: str | None = None,
    disposition: str | None = None,
) -> None:
    """Record the call's end and what it came to. Idempotent: the first end recorded stays; later ones
    change nothing."""
    await session.execute(
        update(InboundCallRow)
        .where(InboundCallRow.call_sid == call_sid, InboundCallRow.ended_at.is_(None))
        .values(
            status=status,
            duration_seconds=duration_seconds,
            ended_at=utcnow(),
            outcome=outcome,
            disposition=disposition,
        )
    )


async def get_inbound_call(session: AsyncSession, call_sid: str) -> InboundCallRow | None:
    return await session.get(InboundCallRow, call_sid, populate_existing=True)
