"""The store's side of the calling-hours policy: an organization's policy, the facts a dial is judged on
(do-not-call, the number's recent dials in every campaign), and the audit trail of decisions."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.compliance import CallingPolicy, DialDecision, DialFacts
from store import dnc
from store.models import AttemptRow, CallingPolicyChangeRow, DialDecisionRow, OrganizationRow, utcnow
from store.queries import dialect_insert

CAP_LOOKBACK = timedelta(days=7)
"""The longest span an attempt cap counts over: older dials never matter to a decision."""


async def get_policy(session: AsyncSession, org_id: str) -> CallingPolicy | None:
    """The organization's stored policy; None when it has none (the legal floor alone applies)."""
    stored = await session.scalar(select(OrganizationRow.calling_policy).where(OrganizationRow.id == org_id))
    return CallingPolicy.model_validate(stored) if stored is not None else None


async def set_policy(session: AsyncSession, org_id: str, policy: CallingPolicy, *, changed_by: str) -> bool:
    """Store the organization's policy and record the change; False when there is no such organization."""
    org = await session.get(OrganizationRow, org_id)
    if org is None:
        return False
    org.calling_policy = policy.model_dump(mode="json")
    session.add(
        CallingPolicyChangeRow(org_id=org_id, changed_at=utcnow(), changed_by=changed_by, policy=org.calling_policy)
    )
    return True


async def policy_changes(session: AsyncSession, org_id: str, *, limit: int = 20) -> list[CallingPolicyChangeRow]:
    """The organization's latest policy changes, newest first."""
    stmt = (
        select(CallingPolicyChangeRow)
        .where(CallingPolicyChangeRow.org_id == org_id)
        .order_by(CallingPolicyChangeRow.changed_at.desc(), CallingPolicyChangeRow.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def dial_facts(session: AsyncSession, *, org_id: str | None, phone: str, now: datetime) -> DialFacts:
    """Everything the store holds that a dial to ``phone`` is judged on, read at ``now``."""
    if org_id is None:
        return DialFacts(checked_at=now)
    listed = await dnc.get_dnc(session, org_id, phone)
    recent = await recent_dials(session, org_id, [phone], since=now - CAP_LOOKBACK)
    return DialFacts(
        checked_at=now,
        on_do_not_call=listed is not None,
        do_not_call_source=dnc.describe_source(listed) if listed is not None else "",
        recent_attempts=recent.get(phone, []),
        policy=await get_policy(session, org_id) or CallingPolicy(),
    )


RECENT_DIALS_CHUNK = 500
"""Numbers per ``IN (...)`` of :func:`recent_dials`: well under every driver's bound-parameter limit."""


async def recent_dials(
    session: AsyncSession, org_id: str, phones: Sequence[str], *, since: datetime
) -> dict[str, list[datetime]]:
    """When each of ``phones`` (E.164) was dialled after ``since`` by any of the organization's campaigns,
    oldest first; a number not dialled is absent."""
    found: dict[str, list[datetime]] = {}
    wanted = sorted(set(phones))
    for start in range(0, len(wanted), RECENT_DIALS_CHUNK):
        stmt = (
            select(AttemptRow.phone, AttemptRow.started_at)
            .where(
                AttemptRow.org_id == org_id,
                AttemptRow.phone.in_(wanted[start : start + RECENT_DIALS_CHUNK]),
                AttemptRow.started_at > since,
            )
            .order_by(AttemptRow.started_at)
        )
        for phone, started_at in (await session.execute(stmt)).all():
            found.setdefault(phone, []).append(started_at)
    return found


async def record_decision(
    session: AsyncSession,
    *,
    key: str,
    org_id: str | None,
    campaign_id: str,
    external_id: str,
    decision: DialDecision,
    attempt: int | None = None,
) -> None:
    """Keep one decision under ``key``; a retried write of the same key keeps the first."""
    await session.execute(
        dialect_insert(session, DialDecisionRow)
        .values(
            idempotency_key=key,
            org_id=org_id,
            campaign_id=campaign_id,
            external_id=external_id,
            attempt=attempt,
            verdict=decision.verdict.value,
            decided_at=decision.decided_at,
            not_before=decision.not_before,
            reason=decision.reason,
            decision=decision.model_dump(mode="json"),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


async def decisions_for(
    session: AsyncSession,
    org_id: str | None,
    campaign_id: str,
    external_id: str,
    attempt: int | None = None,
    *,
    limit: int = 500,
) -> list[DialDecision]:
    """A contact's decisions in the organization, oldest first (only the one that let ``attempt`` go, when given)."""
    stmt = select(DialDecisionRow.decision).where(
        DialDecisionRow.org_id.is_(None) if org_id is None else DialDecisionRow.org_id == org_id,
        DialDecisionRow.campaign_id == campaign_id,
        DialDecisionRow.external_id == external_id,
    )
    if attempt is not None:
        stmt = stmt.where(DialDecisionRow.attempt == attempt)
    rows = await session.scalars(stmt.order_by(DialDecisionRow.decided_at, DialDecisionRow.id).limit(limit))
    return [DialDecision.model_validate(row) for row in rows]
