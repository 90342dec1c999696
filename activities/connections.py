"""The OAuth connection activity: one refresh step of a connection's refresh workflow."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from infra import oauth
from schemas.connections import REFRESH_CONNECTION_ACTIVITY, RefreshConnection, RefreshOutcome
from schemas.settings import Settings


class ConnectionActivities:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._settings = settings
        self._sessions = sessions

    @activity.defn(name=REFRESH_CONNECTION_ACTIVITY)
    async def refresh_connection(self, request: RefreshConnection) -> RefreshOutcome:
        """Refresh when due; an unreachable provider raises, so Temporal tries again with backoff."""
        async with self._sessions() as session:
            return await oauth.refresh_if_due(session, self._settings, request)
