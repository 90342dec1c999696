"""HTTP tools: the organization's user-defined tools its agents may call, and a test run of one."""

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from api.deps import Context, CurrentOrg, CurrentPrincipal, DbSession
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES
from api.services import tools as service
from schemas.api import ErrorBody
from schemas.tools import HttpTool, HttpToolOut, ToolResult, ToolTestRequest

router = APIRouter(prefix="/v1/tools", tags=["tools"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such tool in your organization"}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The name is taken, or an agent still uses the tool"}
}


def _refused(err: service.ToolServiceError) -> HTTPException:
    if isinstance(err, service.ToolNotFoundError):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(err))
    if isinstance(err, service.ToolConflictError):
        return HTTPException(status.HTTP_409_CONFLICT, str(err))
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err))


@router.get("", response_model=list[HttpToolOut])
async def list_tools(org: CurrentOrg, session: DbSession) -> list[HttpToolOut]:
    """The organization's HTTP tools, by name. Secrets show only as a hint of their last characters."""
    return await service.list_tools(session, org_id=org.id)


@router.post("", response_model=HttpToolOut, status_code=status.HTTP_201_CREATED, responses=CONFLICT)
async def create_tool(
    body: HttpTool, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> HttpToolOut:
    """Create an HTTP tool. Its auth secret is stored and never shown again. A URL whose host resolves to a
    private, loopback, link-local or reserved address is a 422 unless the deployment allows it
    (``RINGFLOW_TOOL_ALLOW_PRIVATE_URLS``)."""
    try:
        return await service.create(session, ctx.settings, org_id=org.id, tool=body, actor=principal.actor)
    except service.ToolServiceError as err:
        raise _refused(err) from None


@router.get("/{name}", response_model=HttpToolOut, responses=NOT_FOUND)
async def get_tool(name: str, org: CurrentOrg, session: DbSession) -> HttpToolOut:
    try:
        return await service.get(session, org_id=org.id, name=name)
    except service.ToolServiceError as err:
        raise _refused(err) from None


@router.put("/{name}", response_model=HttpToolOut, responses=NOT_FOUND)
async def replace_tool(
    name: str, body: HttpTool, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> HttpToolOut:
    """Replace the tool's definition; an auth of the same kind with an empty ``secret`` keeps the stored secret.
    Calls already under way keep the tools they started with."""
    try:
        return await service.replace(session, ctx.settings, org_id=org.id, name=name, tool=body, actor=principal.actor)
    except service.ToolServiceError as err:
        raise _refused(err) from None


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, responses={**NOT_FOUND, **CONFLICT})
async def delete_tool(name: str, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Delete the tool; a 409 while an agent has it switched on."""
    try:
        await service.delete(session, org_id=org.id, name=name, actor=principal.actor)
    except service.ToolServiceError as err:
        raise _refused(err) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/test", response_model=ToolResult, responses=NOT_FOUND)
async def test_tool(name: str, body: ToolTestRequest, org: CurrentOrg, session: DbSession, ctx: Context) -> ToolResult:
    """Run the tool once with sample ``arguments``, as a call would (same request, SSRF guard and response
    mapping), without recording it: ``reply`` is what the model would be handed."""
    try:
        return await service.test(session, ctx.settings, org_id=org.id, name=name, arguments=body.arguments)
    except service.ToolServiceError as err:
        raise _refused(err) from None
