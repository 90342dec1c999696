"""Departments per organization, and the routes recorded on calls."""

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.departments import CallRouteOut, CallRouteRecord, Department, RouteAction
from store.models import CallRouteRow, DepartmentRow, utcnow
from store.queries import dialect_insert, rowcount, save_named_definition


async def get_department(session: AsyncSession, org_id: str, name: str) -> Department | None:
    row = await session.get(DepartmentRow, (org_id, name))
    return Department.model_validate(row.definition) if row is not None else None


async def list_departments(session: AsyncSession, org_id: str) -> list[Department]:
    query = select(DepartmentRow).where(DepartmentRow.org_id == org_id).order_by(DepartmentRow.name)
    return [Department.model_validate(row.definition) for row in (await session.scalars(query)).all()]


async def department_names(session: AsyncSession, org_id: str) -> set[str]:
    return set((await session.scalars(select(DepartmentRow.name).where(DepartmentRow.org_id == org_id))).all())


async def save_department(session: AsyncSession, org_id: str, department: Department) -> None:
    """Create the department, or replace the definition of the one with its name."""
    await save_named_definition(session, DepartmentRow, org_id, department.name, department.model_dump(mode="json"))


async def delete_department(session: AsyncSession, org_id: str, name: str) -> bool:
    result = await session.execute(
        delete(DepartmentRow).where(DepartmentRow.org_id == org_id, DepartmentRow.name == name)
    )
    return rowcount(result) > 0


async def record_route(session: AsyncSession, record: CallRouteRecord) -> None:
    """Store one step of a route. Idempotent on its key: a retried write changes nothing."""
    values = record.model_dump(exclude={"action"})
    await session.execute(
        dialect_insert(session, CallRouteRow)
        .values(**values, action=record.action.value, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


async def routes_for(
    session: AsyncSession, campaign_id: str, external_id: str, attempt: int | None = None
) -> list[CallRouteOut]:
    """A call's route steps (one attempt's, or all the contact's), in the order they were taken."""
    query = select(CallRouteRow).where(CallRouteRow.campaign_id == campaign_id, CallRouteRow.external_id == external_id)
    if attempt is not None:
        query = query.where(CallRouteRow.attempt == attempt)
    return [
        CallRouteOut(
            route_id=row.route_id,
            department=row.department,
            reason=row.reason,
            action=RouteAction(row.action),
            status=row.status,
            was_open=row.was_open,
            target=row.target,
            callback_at=row.callback_at,
            detail=row.detail,
            created_at=row.created_at,
        )
        for row in (await session.scalars(query.order_by(CallRouteRow.id))).all()
    ]
