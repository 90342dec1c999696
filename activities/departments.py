"""The department activities: load one department for a route, record a route step on its call."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from schemas.departments import (
    LOAD_DEPARTMENT_ACTIVITY,
    RECORD_CALL_ROUTE_ACTIVITY,
    CallRouteRecord,
    Department,
    LoadDepartment,
)
from store import departments


class DepartmentActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=LOAD_DEPARTMENT_ACTIVITY)
    async def load_department(self, request: LoadDepartment) -> Department | None:
        """The department as it is now; none when the organization has no department of that name."""
        async with self._sessions() as session:
            return await departments.get_department(session, request.org_id, request.name)

    @activity.defn(name=RECORD_CALL_ROUTE_ACTIVITY)
    async def record_call_route(self, record: CallRouteRecord) -> None:
        async with self._sessions() as session:
            await departments.record_route(session, record)
            await session.commit()
