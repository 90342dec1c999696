"""The post-call analysis activity: it reads the call's transcript from the store, analyses it and stores
the result (``infra/analysis.py``), keyed by the call's attempt, so a retry replaces, never duplicates."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from infra.analysis import analyse_call
from schemas.activity_io import ActivityName
from schemas.analysis import AnalyzeCall
from schemas.settings import Settings


class AnalysisActivities:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._settings = settings
        self._sessions = sessions

    @activity.defn(name=ActivityName.ANALYZE_CALL)
    async def analyze_call(self, request: AnalyzeCall) -> None:
        """Returns nothing: the analysis lives in the store (``call_analyses``), not in the workflow's history.

        Once ``analyse_call`` has stored it (committed below), the analysis is final for this try: what is
        announced about it (a ``call.analyzed`` event) follows the commit, from here."""
        async with self._sessions() as session:
            await analyse_call(
                session,
                self._settings,
                request.campaign_id,
                request.external_id,
                request.attempt,
                request.config,
                request.outcome,
            )
            await session.commit()
