"""The post-call analysis activity: it reads the call's transcript from the store, analyses it and stores
the result (``infra/analysis.py``), keyed by the call's attempt, so a retry replaces, never duplicates."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from infra.analysis import analyse_call
from infra.webhooks import WebhookOutbox
from schemas.activity_io import ActivityName
from schemas.analysis import AnalyzeCall
from schemas.settings import Settings
from store import webhooks


class AnalysisActivities:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], outbox: WebhookOutbox | None = None
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._outbox = outbox

    @activity.defn(name=ActivityName.ANALYZE_CALL)
    async def analyze_call(self, request: AnalyzeCall) -> None:
        """Returns nothing: the analysis lives in the store (``call_analyses``), not in the workflow's history.

        The ``call.analyzed`` event is written in the analysis's transaction (outbox) and queued after it."""
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
            queued = (
                await webhooks.call_analyzed_event(session, request.campaign_id, request.external_id, request.attempt)
                if self._outbox
                else []
            )
            await session.commit()
        if self._outbox:
            await self._outbox.dispatch(queued)
