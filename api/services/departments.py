"""An organization's departments: create, list, get, replace, delete, and the check that an agent routes only
to departments its organization has. The REST API (``/v1/departments``) and the CLI (``ringflow department``)
go through here."""

from sqlalchemy.ext.asyncio import AsyncSession

from api.services import audit
from schemas.agent import AgentConfig
from schemas.departments import Department
from store import departments, queries


class DepartmentServiceError(Exception):
    """A department request the service refuses; its sentence is the answer."""


class DepartmentNotFoundError(DepartmentServiceError, LookupError):
    pass


class DepartmentConflictError(DepartmentServiceError):
    pass


class InvalidDepartmentError(DepartmentServiceError, ValueError):
    pass


async def list_departments(session: AsyncSession, *, org_id: str) -> list[Department]:
    return await departments.list_departments(session, org_id)


async def get(session: AsyncSession, *, org_id: str, name: str) -> Department:
    found = await departments.get_department(session, org_id, name)
    if found is None:
        raise DepartmentNotFoundError(f"no department named {name!r}")
    return found


async def create(
    session: AsyncSession, *, org_id: str, department: Department, actor: str = audit.CLI_ACTOR
) -> Department:
    if await departments.get_department(session, org_id, department.name) is not None:
        raise DepartmentConflictError(
            f"a department named {department.name!r} already exists: PUT /v1/departments/{department.name} changes it"
        )
    await departments.save_department(session, org_id, department)
    await audit.record(session, org_id=org_id, actor=actor, action="department.create", target=department.name)
    await session.commit()
    return department


async def replace(
    session: AsyncSession, *, org_id: str, name: str, department: Department, actor: str = audit.CLI_ACTOR
) -> Department:
    """Replace the department; calls already routed keep what they were told."""
    if department.name != name:
        raise InvalidDepartmentError(f"name: a department keeps its name ({name!r}); create another to rename it")
    await get(session, org_id=org_id, name=name)
    await departments.save_department(session, org_id, department)
    await audit.record(session, org_id=org_id, actor=actor, action="department.update", target=name)
    await session.commit()
    return department


async def delete(session: AsyncSession, *, org_id: str, name: str, actor: str = audit.CLI_ACTOR) -> None:
    """Delete the department, unless an agent still routes to it (take it off there first)."""
    await get(session, org_id=org_id, name=name)
    users = sorted(agent.name for agent in await queries.list_agents(session, org_id) if name in agent.departments)
    if users:
        raise DepartmentConflictError(
            f"agents {', '.join(users)} route to the department {name!r}: take it off their departments first"
        )
    await departments.delete_department(session, org_id, name)
    await audit.record(session, org_id=org_id, actor=actor, action="department.delete", target=name)
    await session.commit()


async def refuse_unknown_departments(session: AsyncSession, *, org_id: str, agent: AgentConfig) -> None:
    """An agent may route only to departments its organization has."""
    unknown = sorted(set(agent.departments) - await departments.department_names(session, org_id))
    if unknown:
        raise InvalidDepartmentError(
            f"departments: the organization has no department named {', '.join(map(repr, unknown))}"
        )
