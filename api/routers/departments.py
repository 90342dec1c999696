"""Departments: where the organization's inbound agents route callers, by what the caller needs."""

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from api.deps import CurrentOrg, CurrentPrincipal, DbSession
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES
from api.services import departments as service
from schemas.api import ErrorBody
from schemas.departments import Department

router = APIRouter(prefix="/v1/departments", tags=["departments"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such department in your organization"}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The name is taken, or an agent still routes to the department"}
}


def _refused(err: service.DepartmentServiceError) -> HTTPException:
    if isinstance(err, service.DepartmentNotFoundError):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(err))
    if isinstance(err, service.DepartmentConflictError):
        return HTTPException(status.HTTP_409_CONFLICT, str(err))
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err))


@router.get("", response_model=list[Department])
async def list_departments(org: CurrentOrg, session: DbSession) -> list[Department]:
    """The organization's departments, by name."""
    return await service.list_departments(session, org_id=org.id)


@router.post("", response_model=Department, status_code=status.HTTP_201_CREATED, responses=CONFLICT)
async def create_department(
    body: Department, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal
) -> Department:
    """Create a department: its hours in its own zone, its transfer target (E.164 or ``sip:``), ring timeout
    and fallback (``callback`` at its next opening, or ``message``)."""
    try:
        return await service.create(session, org_id=org.id, department=body, actor=principal.actor)
    except service.DepartmentServiceError as err:
        raise _refused(err) from None


@router.get("/{name}", response_model=Department, responses=NOT_FOUND)
async def get_department(name: str, org: CurrentOrg, session: DbSession) -> Department:
    try:
        return await service.get(session, org_id=org.id, name=name)
    except service.DepartmentServiceError as err:
        raise _refused(err) from None


@router.put("/{name}", response_model=Department, responses=NOT_FOUND)
async def replace_department(
    name: str, body: Department, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal
) -> Department:
    try:
        return await service.replace(session, org_id=org.id, name=name, department=body, actor=principal.actor)
    except service.DepartmentServiceError as err:
        raise _refused(err) from None


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, responses={**NOT_FOUND, **CONFLICT})
async def delete_department(name: str, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Delete the department; a 409 while an agent routes to it."""
    try:
        await service.delete(session, org_id=org.id, name=name, actor=principal.actor)
    except service.DepartmentServiceError as err:
        raise _refused(err) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
