"""Post-call analyses: one per call, keyed by its attempt ``(campaign_id, external_id, attempt)``."""

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Row, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.analysis import CallAnalysis
from store.models import AttemptRow, CallAnalysisRow, ContactRow
from store.queries import dialect_insert


async def store_analysis(
    session: AsyncSession, campaign_id: str, external_id: str, attempt: int, analysis: CallAnalysis
) -> None:
    """Insert or replace the call's analysis: a retried or re-run analysis leaves one row, the latest."""
    document = analysis.model_dump(mode="json")
    insert = dialect_insert(session, CallAnalysisRow).values(
        campaign_id=campaign_id,
        external_id=external_id,
        attempt=attempt,
        analysis=document,
        created_at=analysis.created_at,
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["campaign_id", "external_id", "attempt"],
            set_={"analysis": document, "created_at": analysis.created_at},
        )
    )


async def analysis_of_call(
    session: AsyncSession, campaign_id: str, external_id: str, attempt: int
) -> CallAnalysis | None:
    row = await session.scalar(
        select(CallAnalysisRow.analysis).where(
            CallAnalysisRow.campaign_id == campaign_id,
            CallAnalysisRow.external_id == external_id,
            CallAnalysisRow.attempt == attempt,
        )
    )
    return None if row is None else CallAnalysis.model_validate(row)


async def latest_of_contact(session: AsyncSession, campaign_id: str, external_id: str) -> CallAnalysis | None:
    """The analysis of the contact's latest analysed call, or None."""
    row = await session.scalar(
        select(CallAnalysisRow.analysis)
        .where(CallAnalysisRow.campaign_id == campaign_id, CallAnalysisRow.external_id == external_id)
        .order_by(CallAnalysisRow.attempt.desc())
        .limit(1)
    )
    return None if row is None else CallAnalysis.model_validate(row)


async def campaign_results(session: AsyncSession, campaign_id: str, *, batch: int = 1000) -> AsyncIterator[Row[Any]]:
    """One row per contact of the campaign, in import order, streamed ``batch`` rows at a time: its
    outcome and attempts, its last call's start and its latest analysis (a JSON document, or None)."""
    last_call = (
        select(AttemptRow.external_id, func.max(AttemptRow.started_at).label("last_call_at"))
        .where(AttemptRow.campaign_id == campaign_id)
        .group_by(AttemptRow.external_id)
        .subquery()
    )
    latest = (
        select(CallAnalysisRow.external_id, func.max(CallAnalysisRow.attempt).label("attempt"))
        .where(CallAnalysisRow.campaign_id == campaign_id)
        .group_by(CallAnalysisRow.external_id)
        .subquery()
    )
    stmt = (
        select(
            ContactRow.external_id,
            ContactRow.phone,
            ContactRow.name,
            ContactRow.final_outcome,
            ContactRow.final_reason,
            ContactRow.attempts,
            last_call.c.last_call_at,
            CallAnalysisRow.analysis,
        )
        .outerjoin(last_call, last_call.c.external_id == ContactRow.external_id)
        .outerjoin(latest, latest.c.external_id == ContactRow.external_id)
        .outerjoin(
            CallAnalysisRow,
            and_(
                CallAnalysisRow.campaign_id == campaign_id,
                CallAnalysisRow.external_id == latest.c.external_id,
                CallAnalysisRow.attempt == latest.c.attempt,
            ),
        )
        .where(ContactRow.campaign_id == campaign_id)
        .order_by(ContactRow.seq)
        .execution_options(yield_per=batch)
    )
    result = await session.stream(stmt)
    async for row in result:
        yield row
