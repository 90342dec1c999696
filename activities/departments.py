"""The department activities: load one department for a route, record a route step on its call."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from schemas.departments import (
    LOAD_DEPARTMENTS_ACTIVITY,
    RECORD_CALL_ROUTE_ACTIVITY,
    CallRouteRecord,
    Department,
    LoadDepartments,
)
from store import departments


class DepartmentActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=LOAD_DEPARTMENTS_ACTIVITY)
    async def load_departments(self, request: LoadDepartments) -> list[Department]:
        """The named departments as they are now; a name the organization no longer has is left out."""
        async with self._sessions() as session:
            found = [await departments.get_department(session, request.org_id, name) for name in request.names]
        return [department for department in found if department is not None]

    @activity.defn(name=RECORD_CALL_ROUTE_ACTIVITY)
    async def record_call_route(self, record: CallRouteRecord) -> None:
        async with self._sessions() as session:
            await departments.record_route(session, record)
            await session.commit()
