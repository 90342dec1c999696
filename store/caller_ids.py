"""Caller-ID pools: which of an organization's numbers a campaign's call shows, and each number's record.

A campaign names a pool (``CampaignSettings.caller_id_pool``). For each new attempt the dial activity
claims one number of it, in the transaction that creates the attempt (:func:`caller_id_for_attempt`):
local presence first (the callee's country and area code), then the callee's country, then any number,
least recently used first within each (round-robin). The claim locks the number's row (on Postgres,
skipping one another dial holds) and takes it with one conditional ``UPDATE`` whose ``WHERE`` holds the
number's daily cap, its calls per second and its quarantine, so racing dials can never take a number
past its cap, on Postgres as on SQLite (one writer at a time). A number's day is the UTC
day; its counter starts again when that day rolls.

Each finished attempt counts on its number (:func:`count_finished_dial`, called by ``finish_attempt``).
A number with at least the pool's minimum dials whose answer rate falls under a fraction of the pool's
median is quarantined for the pool's period, reported as a possible spam label, and starts a fresh
count when released.
"""

import asyncio
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.calls import DialRequest, DialResult
from schemas.contact import phone_area
from schemas.outcomes import CallOutcome
from store import audit
from store.models import AttemptRow, CallerIdPoolRow, CallerIdRow, CampaignRow, PhoneNumberRow, as_utc, utcnow

DEFAULT_QUARANTINE_MIN_DIALS = 50
DEFAULT_QUARANTINE_FRACTION = 0.5
DEFAULT_QUARANTINE_HOURS = 24.0

CALLER_ID_UNAVAILABLE = "caller-id-unavailable"
"""``DialResult.network_status`` of a dial not placed: no number of the campaign's pool may dial today."""
POSSIBLE_SPAM_LABEL = "possible spam label"
QUARANTINE_ACTOR = "ringflow (answer-rate check)"
NEVER = datetime.min.replace(tzinfo=UTC)

MAX_SLEEP_FOR_NUMBER = timedelta(seconds=1)
"""The longest a dial sleeps, in its transaction, for a number's calls-per-second gap. Short: on SQLite the
transaction holds the database's write lock meanwhile."""
MAX_WAIT_FOR_NUMBER = timedelta(seconds=5)
"""How long a dial keeps trying for a number in all (on Postgres, racing dials hold the numbers they took
until their transactions commit). Past either limit the dial fails with :class:`CallerIdBusyError`: nothing
is stored, and its activity is retried later."""


class CallerIdError(ValueError):
    """A change to a pool that cannot be made; the message says why."""


class CallerIdConflictError(CallerIdError):
    """The name is taken, or the number is in a pool already."""


class NotOrgNumberError(CallerIdError):
    """The number is not one of the organization's."""


class CallerIdBusyError(Exception):
    """Every usable number of the pool is at its calls per second for longer than a dial waits in its
    transaction: nothing was stored, and the dial activity is retried (by Temporal) a little later."""


@dataclass(frozen=True)
class CallerIdChoice:
    """The number an attempt shows (None: the carrier's own), or why it is not dialled at all (``refusal``,
    already recorded on the attempt)."""

    number: str | None = None
    refusal: DialResult | None = None


@dataclass(frozen=True)
class Claim:
    """One try at a pool: the number claimed, or how soon one may be (``wait``), or why none can today."""

    number: str | None = None
    wait: timedelta | None = None
    unavailable: str = ""


def utc_day(moment: datetime) -> date:
    return as_utc(moment).date()


# ---- pools and their numbers ------------------------------------------------------------------------


async def get_pool(session: AsyncSession, org_id: str, name: str) -> CallerIdPoolRow | None:
    stmt = select(CallerIdPoolRow).where(CallerIdPoolRow.org_id == org_id, CallerIdPoolRow.name == name)
    return (await session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()


async def list_pools(session: AsyncSession, org_id: str) -> list[CallerIdPoolRow]:
    stmt = select(CallerIdPoolRow).where(CallerIdPoolRow.org_id == org_id).order_by(CallerIdPoolRow.name)
    return list((await session.scalars(stmt.execution_options(populate_existing=True))).all())


async def pool_numbers(session: AsyncSession, pool_id: int) -> list[CallerIdRow]:
    stmt = select(CallerIdRow).where(CallerIdRow.pool_id == pool_id).order_by(CallerIdRow.number)
    return list((await session.scalars(stmt.execution_options(populate_existing=True))).all())


async def create_pool(
    session: AsyncSession,
    org_id: str,
    name: str,
    *,
    min_dials: int = DEFAULT_QUARANTINE_MIN_DIALS,
    fraction: float = DEFAULT_QUARANTINE_FRACTION,
    hours: float = DEFAULT_QUARANTINE_HOURS,
) -> CallerIdPoolRow:
    if await get_pool(session, org_id, name) is not None:
        raise CallerIdConflictError(f"the organization already has a caller-ID pool named {name!r}")
    row = CallerIdPoolRow(
        org_id=org_id, name=name, quarantine_min_dials=min_dials, quarantine_fraction=fraction, quarantine_hours=hours
    )
    session.add(row)
    await session.flush()
    return row


async def delete_pool(session: AsyncSession, pool: CallerIdPoolRow) -> None:
    """Delete the pool and its numbers' membership (the numbers themselves stay the organization's)."""
    await session.execute(delete(CallerIdRow).where(CallerIdRow.pool_id == pool.id))
    await session.execute(delete(CallerIdPoolRow).where(CallerIdPoolRow.id == pool.id))


async def add_number(
    session: AsyncSession, pool: CallerIdPoolRow, number: str, *, daily_cap: int, calls_per_second: float
) -> CallerIdRow:
    """Put one of the organization's numbers in the pool; a number is in at most one pool, so its cap is its own."""
    owned = await session.get(PhoneNumberRow, number)
    if owned is None or owned.org_id != pool.org_id:
        raise NotOrgNumberError(
            f"{number} is not one of the organization's numbers (`ringflow numbers sync` adds them)"
        )
    taken = await session.scalar(
        select(CallerIdPoolRow.name)
        .join(CallerIdRow, CallerIdRow.pool_id == CallerIdPoolRow.id)
        .where(CallerIdRow.number == number)
    )
    if taken is not None:
        raise CallerIdConflictError(f"{number} is already in the caller-ID pool {taken!r}")
    country, area_code = phone_area(number)
    row = CallerIdRow(
        pool_id=pool.id,
        number=number,
        country=country,
        area_code=area_code,
        daily_cap=daily_cap,
        calls_per_second=calls_per_second,
        dials_today=0,
        dials=0,
        answered=0,
        quarantine_reason="",
    )
    session.add(row)
    await session.flush()
    return row


async def remove_number(session: AsyncSession, pool: CallerIdPoolRow, number: str) -> bool:
    """Take the number out of the pool; False if it was not in it."""
    result = await session.execute(
        delete(CallerIdRow).where(CallerIdRow.pool_id == pool.id, CallerIdRow.number == number)
    )
    return bool(getattr(result, "rowcount", 0))


class Usage(Protocol):
    """What a claim reads of a number: its row, or the plain snapshot :func:`claim` works from."""

    id: int
    number: str
    country: str
    area_code: str
    daily_cap: int
    calls_per_second: float
    usage_day: date | None
    dials_today: int
    last_dial_at: datetime | None
    next_dial_at: datetime | None
    quarantined_until: datetime | None


async def _usage(session: AsyncSession, pool_id: int) -> list[Usage]:
    """The pool's numbers as plain rows, not ORM objects: a claim's savepoints never expire them under it."""
    columns = [getattr(CallerIdRow, name) for name in Usage.__annotations__]
    found = await session.execute(select(*columns).where(CallerIdRow.pool_id == pool_id))
    return list(found.all())  # type: ignore[arg-type]


def is_quarantined(row: Usage, now: datetime) -> bool:
    return row.quarantined_until is not None and as_utc(row.quarantined_until) > now


def dials_on(row: Usage, day: date) -> int:
    """The number's dials on ``day`` (UTC): its counter counts only the day it was last used."""
    return row.dials_today if row.usage_day == day else 0


# ---- claiming a number for a dial -------------------------------------------------------------------


@dataclass(frozen=True)
class _Preference:
    country: str
    area_code: str

    def rank(self, row: Usage) -> tuple[int, datetime, int]:
        """Local presence (same country and area code) first, then the same country, then the rest;
        within each, least recently used first: round-robin."""
        local = bool(self.area_code) and (row.country, row.area_code) == (self.country, self.area_code)
        tier = 0 if local else 1 if row.country == self.country else 2
        last = as_utc(row.last_dial_at) if row.last_dial_at is not None else NEVER
        return tier, last, row.id


async def claim(session: AsyncSession, pool: CallerIdPoolRow, callee: str, now: datetime | None = None) -> Claim:
    """Claim one number of ``pool`` for a dial to ``callee`` now, in the caller's transaction.

    Candidates go in order of preference; each is locked and taken with a conditional ``UPDATE`` that succeeds
    only if the number is still under its daily cap, past its calls-per-second gap and not quarantined at
    that moment, so a number a racing dial took meanwhile is skipped rather than overused.
    """
    now = as_utc(now or utcnow())
    today = utc_day(now)
    rows = await _usage(session, pool.id)
    if not rows:
        return Claim(unavailable="the pool has no numbers")
    quarantined = [row for row in rows if is_quarantined(row, now)]
    capped = [row for row in rows if not is_quarantined(row, now) and dials_on(row, today) >= row.daily_cap]
    usable = [row for row in rows if row not in quarantined and row not in capped]
    if not usable:
        reasons = []
        if capped:
            reasons.append(f"{len(capped)} at their daily cap")
        if quarantined:
            reasons.append(f"{len(quarantined)} quarantined ({POSSIBLE_SPAM_LABEL})")
        return Claim(unavailable=", ".join(reasons))
    preference = _Preference(*phone_area(callee))
    for row in sorted(usable, key=preference.rank):
        if row.next_dial_at is not None and as_utc(row.next_dial_at) > now:
            continue
        if await _take(session, row, now, today):
            return Claim(number=row.number)
    soonest = min((as_utc(row.next_dial_at) for row in usable if row.next_dial_at is not None), default=now)
    return Claim(wait=max(soonest - now, timedelta(milliseconds=10)))


async def _take(session: AsyncSession, row: Usage, now: datetime, today: date) -> bool:
    """One dial on the number, if its cap, its calls per second and its quarantine allow it at this moment.

    On Postgres the row is locked first, skipping it while another dial holds it, so a dial never waits on
    a number; a try that fails is rolled back to its savepoint, which lets go of the row at once (a dial
    waiting for a number must not keep the ones it could not take locked). SQLite has one writer anyway.
    """
    table = CallerIdRow
    attempt = await session.begin_nested()
    locked = await session.scalar(select(table.id).where(table.id == row.id).with_for_update(skip_locked=True))
    taken = (
        locked is not None
        and (
            await session.execute(
                update(table)
                .where(
                    table.id == row.id,
                    or_(table.quarantined_until.is_(None), table.quarantined_until <= now),
                    or_(table.next_dial_at.is_(None), table.next_dial_at <= now),
                    or_(table.usage_day.is_(None), table.usage_day != today, table.dials_today < table.daily_cap),
                )
                .values(
                    dials_today=case((table.usage_day == today, table.dials_today + 1), else_=1),
                    usage_day=today,
                    last_dial_at=now,
                    next_dial_at=now + timedelta(seconds=1 / row.calls_per_second),
                )
                .returning(table.id)
            )
        ).one_or_none()
        is not None
    )
    if taken:
        await attempt.commit()
    else:
        await attempt.rollback()
    return taken


async def caller_id_for_attempt(
    session: AsyncSession, request: DialRequest, attempt: AttemptRow, *, created: bool
) -> CallerIdChoice:
    """The number attempt ``request`` shows, in the transaction that created (or found) its row.

    A retried or recovered attempt keeps the number stored on it. A new attempt of a campaign with a pool
    claims one (waiting briefly for a number's calls per second or a racing dial's commit, else
    :class:`CallerIdBusyError`) and stores it on the attempt; when no number of the pool may dial today
    (capped or quarantined) the attempt is finished as ``failed`` with ``caller-id-unavailable``, not dialled.
    """
    if not created:
        return CallerIdChoice(number=attempt.caller_id)
    campaign = (
        await session.execute(
            select(CampaignRow.org_id, CampaignRow.settings).where(CampaignRow.id == request.campaign_id)
        )
    ).one_or_none()
    name = (campaign.settings or {}).get("caller_id_pool") if campaign is not None else None
    if not name:  # no pool, or a contact dialled without a campaign row
        return CallerIdChoice()
    pool = await get_pool(session, campaign.org_id, name)
    if pool is None:  # deleted since the campaign started: never fall back to another number unasked
        return CallerIdChoice(refusal=await _refuse(session, request, name, "the pool no longer exists"))
    deadline = utcnow() + MAX_WAIT_FOR_NUMBER
    while True:
        found = await claim(session, pool, request.contact.phone)
        if found.number is not None:
            await session.execute(update(AttemptRow).where(AttemptRow.id == attempt.id).values(caller_id=found.number))
            return CallerIdChoice(number=found.number)
        if found.wait is None:
            return CallerIdChoice(refusal=await _refuse(session, request, pool.name, found.unavailable))
        if found.wait > MAX_SLEEP_FOR_NUMBER or utcnow() + found.wait > deadline:
            raise CallerIdBusyError(
                f"every number of caller-ID pool {pool.name!r} is at its calls per second; the dial is retried"
            )
        await asyncio.sleep(found.wait.total_seconds())


async def _refuse(session: AsyncSession, request: DialRequest, pool: str, why: str) -> DialResult:
    """Finish the attempt undialled: a pool whose every number is capped or quarantined is the deployment's
    failure, not the callee's, so it is a network-class status the campaign's breaker counts."""
    from store import (
        capacity,
        queries,  # store.queries imports this module (finish_attempt counts dials here)
    )

    result = DialResult(
        outcome=CallOutcome.FAILED,
        network_status=CALLER_ID_UNAVAILABLE,
        detail=f"no caller id in pool {pool!r} can dial now: {why}",
    ).classified(request.causes)
    await queries.finish_attempt(session, request.idempotency_key, result)
    await capacity.release_line(session, request.idempotency_key)  # the line taken for a dial that never went
    return result


# ---- answer rates and quarantine --------------------------------------------------------------------


async def count_finished_dial(
    session: AsyncSession, number: str, *, answered: bool, now: datetime | None = None
) -> None:
    """Count a finished dial on its caller id, and quarantine the number if its answer rate collapsed.

    Cheap on the common path: one ``UPDATE``; the pool's median is read only once the number has the
    pool's minimum of dials.
    """
    counted = (
        await session.execute(
            update(CallerIdRow)
            .where(CallerIdRow.number == number)
            .values(dials=CallerIdRow.dials + 1, answered=CallerIdRow.answered + int(answered))
            .returning(CallerIdRow.id, CallerIdRow.pool_id, CallerIdRow.dials, CallerIdRow.answered)
        )
    ).one_or_none()
    if counted is None:  # no longer in a pool
        return
    pool = await session.get(CallerIdPoolRow, counted.pool_id)
    if pool is None or counted.dials < pool.quarantine_min_dials:
        return
    measured = await session.execute(
        select(CallerIdRow.answered, CallerIdRow.dials).where(
            CallerIdRow.pool_id == pool.id, CallerIdRow.dials >= pool.quarantine_min_dials
        )
    )
    median = statistics.median(answers / dials for answers, dials in measured)
    rate = counted.answered / counted.dials
    if rate >= pool.quarantine_fraction * median:
        return
    now = as_utc(now or utcnow())
    until = now + timedelta(hours=pool.quarantine_hours)
    reason = (
        f"{POSSIBLE_SPAM_LABEL}: answered {counted.answered} of {counted.dials} dials ({rate:.0%}), under "
        f"{pool.quarantine_fraction:.0%} of the pool's median answer rate ({median:.0%})"
    )
    await session.execute(
        update(CallerIdRow)
        .where(CallerIdRow.id == counted.id)
        .values(quarantined_until=until, quarantine_reason=reason, dials=0, answered=0)
    )
    await audit.record(
        session,
        pool.org_id,
        QUARANTINE_ACTOR,
        "caller_id.quarantine",
        number,
        {"pool": pool.name, "until": until.isoformat(), "reason": reason},
    )
