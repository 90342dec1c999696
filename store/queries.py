"""Every read and write of the campaign store: activities, the API and the CLI go through here.

Transactions belong to the caller: no function here commits, so several calls can be made atomic
together. Open a session, call, then ``await session.commit()``::

    async with get_session_factory()() as session:
        row, created = await begin_attempt(session, key, campaign_id, external_id, attempt, carrier)
        await session.commit()

The writes an activity may retry (``create_campaign``, ``begin_attempt``, ``finish_attempt``,
``record_callback``, ``record_outcome``, ``cancel_undispatched``, ``claim_next_contacts`` (per claim
key), ``save_agent``, ``record_note``, ``record_information``, ``append_transcript``) are idempotent:
repeating one after a commit changes nothing. Conflicts are resolved in SQL (``ON CONFLICT``, unique
constraints, ``FOR UPDATE SKIP LOCKED`` on Postgres), so they are also safe between concurrent workers.
"""

from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Result,
    Row,
    Table,
    case,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.agent import AgentConfig, InformationCategory, SharedInformation, TranscriptSegment
from schemas.calls import DialResult
from schemas.campaign import CampaignSettings
from schemas.causes import CauseClass
from schemas.contact import Contact, ContactRef
from schemas.imports import ClaimedPage
from schemas.outcomes import CallOutcome, FinalOutcome
from schemas.workflow_io import CampaignStatus
from store import caller_ids, knowledge
from store.models import (
    ATTEMPT_DIALLING,
    ATTEMPT_FINISHED,
    CALLBACK_CANCELLED,
    CALLBACK_DONE,
    CALLBACK_REPLACED,
    CALLBACK_SCHEDULED,
    CONTACT_ACTIVE,
    CONTACT_CANCELLED,
    CONTACT_FINISHED,
    CONTACT_PENDING,
    DEFAULT_ORG_ID,
    AgentRow,
    AttemptRow,
    Base,
    CallbackRow,
    CampaignRow,
    ContactRow,
    DepartmentRow,
    HttpToolRow,
    NoteRow,
    SharedInformationRow,
    TranscriptSegmentRow,
    as_utc,
    utcnow,
)

NamedDefinition = TypeVar("NamedDefinition", DepartmentRow, HttpToolRow)

CANCELLED_BEFORE_DIAL = "campaign cancelled before the contact was dialled"


class CampaignNotFoundError(LookupError):
    def __init__(self, campaign_id: str) -> None:
        super().__init__(f"no campaign {campaign_id!r}")
        self.campaign_id = campaign_id


class AttemptNotFoundError(LookupError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no call attempt with idempotency key {key!r}: begin_attempt was never called")
        self.key = key


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def dialect_insert(session: AsyncSession, model: type[Base]) -> PostgresInsert | SqliteInsert:
    """An INSERT that knows ``ON CONFLICT``; both dialects spell it the same way."""
    table = _table(model)
    if session.get_bind().dialect.name == "postgresql":
        return postgres_insert(table)
    return sqlite_insert(table)


def rowcount(result: Result[Any]) -> int:
    return cast(CursorResult[Any], result).rowcount


async def save_named_definition(
    session: AsyncSession, row_class: type[NamedDefinition], org_id: str, name: str, definition: dict[str, Any]
) -> NamedDefinition:
    """Create an organization's named definition (a department, an HTTP tool), or replace the one with its
    name: the API saves by name, so a PUT of an existing name is an edit, not a conflict."""
    row = await session.get(row_class, (org_id, name))
    if row is None:
        row = row_class(org_id=org_id, name=name, definition=definition)
        session.add(row)
    else:
        row.definition = definition
        row.updated_at = utcnow()
    await session.flush()
    return row


# ---- campaigns ------------------------------------------------------------------------------------


async def create_campaign(
    session: AsyncSession,
    campaign_id: str,
    name: str,
    settings: CampaignSettings,
    status: CampaignStatus = CampaignStatus.RUNNING,
    *,
    org_id: str = DEFAULT_ORG_ID,
    agent_name: str | None = None,
) -> None:
    """Insert a campaign. Idempotent: an existing campaign with this id is left exactly as it is."""
    now = utcnow()
    stmt = (
        dialect_insert(session, CampaignRow)
        .values(
            id=campaign_id,
            org_id=org_id,
            agent_name=agent_name,
            name=name,
            status=status.value,
            settings=settings.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    await session.execute(stmt)


async def get_campaign(session: AsyncSession, campaign_id: str, org_id: str | None = None) -> CampaignRow | None:
    """The campaign; with ``org_id``, only if that organization owns it (anything else is "not found")."""
    row = await session.get(CampaignRow, campaign_id, populate_existing=True)
    if row is None or (org_id is not None and row.org_id != org_id):
        return None
    return row


async def list_campaigns(session: AsyncSession, org_id: str | None = None) -> list[CampaignRow]:
    """All campaigns (of ``org_id``, when given), oldest first."""
    stmt = select(CampaignRow).order_by(CampaignRow.created_at, CampaignRow.id)
    if org_id is not None:
        stmt = stmt.where(CampaignRow.org_id == org_id)
    return list((await session.scalars(stmt.execution_options(populate_existing=True))).all())


async def set_campaign_status(
    session: AsyncSession,
    campaign_id: str,
    status: CampaignStatus,
    *,
    pause_reason: str = "",
    tripped_by: list[str] | None = None,
) -> None:
    """Raises :class:`CampaignNotFoundError` for an unknown id. ``pause_reason`` (and the attempts that
    tripped the breaker) stay with a paused campaign; any other status clears them."""
    paused = status == CampaignStatus.PAUSED
    result = await session.execute(
        update(CampaignRow)
        .where(CampaignRow.id == campaign_id)
        .values(
            status=status.value,
            pause_reason=pause_reason if paused else "",
            tripped_by=(tripped_by or None) if paused else None,
            updated_at=utcnow(),
        )
    )
    if rowcount(result) == 0:
        raise CampaignNotFoundError(campaign_id)


# ---- contacts -------------------------------------------------------------------------------------


async def count_contacts(session: AsyncSession, campaign_id: str) -> int:
    stmt = select(func.count()).select_from(ContactRow).where(ContactRow.campaign_id == campaign_id)
    return await session.scalar(stmt) or 0


def _undispatched(campaign_id: str) -> list[ColumnElement[bool]]:
    return [
        ContactRow.campaign_id == campaign_id,
        ContactRow.dispatched_at.is_(None),
        ContactRow.status == CONTACT_PENDING,
    ]


# What a claim returns of each contact: the fields of ``Contact``.
_CLAIMED_COLUMNS = (
    ContactRow.id,
    ContactRow.external_id,
    ContactRow.name,
    ContactRow.phone,
    ContactRow.extension,
    ContactRow.timezone,
    ContactRow.zones,
    ContactRow.region,
    ContactRow.priority,
    ContactRow.attributes,
)


async def claim_next_contacts(session: AsyncSession, campaign_id: str, limit: int, claim_key: str) -> ClaimedPage:
    """Mark up to ``limit`` undispatched contacts claimed by ``claim_key`` and return them, highest priority first.

    Idempotent per ``claim_key``: if contacts were already claimed with this key (the claim committed,
    then its worker died before Temporal recorded the result), those same contacts are returned and
    nothing new is claimed, so a retried claim never leaves a page claimed with no workflow. A claim
    that found nothing claims afresh when retried. No contact is ever returned under two keys.

    On Postgres the SELECT locks the rows it picks and skips those another claimer holds (``FOR
    UPDATE SKIP LOCKED``); on SQLite the transaction holds the database's write lock from its start.
    It takes two statements: as one ``UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP
    LOCKED)``, Postgres may re-run the subquery per row and claim far more than ``limit``. Cancelled
    contacts are never claimed.
    """
    order = (ContactRow.priority.desc(), ContactRow.seq, ContactRow.id)
    earlier = await session.execute(select(*_CLAIMED_COLUMNS).where(ContactRow.claim_key == claim_key).order_by(*order))
    rows: list[Row[Any]] = list(earlier.all())
    if not rows:
        chosen = await session.scalars(
            select(ContactRow.id)
            .where(*_undispatched(campaign_id))
            .order_by(*order)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        position = {contact_id: index for index, contact_id in enumerate(chosen)}
        if position:
            now = utcnow()
            claimed = await session.execute(
                update(ContactRow)
                .where(ContactRow.id.in_(position))
                .values(dispatched_at=now, claim_key=claim_key, status=CONTACT_ACTIVE, updated_at=now)
                .returning(*_CLAIMED_COLUMNS)
                .execution_options(synchronize_session=False)
            )
            rows = sorted(claimed.all(), key=lambda row: position[row.id])
    remaining = await session.scalar(select(func.count()).select_from(ContactRow).where(*_undispatched(campaign_id)))
    return ClaimedPage(contacts=[_reference(row) for row in rows], remaining=remaining or 0)


async def cancel_undispatched(session: AsyncSession, campaign_id: str) -> int:
    """Cancel every contact the campaign never dispatched; returns how many this call cancelled.

    Each gets the final outcome ``cancelled``, so that :func:`outcome_counts` accounts for the whole
    list. Idempotent: a second call cancels nothing.
    """
    now = utcnow()
    result = await session.execute(
        update(ContactRow)
        .where(*_undispatched(campaign_id))
        .values(
            status=CONTACT_CANCELLED,
            final_outcome=FinalOutcome.CANCELLED.value,
            final_reason=CANCELLED_BEFORE_DIAL,
            finished_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


async def count_pending(session: AsyncSession, campaign_id: str) -> int:
    """Contacts the campaign has not claimed yet (cancelled ones excluded)."""
    return await session.scalar(select(func.count()).select_from(ContactRow).where(*_undispatched(campaign_id))) or 0


async def claimed_unfinished_contacts(session: AsyncSession, campaign_id: str) -> list[ContactRef]:
    """Contacts the campaign claimed that have no final outcome yet, in list order: each must have a
    running contact workflow, which is what the campaign's reconciliation checks."""
    stmt = (
        select(*_CLAIMED_COLUMNS)
        .where(ContactRow.campaign_id == campaign_id, ContactRow.status == CONTACT_ACTIVE)
        .order_by(ContactRow.seq, ContactRow.id)
    )
    return [_reference(row) for row in (await session.execute(stmt)).all()]


async def load_contact(session: AsyncSession, campaign_id: str, external_id: str) -> Contact | None:
    """The whole contact, for its own workflow; None when it is gone (its person erased)."""
    stmt = select(*_CLAIMED_COLUMNS).where(ContactRow.campaign_id == campaign_id, ContactRow.external_id == external_id)
    row = (await session.execute(stmt)).one_or_none()
    return Contact.model_validate(row, from_attributes=True) if row is not None else None


def _reference(row: Row[Any]) -> ContactRef:
    """What the campaign workflow gets of a claimed contact: nothing that names or reaches the person."""
    return ContactRef(
        external_id=row.external_id, priority=row.priority, zones=row.zones or [row.timezone], region=row.region
    )


async def unfinished_dispatched_external_ids(session: AsyncSession, campaign_id: str) -> list[str]:
    """Contacts the campaign dispatched that have no final outcome yet, in list order.

    What a recovering campaign must look after: their contact workflows were (or should have been)
    started, and the campaign still owes them a slot or a result.
    """
    stmt = (
        select(ContactRow.external_id)
        .where(ContactRow.campaign_id == campaign_id, ContactRow.status == CONTACT_ACTIVE)
        .order_by(ContactRow.seq, ContactRow.id)
    )
    return list((await session.scalars(stmt)).all())


# ---- call attempts --------------------------------------------------------------------------------


async def _attempt_by_key(session: AsyncSession, key: str) -> AttemptRow | None:
    stmt = select(AttemptRow).where(AttemptRow.idempotency_key == key).execution_options(populate_existing=True)
    return (await session.scalars(stmt)).one_or_none()


async def record_call_id(session: AsyncSession, key: str, call_id: str) -> None:
    """Note the carrier's id of the attempt's call while it is still on, so a retry can follow that call."""
    await session.execute(
        update(AttemptRow)
        .where(AttemptRow.idempotency_key == key, AttemptRow.state == ATTEMPT_DIALLING)
        .values(carrier_call_id=call_id)
    )


async def attempt_exists(session: AsyncSession, key: str) -> bool:
    return await _attempt_by_key(session, key) is not None


async def begin_attempt(
    session: AsyncSession,
    key: str,
    campaign_id: str,
    external_id: str,
    attempt: int,
    carrier: str,
    *,
    org_id: str | None = None,
    phone: str | None = None,
    started_at: datetime | None = None,
) -> tuple[AttemptRow, bool]:
    """Record that dial ``key`` is starting; ``True`` if this call created the record.

    ``False`` means the key was already there (a retried dial activity, or a concurrent one): the
    row is returned untouched, and the caller must not dial again but look at its state instead.
    Race-safe: the insert is ``ON CONFLICT DO NOTHING`` on the unique key, so losing the race to a
    concurrent begin leaves nothing to roll back; the winner's row is then read.
    """
    # One statement on the common path (a new key): the dial path runs this once per call, and on
    # SQLite every statement is a thread hop made while holding the database's write lock.
    dialect_insert = postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        dialect_insert(AttemptRow)
        .values(
            idempotency_key=key,
            campaign_id=campaign_id,
            external_id=external_id,
            attempt=attempt,
            carrier=carrier,
            org_id=org_id,
            phone=phone,
            state=ATTEMPT_DIALLING,
            started_at=started_at or utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(AttemptRow)
    )
    row = (await session.scalars(stmt)).one_or_none()
    if row is not None:
        return row, True
    existing = await _attempt_by_key(session, key)
    if existing is None:
        raise AttemptNotFoundError(key)  # not reachable: the insert conflicted with this very key
    return existing, False


async def finish_attempt(session: AsyncSession, key: str, result: DialResult) -> None:
    """Store the result of dial ``key`` and count the attempt on its contact.

    Only the first call has an effect: a finished attempt keeps its first result, and the contact's
    ``attempts`` counter moves once. Raises :class:`AttemptNotFoundError` if the key was never begun.
    """
    now = utcnow()
    values: dict[str, Any] = {
        "state": ATTEMPT_FINISHED,
        "ended_at": now,
        "network_outcome": result.outcome.value,
        "answered": result.answered,
        "duration_seconds": result.duration_seconds,
        "carrier_call_id": result.carrier_call_id,
        "detail": result.detail,
        "dialled_at": result.dialled_at,
        "network_status": result.network_status,
        "status_code": result.status_code,
        "error_code": result.error_code,
        "cause": result.cause.value if result.cause is not None else None,
        "answered_by": result.answered_by,
    }
    if result.carrier:
        values["carrier"] = result.carrier
    finished = await session.execute(
        update(AttemptRow)
        .where(AttemptRow.idempotency_key == key, AttemptRow.state == ATTEMPT_DIALLING)
        .values(**values)
        .returning(AttemptRow.campaign_id, AttemptRow.external_id, AttemptRow.caller_id)
    )
    contact = finished.one_or_none()
    if contact is None:
        if await _attempt_by_key(session, key) is None:
            raise AttemptNotFoundError(key)
        return
    await session.execute(
        update(ContactRow)
        .where(ContactRow.campaign_id == contact.campaign_id, ContactRow.external_id == contact.external_id)
        .values(attempts=ContactRow.attempts + 1, updated_at=now)
    )
    if contact.caller_id is not None:
        answered = result.answered and not result.answered_by_machine  # a spam label keeps people from picking up
        await caller_ids.count_finished_dial(session, contact.caller_id, answered=answered, now=now)


def attempt_result(row: AttemptRow) -> DialResult | None:
    """The result recorded by :func:`finish_attempt`, or ``None`` while the dial is unfinished."""
    if row.state != ATTEMPT_FINISHED or row.network_outcome is None:
        return None
    return DialResult(
        outcome=CallOutcome(row.network_outcome),
        answered=row.answered,
        dialled_at=row.dialled_at,
        duration_seconds=row.duration_seconds,
        carrier=row.carrier,
        carrier_call_id=row.carrier_call_id,
        detail=row.detail,
        network_status=row.network_status,
        status_code=row.status_code,
        error_code=row.error_code,
        cause=CauseClass(row.cause) if row.cause else None,
        answered_by=row.answered_by,
    )


async def attempts_for(session: AsyncSession, campaign_id: str, external_id: str) -> list[AttemptRow]:
    """A contact's dials, first attempt first."""
    stmt = (
        select(AttemptRow)
        .where(AttemptRow.campaign_id == campaign_id, AttemptRow.external_id == external_id)
        .order_by(AttemptRow.attempt, AttemptRow.id)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


# ---- callbacks and outcomes -----------------------------------------------------------------------


async def record_callback(
    session: AsyncSession,
    campaign_id: str,
    external_id: str,
    requested_for: datetime,
    scheduled_for: datetime,
    reason: str,
) -> None:
    """Book a callback; the contact's earlier scheduled one, if any, becomes ``replaced``.

    Idempotent: if the contact's scheduled callback is already for ``scheduled_for``, nothing changes.
    """
    of_contact = (CallbackRow.campaign_id == campaign_id, CallbackRow.external_id == external_id)
    current = await session.scalars(
        select(CallbackRow.scheduled_for).where(*of_contact, CallbackRow.status == CALLBACK_SCHEDULED)
    )
    if as_utc(scheduled_for) in current.all():
        return
    await session.execute(
        update(CallbackRow)
        .where(*of_contact, CallbackRow.status == CALLBACK_SCHEDULED)
        .values(status=CALLBACK_REPLACED)
    )
    session.add(
        CallbackRow(
            campaign_id=campaign_id,
            external_id=external_id,
            requested_for=requested_for,
            scheduled_for=scheduled_for,
            reason=reason,
            status=CALLBACK_SCHEDULED,
            created_at=utcnow(),
        )
    )
    await session.flush()


async def callbacks_for(session: AsyncSession, campaign_id: str, external_id: str) -> list[CallbackRow]:
    """A contact's callbacks in booking order, whatever their status."""
    stmt = (
        select(CallbackRow)
        .where(CallbackRow.campaign_id == campaign_id, CallbackRow.external_id == external_id)
        .order_by(CallbackRow.created_at, CallbackRow.id)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def record_outcome(
    session: AsyncSession,
    campaign_id: str,
    external_id: str,
    final_outcome: FinalOutcome,
    reason: str,
) -> bool:
    """Record how a contact ended on its contact row, and close its scheduled callbacks.

    The contact becomes ``cancelled`` for :attr:`FinalOutcome.CANCELLED`, else ``finished``; its
    scheduled callback becomes ``cancelled`` or ``done`` likewise. Idempotent: repeating the call
    keeps the original ``finished_at``; a different outcome overwrites the first and re-stamps it.
    Returns whether the campaign has such a contact.
    """
    now = utcnow()
    cancelled = final_outcome is FinalOutcome.CANCELLED
    result = await session.execute(
        update(ContactRow)
        .where(ContactRow.campaign_id == campaign_id, ContactRow.external_id == external_id)
        .values(
            status=CONTACT_CANCELLED if cancelled else CONTACT_FINISHED,
            final_outcome=final_outcome.value,
            final_reason=reason,
            finished_at=case(
                (
                    (ContactRow.final_outcome == final_outcome.value) & ContactRow.finished_at.is_not(None),
                    ContactRow.finished_at,
                ),
                else_=now,
            ),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(CallbackRow)
        .where(
            CallbackRow.campaign_id == campaign_id,
            CallbackRow.external_id == external_id,
            CallbackRow.status == CALLBACK_SCHEDULED,
        )
        .values(status=CALLBACK_CANCELLED if cancelled else CALLBACK_DONE)
    )
    return rowcount(result) > 0


async def outcome_counts(session: AsyncSession, campaign_id: str) -> dict[str, int]:
    """Final outcome -> number of contacts, for the outcomes recorded so far."""
    stmt = (
        select(ContactRow.final_outcome, func.count())
        .where(ContactRow.campaign_id == campaign_id, ContactRow.final_outcome.is_not(None))
        .group_by(ContactRow.final_outcome)
    )
    return {outcome: count for outcome, count in (await session.execute(stmt)).all()}


async def call_outcome_counts(session: AsyncSession, campaign_id: str) -> dict[str, int]:
    """Call outcome -> number of finished attempts: every dial the campaign made, by what it came to."""
    stmt = (
        select(AttemptRow.call_outcome, func.count())
        .where(AttemptRow.campaign_id == campaign_id, AttemptRow.state == ATTEMPT_FINISHED)
        .group_by(AttemptRow.call_outcome)
    )
    return {outcome: count for outcome, count in (await session.execute(stmt)).all()}


async def dialling_count(session: AsyncSession, campaign_id: str) -> int:
    """Attempts of the campaign not ended yet."""
    stmt = (
        select(func.count())
        .select_from(AttemptRow)
        .where(AttemptRow.campaign_id == campaign_id, AttemptRow.state == ATTEMPT_DIALLING)
    )
    return await session.scalar(stmt) or 0


async def dialling_attempts(
    session: AsyncSession, campaign_id: str, started_before: datetime | None = None
) -> list[tuple[AttemptRow, Contact]]:
    """Attempts of the campaign still ``dialling`` (started before ``started_before``, if given), with
    their contact: what the sweeper recovers through the carrier once nobody is waiting for them."""
    stmt = (
        select(AttemptRow, *_CLAIMED_COLUMNS)
        .join(
            ContactRow,
            (ContactRow.campaign_id == AttemptRow.campaign_id) & (ContactRow.external_id == AttemptRow.external_id),
        )
        .where(AttemptRow.campaign_id == campaign_id, AttemptRow.state == ATTEMPT_DIALLING)
        .order_by(AttemptRow.id)
        .execution_options(populate_existing=True)
    )
    if started_before is not None:
        stmt = stmt.where(AttemptRow.started_at < started_before)
    rows = (await session.execute(stmt)).all()
    return [(row[0], Contact.model_validate(row, from_attributes=True)) for row in rows]


# ---- agents ---------------------------------------------------------------------------------------


async def save_agent(session: AsyncSession, config: AgentConfig, org_id: str = DEFAULT_ORG_ID) -> None:
    """Insert the organization's agent ``config.name``, or replace its config and ``active`` flag (an upsert).

    A replaced agent keeps its ``created_at``; ``updated_at`` is re-stamped.
    """
    now = utcnow()
    insert = dialect_insert(session, AgentRow).values(
        org_id=org_id,
        name=config.name,
        config=config.model_dump(mode="json"),
        active=config.active,
        created_at=now,
        updated_at=now,
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["org_id", "name"],
            set_={
                "config": insert.excluded.config,
                "active": insert.excluded.active,
                "updated_at": insert.excluded.updated_at,
            },
        )
    )


async def get_agent(session: AsyncSession, name: str, org_id: str = DEFAULT_ORG_ID) -> AgentConfig | None:
    row = await session.get(AgentRow, (org_id, name), populate_existing=True)
    return None if row is None else row.agent_config


async def list_agents(session: AsyncSession, org_id: str = DEFAULT_ORG_ID) -> list[AgentConfig]:
    """The organization's agents, active or not, by name."""
    stmt = (
        select(AgentRow)
        .where(AgentRow.org_id == org_id)
        .order_by(AgentRow.name)
        .execution_options(populate_existing=True)
    )
    return [row.agent_config for row in (await session.scalars(stmt)).all()]


async def delete_agent(session: AsyncSession, name: str, org_id: str = DEFAULT_ORG_ID) -> bool:
    """``True`` if this call deleted the agent, ``False`` if the organization had none by that name. Its
    knowledge base goes with it."""
    await knowledge.delete_agent_documents(session, org_id, name)
    result = await session.execute(
        delete(AgentRow)
        .where(AgentRow.org_id == org_id, AgentRow.name == name)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) > 0


# ---- what the agent records during a call ---------------------------------------------------------


async def record_note(
    session: AsyncSession, key: str, campaign_id: str, external_id: str, attempt: int, note: str
) -> None:
    """Store a note the agent took. Idempotent on ``key``: a second call with it changes nothing."""
    await session.execute(
        dialect_insert(session, NoteRow)
        .values(
            idempotency_key=key,
            campaign_id=campaign_id,
            external_id=external_id,
            attempt=attempt,
            note=note,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


async def notes_for(session: AsyncSession, campaign_id: str, external_id: str) -> list[str]:
    """A contact's notes over all its attempts, in the order they were taken."""
    stmt = (
        select(NoteRow.note)
        .where(NoteRow.campaign_id == campaign_id, NoteRow.external_id == external_id)
        .order_by(NoteRow.id)
    )
    return list((await session.scalars(stmt)).all())


async def record_information(
    session: AsyncSession,
    key: str,
    campaign_id: str,
    external_id: str,
    attempt: int,
    category: InformationCategory,
    information: str,
) -> None:
    """Store something the callee shared. Idempotent on ``key``: a second call with it changes nothing.

    ``information`` is checked against :class:`SharedInformation` first (pydantic ``ValidationError``),
    so that :func:`information_for` can always read it back.
    """
    shared = SharedInformation(category=category, information=information)
    await session.execute(
        dialect_insert(session, SharedInformationRow)
        .values(
            idempotency_key=key,
            campaign_id=campaign_id,
            external_id=external_id,
            attempt=attempt,
            category=shared.category.value,
            information=shared.information,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


async def information_for(
    session: AsyncSession, campaign_id: str, external_id: str, category: InformationCategory | None = None
) -> list[SharedInformation]:
    """What a contact shared over all its attempts, in the order it was recorded; ``shared_at`` is
    when it was recorded. ``category`` limits it to one category."""
    stmt = select(SharedInformationRow).where(
        SharedInformationRow.campaign_id == campaign_id, SharedInformationRow.external_id == external_id
    )
    if category is not None:
        stmt = stmt.where(SharedInformationRow.category == InformationCategory(category).value)
    rows = await session.scalars(stmt.order_by(SharedInformationRow.id).execution_options(populate_existing=True))
    return [
        SharedInformation(
            category=InformationCategory(row.category), information=row.information, shared_at=row.created_at
        )
        for row in rows.all()
    ]


async def append_transcript(
    session: AsyncSession,
    campaign_id: str,
    external_id: str,
    attempt: int,
    first_seq: int,
    segments: list[TranscriptSegment],
) -> None:
    """Store a batch of an attempt's transcript: ``segments[i]`` gets ``seq`` ``first_seq + i``.

    Idempotent: a segment whose ``(campaign_id, external_id, attempt, seq)`` is already stored is
    skipped (``ON CONFLICT DO NOTHING``), so a retried batch never duplicates; the first write wins.
    """
    if not segments:
        return
    rows = [
        {
            "campaign_id": campaign_id,
            "external_id": external_id,
            "attempt": attempt,
            "seq": first_seq + offset,
            "speaker": segment.speaker,
            "text": segment.text,
            "started_at": segment.started_at,
            "ended_at": segment.ended_at,
        }
        for offset, segment in enumerate(segments)
    ]
    await session.execute(
        dialect_insert(session, TranscriptSegmentRow).on_conflict_do_nothing(
            index_elements=["campaign_id", "external_id", "attempt", "seq"]
        ),
        rows,
    )


async def transcript_for(
    session: AsyncSession, campaign_id: str, external_id: str, attempt: int | None = None
) -> list[TranscriptSegment]:
    """A contact's transcript ordered by attempt, then ``seq``; ``attempt`` limits it to one call."""
    stmt = select(TranscriptSegmentRow).where(
        TranscriptSegmentRow.campaign_id == campaign_id, TranscriptSegmentRow.external_id == external_id
    )
    if attempt is not None:
        stmt = stmt.where(TranscriptSegmentRow.attempt == attempt)
    stmt = stmt.order_by(TranscriptSegmentRow.attempt, TranscriptSegmentRow.seq)
    rows = await session.scalars(stmt.execution_options(populate_existing=True))
    return [
        TranscriptSegment(speaker=row.speaker, text=row.text, started_at=row.started_at, ended_at=row.ended_at)
        for row in rows.all()
    ]


async def record_call_outcome(session: AsyncSession, key: str, outcome: CallOutcome) -> bool:
    """Put the call's decided outcome on attempt ``key``; ``False`` if there is no such attempt (a dial the
    do-not-call check stopped, or a number refused before any call)."""
    done = await session.execute(
        update(AttemptRow).where(AttemptRow.idempotency_key == key).values(outcome=outcome.value)
    )
    return bool(rowcount(done))


async def record_attempt_disposition(session: AsyncSession, key: str, disposition: str, reason: str) -> bool:
    """Put the agent's disposition on attempt ``key`` (the latest one the agent recorded counts).

    ``False`` if there is no such attempt. Only this writes the disposition; :func:`finish_attempt`
    writes the network's facts, so neither overwrites the other whichever lands first.
    """
    done = await session.execute(
        update(AttemptRow)
        .where(AttemptRow.idempotency_key == key)
        .values(disposition=disposition, disposition_reason=reason)
    )
    return bool(rowcount(done))
