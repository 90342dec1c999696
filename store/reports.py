"""The API's read side: lists with filters, a call's records, and statistics, always within one organization.

Every function takes the caller's ``org_id`` and only ever returns that organization's rows. Campaign
rows carry the organization; what hangs off a campaign (contacts, attempts, the agent's records) is
reached through it. An incoming call's row carries its organization too, and so does, through that
row, the callback dial the caller asked for (stored under campaign ``inbound`` with the CallSid as
external id).
"""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar, get_args

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.agent import InformationCategory, SharedInformation
from schemas.api import CAMPAIGN_DRAFT, ContactCounts, Stats
from schemas.calls import outbound_call_id
from schemas.inbound import INBOUND_CAMPAIGN_ID
from store.models import (
    ATTEMPT_FINISHED,
    CONTACT_ACTIVE,
    CONTACT_CANCELLED,
    CONTACT_FINISHED,
    CONTACT_PENDING,
    AttemptRow,
    CallbackRow,
    CampaignRow,
    ContactRow,
    DoNotCallRow,
    InboundCallRow,
    NoteRow,
    SharedInformationRow,
    utcnow,
)

OUTBOUND = "outbound"
INBOUND = "inbound"
INBOUND_ANSWERED_STATUSES = ("completed", "in-progress")

Item = TypeVar("Item")
ContactKey = tuple[datetime, int]
"""A contact's place in its list: ``(updated_at, id)``."""
CallKey = tuple[datetime, str, int, str, str]
"""A call's place in its list: ``(started_at, external_id, attempt, campaign_id, direction)``."""


@dataclass(frozen=True)
class Page(Generic[Item]):
    """One page of a list: ``total`` is None when it was not counted, ``next_key`` None on the last page."""

    items: list[Item]
    total: int | None
    next_key: tuple[Any, ...] | None


def _after(order: Sequence[tuple[ColumnElement[Any], bool]], key: Sequence[Any]) -> ColumnElement[bool]:
    """The rows that come after ``key`` in ``order`` (column, descending), for keyset paging.

    Spelled ``(a < x) OR (a = x AND (b > y ...))`` rather than as a row-value comparison: the
    directions are mixed, and SQLite and Postgres then agree on this form only. The redundant bound
    ``a <= x`` in front is what lets either planner turn the first column into an index range.
    """
    (column, descending), value = order[-1], key[-1]
    condition: ColumnElement[bool] = column < value if descending else column > value
    for (column, descending), value in zip(reversed(order[:-1]), reversed(key[:-1]), strict=True):
        beyond = column < value if descending else column > value
        condition = or_(beyond, and_(column == value, condition))
    (first, descending), value = order[0], key[0]
    return and_(first <= value if descending else first >= value, condition)


def _sorted(stmt: Select[Any], order: Sequence[tuple[ColumnElement[Any], bool]]) -> Select[Any]:
    return stmt.order_by(*(column.desc() if descending else column.asc() for column, descending in order))


# ---- campaigns ------------------------------------------------------------------------------------


async def campaigns_page(
    session: AsyncSession, org_id: str, *, limit: int, offset: int
) -> tuple[list[CampaignRow], int]:
    """The organization's campaigns, newest first, and how many it has in all."""
    owned = CampaignRow.org_id == org_id
    stmt = (
        select(CampaignRow)
        .where(owned)
        .order_by(CampaignRow.created_at.desc(), CampaignRow.id.desc())
        .limit(limit)
        .offset(offset)
        .execution_options(populate_existing=True)
    )
    rows = list((await session.scalars(stmt)).all())
    total = await session.scalar(select(func.count()).select_from(CampaignRow).where(owned)) or 0
    return rows, total


async def mark_draft(session: AsyncSession, campaign_id: str) -> None:
    """A campaign stored but not started: no workflow runs for it until ``POST .../start``."""
    await session.execute(
        update(CampaignRow).where(CampaignRow.id == campaign_id).values(status=CAMPAIGN_DRAFT, updated_at=utcnow())
    )


async def move_status(session: AsyncSession, campaign_id: str, from_status: str, to_status: str) -> bool:
    """Set the campaign's status to ``to_status`` only if it is ``from_status``; False when it was not.

    The API records what it asked for (a draft started, a pause, a resume) this way: the campaign
    workflow itself only stores its cancelling and final states, and whichever write comes last
    must not undo a campaign that ended meanwhile.
    """
    result = await session.execute(
        update(CampaignRow)
        .where(CampaignRow.id == campaign_id, CampaignRow.status == from_status)
        .values(status=to_status, updated_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def tripping_calls(session: AsyncSession, campaigns: Sequence[CampaignRow]) -> dict[str, list[str]]:
    """Campaign id → the ids of the calls that tripped its circuit breaker (for paused campaigns that tripped)."""
    keys = {key: campaign.id for campaign in campaigns for key in campaign.tripped_by or []}
    if not keys:
        return {}
    found: dict[str, list[str]] = {}
    stmt = select(AttemptRow.idempotency_key, AttemptRow.campaign_id, AttemptRow.external_id, AttemptRow.attempt)
    for key, campaign_id, external_id, attempt in await session.execute(
        stmt.where(AttemptRow.idempotency_key.in_(keys))
    ):
        found.setdefault(keys[key], []).append(outbound_call_id(campaign_id, external_id, attempt))
    return found


@dataclass(frozen=True)
class ContactTally:
    """A campaign's contacts by state (``counts``) and by final outcome (``outcomes``): what its views show."""

    counts: ContactCounts
    outcomes: dict[str, int]


_STATUS_FIELDS = {
    CONTACT_PENDING: "pending",
    CONTACT_ACTIVE: "active",
    CONTACT_FINISHED: "finished",
    CONTACT_CANCELLED: "cancelled",
}


async def contact_tallies(session: AsyncSession, campaign_ids: Sequence[str]) -> dict[str, ContactTally]:
    """Each campaign's contacts by state and by final outcome (a campaign without contacts gets zeros).

    One GROUP BY over ``(status, final_outcome)``, which ``ix_contacts_campaign_tally`` covers: the database
    counts a 10,000-contact campaign from its index, and no contact row travels to Python.
    """
    tallies = {campaign_id: ContactTally(ContactCounts(), {}) for campaign_id in campaign_ids}
    if not campaign_ids:
        return tallies
    stmt = (
        select(ContactRow.campaign_id, ContactRow.status, ContactRow.final_outcome, func.count())
        .where(ContactRow.campaign_id.in_(campaign_ids))
        .group_by(ContactRow.campaign_id, ContactRow.status, ContactRow.final_outcome)
    )
    for campaign_id, status, outcome, count in (await session.execute(stmt)).all():
        tally = tallies[campaign_id]
        tally.counts.total += count
        if status in _STATUS_FIELDS:
            field = _STATUS_FIELDS[status]
            setattr(tally.counts, field, getattr(tally.counts, field) + count)
        if outcome is not None:
            tally.outcomes[outcome] = tally.outcomes.get(outcome, 0) + count
    return tallies


async def campaign_external_ids(session: AsyncSession, campaign_id: str) -> set[str]:
    """The campaign's contact ids, so an upload can name the rows it already has."""
    stmt = select(ContactRow.external_id).where(ContactRow.campaign_id == campaign_id)
    return set((await session.scalars(stmt)).all())


# ---- contacts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallFilter:
    """The filters of the contact and call lists; ``None`` leaves a filter out."""

    campaign_id: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    agent: str | None = None

    def conditions(
        self, campaign_id: ColumnElement[Any], outcome: ColumnElement[Any], at: ColumnElement[Any], agent: Any
    ) -> list[ColumnElement[bool]]:
        """The filters that are set, on these columns (``at`` is the one the dates bound)."""
        conditions: list[ColumnElement[bool]] = []
        if self.campaign_id is not None:
            conditions.append(campaign_id == self.campaign_id)
        if self.outcome is not None:
            conditions.append(outcome == self.outcome)
        if self.since is not None:
            conditions.append(at >= self.since)
        if self.until is not None:
            conditions.append(at < self.until)
        if self.agent is not None:
            conditions.append(agent == self.agent)
        return conditions


async def contacts_page(
    session: AsyncSession,
    org_id: str,
    where: CallFilter,
    *,
    limit: int,
    offset: int = 0,
    after: ContactKey | None = None,
    count: bool = True,
) -> Page[tuple[ContactRow, str | None]]:
    """The organization's contacts (with their campaign's agent), most recently changed first.

    ``outcome`` is the contact's final outcome; ``since``/``until`` bound its last change. ``after``
    continues past a contact's key; such a page carries no ``total``, since counting every matching row
    on every page is what made large lists slow, and neither does one asked for without (``count=False``).
    """
    conditions = [
        CampaignRow.org_id == org_id,
        *where.conditions(
            ContactRow.campaign_id, ContactRow.final_outcome, ContactRow.updated_at, CampaignRow.agent_name
        ),
    ]
    order = [(ContactRow.updated_at, True), (ContactRow.id, True)]
    keyset = [] if after is None else [_after(order, after)]
    joined = select(ContactRow, CampaignRow.agent_name).join(CampaignRow, CampaignRow.id == ContactRow.campaign_id)
    stmt = (
        _sorted(joined.where(*conditions, *keyset), order)
        .limit(limit + 1)
        .offset(offset)
        .execution_options(populate_existing=True)
    )
    rows = [(row, agent) for row, agent in (await session.execute(stmt)).all()]
    total = None
    if after is None and count:
        counted = (
            select(func.count()).select_from(ContactRow).join(CampaignRow, CampaignRow.id == ContactRow.campaign_id)
        )
        total = await session.scalar(counted.where(*conditions)) or 0
    last = rows[limit - 1][0] if len(rows) > limit else None
    return Page(rows[:limit], total, None if last is None else (last.updated_at, last.id))


# ---- calls ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallRecord:
    """One call, outbound (a dial of a contact) or inbound (an incoming call), as the lists show it."""

    direction: str
    campaign_id: str
    external_id: str
    attempt: int
    phone: str
    contact_name: str
    agent_name: str | None
    started_at: datetime
    ended_at: datetime | None
    state: str
    outcome: str | None
    disposition: str | None
    network_status: str
    status_code: int | None
    error_code: int | None
    cause: str | None
    answered_by: str
    answered: bool
    duration_seconds: float
    carrier: str
    caller_id: str | None
    kind: str = "phone"


def _dial_columns(phone: ColumnElement[Any], contact_name: ColumnElement[Any], agent_name: Any) -> Select[Any]:
    """The columns of a dial (an attempt row) in the calls list, given where its phone, name and agent come from."""
    return select(
        literal(OUTBOUND).label("direction"),
        AttemptRow.campaign_id.label("campaign_id"),
        AttemptRow.external_id.label("external_id"),
        AttemptRow.attempt.label("attempt"),
        phone.label("phone"),
        contact_name.label("contact_name"),
        agent_name.label("agent_name"),
        AttemptRow.started_at.label("started_at"),
        AttemptRow.ended_at.label("ended_at"),
        AttemptRow.state.label("state"),
        AttemptRow.call_outcome.label("outcome"),
        AttemptRow.disposition.label("disposition"),
        AttemptRow.network_status.label("network_status"),
        AttemptRow.status_code.label("status_code"),
        AttemptRow.error_code.label("error_code"),
        AttemptRow.cause.label("cause"),
        AttemptRow.answered_by.label("answered_by"),
        AttemptRow.answered.label("answered"),
        AttemptRow.duration_seconds.label("duration_seconds"),
        AttemptRow.carrier.label("carrier"),
        AttemptRow.caller_id.label("caller_id"),
        literal("phone").label("kind"),
    ).select_from(AttemptRow)


def _campaign_dials(org_id: str | ColumnElement[str]) -> Select[Any]:
    """Dials of the organization's campaigns. Inner joins to the campaign (one row per campaign): counting
    or summing a campaign's dials walks its attempts alone, where an outer join to both owners, filtered by
    either, joined every attempt twice."""
    return (
        _dial_columns(func.coalesce(ContactRow.phone, ""), func.coalesce(ContactRow.name, ""), CampaignRow.agent_name)
        .join(CampaignRow, and_(CampaignRow.id == AttemptRow.campaign_id, CampaignRow.org_id == org_id))
        .outerjoin(
            ContactRow,
            and_(ContactRow.campaign_id == AttemptRow.campaign_id, ContactRow.external_id == AttemptRow.external_id),
        )
    )


def _callback_dials(org_id: str | ColumnElement[str]) -> Select[Any]:
    """Callback dials of the organization's incoming calls (campaign ``inbound``, the CallSid as external id)."""
    return _dial_columns(InboundCallRow.from_number, literal(""), InboundCallRow.agent_name).join(
        InboundCallRow,
        and_(
            AttemptRow.campaign_id == INBOUND_CAMPAIGN_ID,
            InboundCallRow.call_sid == AttemptRow.external_id,
            InboundCallRow.org_id == org_id,
        ),
    )


def _call_sources(org_id: str | ColumnElement[str]) -> list[Select[Any]]:
    """Every kind of call the list shows, each a select with the same labelled columns: to be unioned."""
    return [_campaign_dials(org_id), _callback_dials(org_id), _inbound_calls(org_id)]


def _inbound_calls(org_id: str | ColumnElement[str]) -> Select[Any]:
    return select(
        literal(INBOUND).label("direction"),
        literal(INBOUND_CAMPAIGN_ID).label("campaign_id"),
        InboundCallRow.call_sid.label("external_id"),
        literal(1).label("attempt"),
        InboundCallRow.from_number.label("phone"),
        literal("").label("contact_name"),
        InboundCallRow.agent_name.label("agent_name"),
        InboundCallRow.started_at.label("started_at"),
        InboundCallRow.ended_at.label("ended_at"),
        InboundCallRow.status.label("state"),
        # What the call came to once the agent had it (its disposition's outcome), else Twilio's status.
        func.coalesce(InboundCallRow.outcome, InboundCallRow.status).label("outcome"),
        InboundCallRow.disposition.label("disposition"),
        InboundCallRow.status.label("network_status"),
        literal(None, Integer).label("status_code"),
        literal(None, Integer).label("error_code"),
        literal(None, String).label("cause"),
        literal("").label("answered_by"),
        InboundCallRow.status.in_(INBOUND_ANSWERED_STATUSES).label("answered"),
        func.coalesce(InboundCallRow.duration_seconds, 0.0).label("duration_seconds"),
        # A dashboard call (web, test) reached no carrier.
        case((InboundCallRow.kind == "phone", literal("twilio")), else_=literal("dashboard")).label("carrier"),
        cast(null(), String(32)).label("caller_id"),
        InboundCallRow.kind.label("kind"),
    ).where(InboundCallRow.org_id == org_id)


def _filtered(query: Select[Any], where: CallFilter) -> Select[Any]:
    """``where`` applied to one side of the calls union (its columns are referred to by label)."""
    columns = query.selected_columns
    return query.where(*where.conditions(columns.campaign_id, columns.outcome, columns.started_at, columns.agent_name))


def _calls_union(org_id: str | ColumnElement[str], where: CallFilter) -> Any:
    return union_all(*(_filtered(source, where) for source in _call_sources(org_id))).subquery()


_FILTERS = tuple(field.name for field in fields(CallFilter))
_KEY_LENGTH = len(get_args(CallKey))


def _set_filters(where: CallFilter) -> tuple[str, ...]:
    """The names of ``where``'s filters that are set: the shape of its statements."""
    return tuple(name for name in _FILTERS if getattr(where, name) is not None)


def _parameters(org_id: str, where: CallFilter, **more: Any) -> dict[str, Any]:
    """The values bound into a statement of :func:`_calls_statements` (filters by their names)."""
    return {"org_id": org_id, **{name: getattr(where, name) for name in _set_filters(where)}, **more}


def _placeholders(filters: tuple[str, ...]) -> CallFilter:
    return CallFilter(**{name: bindparam(name) for name in filters})


@dataclass(frozen=True)
class _CallStatements:
    page: Select[Any]
    count: Select[Any]
    stats: Select[Any]


@lru_cache(maxsize=256)
def _calls_statements(filters: tuple[str, ...], keyset: bool) -> _CallStatements:
    """The calls list's statements for one set of filters, with bound parameters where the values go
    (``org_id``, each filter by its name, ``after_0``... for the keyset, ``side_rows``, ``page_rows``,
    ``skip``). Building the union of every kind of call with its joins and labels took most of the CPU of a
    calls page or a campaign's stats; built once per shape, a request only binds its values."""
    org_id, where = bindparam("org_id"), _placeholders(filters)
    after = tuple(bindparam(f"after_{index}") for index in range(_KEY_LENGTH)) if keyset else None
    sides = [_filtered(source, where) for source in _call_sources(org_id)]
    side_rows = bindparam("side_rows", type_=Integer)
    calls = union_all(*(_side_of_page(side, after, side_rows) for side in sides)).subquery()
    page = (
        _sorted(select(calls), _call_order(calls.c))
        .limit(bindparam("page_rows", type_=Integer))
        .offset(bindparam("skip", type_=Integer))
    )
    every = _calls_union(org_id, where)
    finished = or_(every.c.direction == INBOUND, every.c.state == ATTEMPT_FINISHED)
    stats = (
        select(
            every.c.outcome,
            every.c.answered,
            func.count().label("calls"),
            func.sum(every.c.duration_seconds).label("seconds"),
        )
        .where(finished)
        .group_by(every.c.outcome, every.c.answered)
    )
    return _CallStatements(page=page, count=select(func.count()).select_from(every), stats=stats)


def _record(row: Any) -> CallRecord:
    return CallRecord(
        direction=row.direction,
        campaign_id=row.campaign_id,
        external_id=row.external_id,
        attempt=row.attempt,
        phone=row.phone or "",
        contact_name=row.contact_name or "",
        agent_name=row.agent_name,
        started_at=row.started_at,
        ended_at=row.ended_at,
        state=row.state,
        outcome=row.outcome,
        disposition=row.disposition,
        network_status=row.network_status or "",
        status_code=row.status_code,
        error_code=row.error_code,
        cause=row.cause,
        answered_by=row.answered_by or "",
        answered=bool(row.answered),
        duration_seconds=float(row.duration_seconds or 0.0),
        carrier=row.carrier or "",
        caller_id=row.caller_id,
        kind=row.kind or "phone",
    )


def _call_order(columns: Any) -> list[tuple[ColumnElement[Any], bool]]:
    """Newest first; ties in ``started_at`` broken by the call's whole identity (a callback dial shares
    campaign, external id and attempt with its incoming call, and differs in direction), so the order is
    total and keyset pages neither skip nor repeat a call."""
    return [
        (columns.started_at, True),
        (columns.external_id, False),
        (columns.attempt, False),
        (columns.campaign_id, False),
        (columns.direction, False),
    ]


def _side_of_page(query: Select[Any], after: Sequence[Any] | None, rows: Any) -> Select[Any]:
    """One side of the calls union cut to the ``rows`` a page can need, sorted and limited on its own: so
    each side is an index scan that stops early, where sorting the whole union would read every call
    before the page (a cursor page at 100,000 dials on Postgres: 5 ms against 110 ms)."""
    side = query.subquery()
    order = _call_order(side.c)
    keyset = [] if after is None else [_after(order, after)]
    return select(_sorted(select(side).where(*keyset), order).limit(rows).subquery())


async def calls_page(
    session: AsyncSession,
    org_id: str,
    where: CallFilter,
    *,
    limit: int,
    offset: int = 0,
    after: CallKey | None = None,
) -> Page[CallRecord]:
    """The organization's calls, outbound and inbound together, newest first; ``total`` (how many
    match) only on a page without ``after``, as for contacts."""
    statements = _calls_statements(_set_filters(where), after is not None)
    keyset = {} if after is None else {f"after_{index}": value for index, value in enumerate(after)}
    rows = {"side_rows": offset + limit + 1, "page_rows": limit + 1, "skip": offset}
    page = await session.execute(statements.page, _parameters(org_id, where, **keyset, **rows))
    records = [_record(row) for row in page.all()]
    total = None
    if after is None:
        total = await session.scalar(statements.count, _parameters(org_id, where)) or 0
    last = records[limit - 1] if len(records) > limit else None
    next_key = None
    if last is not None:
        next_key = (last.started_at, last.external_id, last.attempt, last.campaign_id, last.direction)
    return Page(records[:limit], total, next_key)


async def outbound_call(
    session: AsyncSession, org_id: str, campaign_id: str, external_id: str, attempt: int
) -> CallRecord | None:
    """One dial of the organization's, or None (also when it belongs to another organization)."""
    dials = _callback_dials(org_id) if campaign_id == INBOUND_CAMPAIGN_ID else _campaign_dials(org_id)
    query = dials.where(
        AttemptRow.campaign_id == campaign_id, AttemptRow.external_id == external_id, AttemptRow.attempt == attempt
    )
    row = (await session.execute(query.limit(1))).first()
    return None if row is None else _record(row)


async def inbound_call(session: AsyncSession, org_id: str, call_sid: str) -> CallRecord | None:
    row = (await session.execute(_inbound_calls(org_id).where(InboundCallRow.call_sid == call_sid))).first()
    return None if row is None else _record(row)


# ---- what the agent recorded on one call ----------------------------------------------------------


def _of_call(model: Any, campaign_id: str, external_id: str, attempt: int) -> list[ColumnElement[bool]]:
    return [model.campaign_id == campaign_id, model.external_id == external_id, model.attempt == attempt]


async def notes_of_call(session: AsyncSession, campaign_id: str, external_id: str, attempt: int) -> list[NoteRow]:
    stmt = select(NoteRow).where(*_of_call(NoteRow, campaign_id, external_id, attempt)).order_by(NoteRow.id)
    return list((await session.scalars(stmt)).all())


async def information_of_call(
    session: AsyncSession, campaign_id: str, external_id: str, attempt: int
) -> dict[InformationCategory, list[SharedInformation]]:
    """What the callee shared on this call, by category, each in the order it was recorded."""
    stmt = (
        select(SharedInformationRow)
        .where(*_of_call(SharedInformationRow, campaign_id, external_id, attempt))
        .order_by(SharedInformationRow.id)
    )
    grouped: dict[InformationCategory, list[SharedInformation]] = {}
    for row in (await session.scalars(stmt)).all():
        category = InformationCategory(row.category)
        grouped.setdefault(category, []).append(
            SharedInformation(category=category, information=row.information, shared_at=row.created_at)
        )
    return grouped


async def callbacks_of_contact(session: AsyncSession, campaign_id: str, external_id: str) -> list[CallbackRow]:
    stmt = (
        select(CallbackRow)
        .where(CallbackRow.campaign_id == campaign_id, CallbackRow.external_id == external_id)
        .order_by(CallbackRow.created_at, CallbackRow.id)
    )
    return list((await session.scalars(stmt)).all())


@dataclass(frozen=True)
class InformationHit:
    campaign_id: str
    external_id: str
    attempt: int
    caller: str
    contact_name: str
    category: str
    information: str
    shared_at: datetime


async def search_information(
    session: AsyncSession,
    org_id: str,
    *,
    category: InformationCategory | None = None,
    caller: str | None = None,
    limit: int = 50,
) -> list[InformationHit]:
    """Shared information across the organization's calls, newest first; ``caller`` is an E.164 number
    (a contact's phone, or the number an incoming call came from)."""
    info = SharedInformationRow
    contact_of = and_(ContactRow.campaign_id == info.campaign_id, ContactRow.external_id == info.external_id)
    inbound_of = and_(info.campaign_id == INBOUND_CAMPAIGN_ID, InboundCallRow.call_sid == info.external_id)
    caller_column = func.coalesce(ContactRow.phone, InboundCallRow.from_number, "")
    stmt = (
        select(
            info.campaign_id,
            info.external_id,
            info.attempt,
            caller_column.label("caller"),
            func.coalesce(ContactRow.name, "").label("contact_name"),
            info.category,
            info.information,
            info.created_at.label("shared_at"),
        )
        .select_from(info)
        .outerjoin(CampaignRow, CampaignRow.id == info.campaign_id)
        .outerjoin(ContactRow, contact_of)
        .outerjoin(InboundCallRow, inbound_of)
        .where(or_(CampaignRow.org_id == org_id, InboundCallRow.org_id == org_id))
        .where(info.category == category.value if category is not None else true())
        .where(caller_column == caller if caller is not None else true())
        .order_by(info.created_at.desc(), info.id.desc())
        .limit(limit)
    )
    return [InformationHit(**row._mapping) for row in (await session.execute(stmt)).all()]


# ---- statistics -----------------------------------------------------------------------------------


async def call_stats(
    session: AsyncSession,
    org_id: str,
    *,
    campaign_id: str | None = None,
    agent_name: str | None = None,
    cost_per_minute: float,
    cost_per_dial: float,
) -> Stats:
    """Finished calls of one campaign, or of every campaign and incoming call an agent took.

    Cost: connected minutes at ``cost_per_minute`` plus ``cost_per_dial`` per call never answered.
    """
    where = CallFilter(campaign_id=campaign_id, agent=agent_name)
    stmt = _calls_statements(_set_filters(where), False).stats
    stats = Stats()
    answered_seconds = 0.0
    for row in (await session.execute(stmt, _parameters(org_id, where))).all():
        stats.calls += row.calls
        if row.outcome:
            stats.outcomes[row.outcome] = stats.outcomes.get(row.outcome, 0) + row.calls
        if row.answered:
            stats.answered += row.calls
            answered_seconds += float(row.seconds or 0.0)
    stats.answer_rate = round(stats.answered / stats.calls, 4) if stats.calls else 0.0
    stats.average_duration_seconds = round(answered_seconds / stats.answered, 2) if stats.answered else 0.0
    stats.connected_minutes = round(answered_seconds / 60, 2)
    unanswered = stats.calls - stats.answered
    stats.estimated_cost_usd = round(answered_seconds / 60 * cost_per_minute + unanswered * cost_per_dial, 4)
    stats.final_outcomes = await _final_outcomes(session, org_id, campaign_id=campaign_id, agent_name=agent_name)
    return stats


async def _final_outcomes(
    session: AsyncSession, org_id: str, *, campaign_id: str | None, agent_name: str | None
) -> dict[str, int]:
    stmt = (
        select(ContactRow.final_outcome, func.count())
        .join(CampaignRow, CampaignRow.id == ContactRow.campaign_id)
        .where(CampaignRow.org_id == org_id, ContactRow.final_outcome.is_not(None))
        .where(ContactRow.campaign_id == campaign_id if campaign_id is not None else true())
        .where(CampaignRow.agent_name == agent_name if agent_name is not None else true())
        .group_by(ContactRow.final_outcome)
    )
    return {outcome: count for outcome, count in (await session.execute(stmt)).all()}


# ---- do-not-call ----------------------------------------------------------------------------------


async def dnc_total(session: AsyncSession, org_id: str) -> int:
    stmt = select(func.count()).select_from(DoNotCallRow).where(DoNotCallRow.org_id == org_id)
    return await session.scalar(stmt) or 0


# ---- one campaign's report ------------------------------------------------------------------------
# The summary's counts come from the functions above (contact_tallies, call_stats);
# these add what a report needs besides, and the rows it lists, read a page at a time.

NO_NETWORK_OUTCOME = "unfinished"
"""How a dial the network has not answered for yet (no ``network_outcome``) is counted."""


@dataclass(frozen=True)
class HourOfDials:
    """The dials a campaign started in one hour (UTC), and how many of them were answered."""

    hour: datetime
    dials: int
    answered: int


@dataclass(frozen=True)
class ReportContact:
    external_id: str
    name: str
    phone: str
    status: str
    final_outcome: str | None
    final_reason: str
    attempts: int
    finished_at: datetime | None


@dataclass(frozen=True)
class ReportCall:
    external_id: str
    attempt: int
    phone: str | None
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    disposition: str | None
    network_outcome: str | None
    network_status: str
    status_code: int | None
    error_code: int | None
    answered: bool
    answered_by: str
    duration_seconds: float


async def network_outcome_counts(session: AsyncSession, campaign_id: str) -> dict[str, int]:
    """The campaign's dials by what the network said (completed, no_answer, busy, ...), every dial counted."""
    outcome = func.coalesce(AttemptRow.network_outcome, NO_NETWORK_OUTCOME)
    stmt = select(outcome, func.count()).where(AttemptRow.campaign_id == campaign_id).group_by(outcome)
    return {name: count for name, count in (await session.execute(stmt)).all()}


def _utc_hour(session: AsyncSession, column: ColumnElement[datetime]) -> ColumnElement[Any]:
    """``column`` cut to its hour in UTC: Postgres stores a zone-aware moment, SQLite UTC as text."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", column))
    return func.strftime("%Y-%m-%d %H:00:00", column)


async def dials_by_hour(session: AsyncSession, campaign_id: str) -> list[HourOfDials]:
    """The campaign's dials per hour (UTC) in which they started, oldest first; hours without a dial are
    left out. One row per hour the campaign ran, whatever its size."""
    hour = _utc_hour(session, AttemptRow.started_at).label("hour")
    answered = func.sum(AttemptRow.answered.cast(Integer))
    stmt = (
        select(hour, func.count(), answered).where(AttemptRow.campaign_id == campaign_id).group_by(hour).order_by(hour)
    )
    return [
        HourOfDials(hour=_as_utc_moment(value), dials=dials, answered=int(answered_dials or 0))
        for value, dials, answered_dials in (await session.execute(stmt)).all()
    ]


def _as_utc_moment(value: datetime | str) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC)


async def report_contacts_page(
    session: AsyncSession, campaign_id: str, *, after: str | None, limit: int
) -> list[ReportContact]:
    """Up to ``limit`` of the campaign's contacts by external id, those after ``after``: each page is a
    range of the ``(campaign_id, external_id)`` unique index, so the last page costs what the first does."""
    conditions = [ContactRow.campaign_id == campaign_id]
    if after is not None:
        conditions.append(ContactRow.external_id > after)
    stmt = (
        select(
            ContactRow.external_id,
            ContactRow.name,
            ContactRow.phone,
            ContactRow.status,
            ContactRow.final_outcome,
            ContactRow.final_reason,
            ContactRow.attempts,
            ContactRow.finished_at,
        )
        .where(*conditions)
        .order_by(ContactRow.external_id)
        .limit(limit)
    )
    return [ReportContact(**row._mapping) for row in (await session.execute(stmt)).all()]


async def report_calls_page(
    session: AsyncSession, campaign_id: str, *, after: tuple[str, int] | None, limit: int
) -> list[ReportCall]:
    """Up to ``limit`` of the campaign's dials by contact and attempt, those after ``after``
    (``(external_id, attempt)``), from the ``(campaign_id, external_id)`` index."""
    order = [(AttemptRow.external_id, False), (AttemptRow.attempt, False)]
    keyset = [] if after is None else [_after(order, after)]
    stmt = _sorted(
        select(
            AttemptRow.external_id,
            AttemptRow.attempt,
            AttemptRow.phone,
            AttemptRow.started_at,
            AttemptRow.ended_at,
            AttemptRow.call_outcome.label("outcome"),
            AttemptRow.disposition,
            AttemptRow.network_outcome,
            AttemptRow.network_status,
            AttemptRow.status_code,
            AttemptRow.error_code,
            AttemptRow.answered,
            AttemptRow.answered_by,
            AttemptRow.duration_seconds,
        ).where(AttemptRow.campaign_id == campaign_id, *keyset),
        order,
    ).limit(limit)
    return [ReportCall(**row._mapping) for row in (await session.execute(stmt)).all()]
