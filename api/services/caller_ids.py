"""Caller-ID pools: the REST API (``/v1/caller-id-pools``) and the CLI (``ringflow numbers pool ...``) change
and read them through here, so every change is in the audit log whoever made it."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.services import audit
from schemas.api import CallerIdIn, CallerIdOut, CallerIdPoolIn, CallerIdPoolOut
from schemas.contact import normalize_phone
from store import caller_ids
from store.caller_ids import CallerIdConflictError, NotOrgNumberError
from store.models import CallerIdPoolRow, CallerIdRow, utcnow

__all__ = [
    "CallerIdConflictError",
    "CallerIdNotFoundError",
    "NotOrgNumberError",
    "add_number",
    "create_pool",
    "delete_pool",
    "get_pool",
    "list_pools",
    "remove_number",
]


class CallerIdNotFoundError(LookupError):
    """No such pool in the organization, or no such number in the pool."""


def number_view(row: CallerIdRow, now: datetime) -> CallerIdOut:
    dials_today = caller_ids.dials_on(row, caller_ids.utc_day(now))
    if caller_ids.is_quarantined(row, now):
        status = caller_ids.POSSIBLE_SPAM_LABEL
    elif dials_today >= row.daily_cap:
        status = "capped today"
    else:
        status = "active"
    return CallerIdOut(
        number=row.number,
        country=row.country,
        area_code=row.area_code,
        daily_cap=row.daily_cap,
        calls_per_second=row.calls_per_second,
        dials_today=dials_today,
        dials=row.dials,
        answered=row.answered,
        quarantined_until=row.quarantined_until if status == caller_ids.POSSIBLE_SPAM_LABEL else None,
        status=status,
        quarantine_reason=row.quarantine_reason if status == caller_ids.POSSIBLE_SPAM_LABEL else "",
    )


async def _view(session: AsyncSession, pool: CallerIdPoolRow) -> CallerIdPoolOut:
    now = utcnow()
    return CallerIdPoolOut(
        name=pool.name,
        quarantine_min_dials=pool.quarantine_min_dials,
        quarantine_fraction=pool.quarantine_fraction,
        quarantine_hours=pool.quarantine_hours,
        created_at=pool.created_at,
        numbers=[number_view(row, now) for row in await caller_ids.pool_numbers(session, pool.id)],
    )


async def _pool(session: AsyncSession, org_id: str, name: str) -> CallerIdPoolRow:
    pool = await caller_ids.get_pool(session, org_id, name)
    if pool is None:
        raise CallerIdNotFoundError(f"no caller-ID pool {name!r} in this organization")
    return pool


def _e164(number: str) -> str:
    try:
        return normalize_phone(number)
    except ValueError as err:
        raise NotOrgNumberError(f"number: {err}") from None


async def list_pools(session: AsyncSession, *, org_id: str) -> list[CallerIdPoolOut]:
    return [await _view(session, pool) for pool in await caller_ids.list_pools(session, org_id)]


async def get_pool(session: AsyncSession, *, org_id: str, name: str) -> CallerIdPoolOut:
    """The pool with each number's usage today, answer record and quarantine."""
    return await _view(session, await _pool(session, org_id, name))


async def create_pool(session: AsyncSession, *, org_id: str, body: CallerIdPoolIn, actor: str) -> CallerIdPoolOut:
    pool = await caller_ids.create_pool(
        session,
        org_id,
        body.name,
        min_dials=body.quarantine_min_dials,
        fraction=body.quarantine_fraction,
        hours=body.quarantine_hours,
    )
    await audit.record(
        session,
        org_id=org_id,
        actor=actor,
        action="caller_id_pool.create",
        target=body.name,
        details=body.model_dump(exclude={"name"}),
    )
    await session.commit()
    return await _view(session, pool)


async def delete_pool(session: AsyncSession, *, org_id: str, name: str, actor: str) -> None:
    """Delete the pool; a campaign that still names it dials nobody (``caller-id-unavailable``) rather than
    show a number nobody chose."""
    pool = await _pool(session, org_id, name)
    await caller_ids.delete_pool(session, pool)
    await audit.record(session, org_id=org_id, actor=actor, action="caller_id_pool.delete", target=name)
    await session.commit()


async def add_number(session: AsyncSession, *, org_id: str, name: str, body: CallerIdIn, actor: str) -> CallerIdPoolOut:
    pool = await _pool(session, org_id, name)
    number = _e164(body.number)
    await caller_ids.add_number(session, pool, number, daily_cap=body.daily_cap, calls_per_second=body.calls_per_second)
    await audit.record(
        session,
        org_id=org_id,
        actor=actor,
        action="caller_id_pool.add_number",
        target=name,
        details={"number": number, "daily_cap": body.daily_cap, "calls_per_second": body.calls_per_second},
    )
    await session.commit()
    return await _view(session, pool)


async def remove_number(session: AsyncSession, *, org_id: str, name: str, number: str, actor: str) -> None:
    pool = await _pool(session, org_id, name)
    e164 = _e164(number)
    if not await caller_ids.remove_number(session, pool, e164):
        raise CallerIdNotFoundError(f"{e164} is not in the caller-ID pool {name!r}")
    await audit.record(
        session,
        org_id=org_id,
        actor=actor,
        action="caller_id_pool.remove_number",
        target=name,
        details={"number": e164},
    )
    await session.commit()
