"""An organization's lines: the cap on its calls at once, the inbound reserve, and a fair share per campaign.

Every call in progress holds a lease, one row in ``line_leases``: an outbound dial keyed by its
attempt's idempotency key (taken before the attempt row is written, released with its result), an
inbound call keyed by its CallSid (taken by the incoming-call webhook, released with the call's end).
A lease expires (the longest call, plus margin), so the line of a call nobody will ever finish lapses.

With a cap (``organizations.max_concurrent_calls``), a lease is granted under a lock on the
organization's row (``SELECT … FOR UPDATE`` on Postgres; SQLite's ``BEGIN IMMEDIATE`` serializes every
writer), so racing dials, in any number of workers, can never hold more lines than the cap allows:

- outbound dials together hold at most ``max_concurrent_calls - inbound_reserve`` lines, so the reserve
  is always free for inbound calls; an inbound call may take any line up to the cap;
- a campaign holds at most ``ceil(outbound lines / n)``, where ``n`` counts the organization's campaigns
  that hold a line or were refused one lately (``line_asks``, kept ``ASK_LIFETIME``), so a campaign that
  started first cannot keep a later one waiting for the whole of its list.

Without a cap leases are still recorded (no lock, no count), so a cap set while calls are on counts them.
Like the rest of the store, nothing here commits: the lease commits with the attempt or call it is for.
"""

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.calls import DialRequest
from schemas.capacity import LinesInUse, OrgCapacity
from schemas.inbound import MAX_INBOUND_CALL_LENGTH
from store import queries
from store.models import LineAskRow, LineLeaseRow, OrganizationRow, utcnow

AT_CAPACITY_ERROR = "OrganizationAtCapacity"
"""The type of the retryable error a dial refused a line fails with (retried with the dial's backoff)."""
OUTBOUND_LEASE_LIFETIME = timedelta(hours=2, minutes=5)
"""Longer than any dial activity runs (ring timeout plus the longest call, workflows/contact.py): a retry
renews it, so only a dial nobody will ever finish lets it lapse."""
INBOUND_LEASE_LIFETIME = MAX_INBOUND_CALL_LENGTH + timedelta(minutes=5)
ASK_LIFETIME = timedelta(seconds=60)
"""How long a refused campaign counts in the fair share: longer than the dial's longest retry interval (30 s)."""


@dataclass(frozen=True)
class LineRefused:
    """Why no line was granted, said in one line."""

    reason: str


async def get_capacity(session: AsyncSession, org_id: str) -> OrgCapacity | None:
    """The organization's capacity settings; None when there is no such organization."""
    row = (
        await session.execute(
            select(OrganizationRow.max_concurrent_calls, OrganizationRow.inbound_reserve).where(
                OrganizationRow.id == org_id
            )
        )
    ).one_or_none()
    return None if row is None else OrgCapacity(max_concurrent_calls=row[0], inbound_reserve=row[1])


async def set_capacity(session: AsyncSession, org_id: str, capacity: OrgCapacity) -> bool:
    """Store the organization's capacity; False when there is no such organization. Calls already holding
    more lines than a lowered cap keep them: new ones wait until enough have ended."""
    result = await session.execute(
        update(OrganizationRow)
        .where(OrganizationRow.id == org_id)
        .values(max_concurrent_calls=capacity.max_concurrent_calls, inbound_reserve=capacity.inbound_reserve)
    )
    return queries.rowcount(result) > 0


async def lines_in_use(session: AsyncSession, org_id: str, *, now: datetime | None = None) -> LinesInUse:
    held = await _held(session, org_id, now or utcnow())
    inbound = held.pop(None, 0)
    by_campaign = {campaign: count for campaign, count in held.items() if campaign is not None}
    return LinesInUse(outbound=sum(by_campaign.values()), inbound=inbound, by_campaign=by_campaign)


async def take_dial_line(session: AsyncSession, request: DialRequest) -> LineRefused | None:
    """A line for the dial about to be placed, or why there is none (nothing was dialled; ask again later).

    A retry of a dial whose attempt already exists needs no new line: it keeps its lease while the call is
    on, and a recorded result needs none at all. A dial without an organization (a workflow started before
    dials carried one) is not counted.
    """
    if request.org_id is None or await queries.attempt_exists(session, request.idempotency_key):
        return None
    return await acquire_line(
        session,
        lease_key=request.idempotency_key,
        org_id=request.org_id,
        campaign_id=request.campaign_id,
        lifetime=OUTBOUND_LEASE_LIFETIME,
    )


async def take_inbound_line(session: AsyncSession, call_sid: str, org_id: str) -> LineRefused | None:
    """A line for an incoming call (it may use the inbound reserve), or why there is none."""
    return await acquire_line(
        session, lease_key=call_sid, org_id=org_id, campaign_id=None, lifetime=INBOUND_LEASE_LIFETIME
    )


async def acquire_line(
    session: AsyncSession,
    *,
    lease_key: str,
    org_id: str,
    campaign_id: str | None,
    lifetime: timedelta,
    now: datetime | None = None,
) -> LineRefused | None:
    """Lease a line to ``lease_key`` (``campaign_id`` None: an inbound call), or say why not.

    Idempotent: the key's live lease is kept (and its expiry renewed), whatever the count is now. A refused
    outbound ask is recorded so the campaign counts in the fair share while it waits.
    """
    now = now or utcnow()
    capacity = await get_capacity(session, org_id)
    if capacity is not None and capacity.max_concurrent_calls is not None:
        await _lock_organization(session, org_id)
        capacity = await get_capacity(session, org_id) or capacity  # as it is now that the lock is held
    if capacity is None or capacity.max_concurrent_calls is None:
        await _lease(session, lease_key, org_id, campaign_id, now + lifetime)
        return None
    await session.execute(delete(LineLeaseRow).where(LineLeaseRow.org_id == org_id, LineLeaseRow.expires_at <= now))
    renewed = await session.execute(
        update(LineLeaseRow).where(LineLeaseRow.lease_key == lease_key).values(expires_at=now + lifetime)
    )
    if queries.rowcount(renewed):
        return None
    refusal = await _refusal(session, capacity, org_id, campaign_id, now)
    if refusal is not None:
        if campaign_id is not None:
            await _record_ask(session, org_id, campaign_id, now + ASK_LIFETIME)
        return refusal
    await _lease(session, lease_key, org_id, campaign_id, now + lifetime)
    return None


async def release_line(session: AsyncSession, lease_key: str) -> None:
    """Free the line of a dial or inbound call that ended; a line never taken or already freed is no error."""
    await session.execute(delete(LineLeaseRow).where(LineLeaseRow.lease_key == lease_key))


async def _refusal(
    session: AsyncSession, capacity: OrgCapacity, org_id: str, campaign_id: str | None, now: datetime
) -> LineRefused | None:
    held = await _held(session, org_id, now)
    total = sum(held.values())
    cap = capacity.max_concurrent_calls
    assert cap is not None  # only a capped organization is counted
    if total >= cap:
        return LineRefused(f"all {cap} lines of the organization are in use")
    if campaign_id is None:
        return None
    outbound_lines = cap - capacity.inbound_reserve
    outbound = total - held.get(None, 0)
    if outbound >= outbound_lines:
        return LineRefused(
            f"the organization's {outbound_lines} outbound lines are in use"
            f" ({capacity.inbound_reserve} kept for inbound)"
        )
    waiting = await session.scalars(
        select(LineAskRow.campaign_id).where(LineAskRow.org_id == org_id, LineAskRow.expires_at > now)
    )
    sharing = {campaign for campaign in held if campaign is not None} | set(waiting) | {campaign_id}
    share = math.ceil(outbound_lines / len(sharing))
    if held.get(campaign_id, 0) >= share:
        return LineRefused(
            f"the campaign holds its fair share ({share} of {outbound_lines} lines, {len(sharing)} campaigns)"
        )
    return None


async def _held(session: AsyncSession, org_id: str, now: datetime) -> Counter[str | None]:
    """Live leases of the organization per campaign id (None: inbound calls)."""
    rows = await session.execute(
        select(LineLeaseRow.campaign_id, func.count())
        .where(LineLeaseRow.org_id == org_id, LineLeaseRow.expires_at > now)
        .group_by(LineLeaseRow.campaign_id)
    )
    return Counter({campaign: count for campaign, count in rows.all()})


async def _lock_organization(session: AsyncSession, org_id: str) -> None:
    """Hold the organization's row until the transaction ends, so its leases are counted one grant at a time.
    SQLite renders no ``FOR UPDATE``; its ``BEGIN IMMEDIATE`` already lets one writer in at a time."""
    await session.execute(select(OrganizationRow.id).where(OrganizationRow.id == org_id).with_for_update())


async def _lease(
    session: AsyncSession, lease_key: str, org_id: str, campaign_id: str | None, expires: datetime
) -> None:
    stmt = queries.dialect_insert(session, LineLeaseRow).values(
        lease_key=lease_key, org_id=org_id, campaign_id=campaign_id, acquired_at=utcnow(), expires_at=expires
    )
    await session.execute(stmt.on_conflict_do_update(index_elements=["lease_key"], set_={"expires_at": expires}))


async def _record_ask(session: AsyncSession, org_id: str, campaign_id: str, expires: datetime) -> None:
    stmt = queries.dialect_insert(session, LineAskRow).values(
        org_id=org_id, campaign_id=campaign_id, expires_at=expires
    )
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["org_id", "campaign_id"], set_={"expires_at": expires})
    )
