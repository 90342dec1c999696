"""OAuth connections: the organization's authorized access to providers' APIs, which HTTP tools use; and the
callback the provider sends the browser back to (outside /v1: the browser carries no API key, the state
names the connection)."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import RedirectResponse

from api.deps import Context, CurrentOrg, CurrentPrincipal, DbSession
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES
from api.services import connections as service
from api.services.tools import ToolServiceError
from schemas.api import ErrorBody
from schemas.connections import CALLBACK_PATH, ConnectionCreate, ConnectionOut, ConnectionStarted
from schemas.platform_tools import PlatformToolsRequest
from schemas.tools import HttpToolOut

router = APIRouter(prefix="/v1/connections", tags=["connections"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)
callback_router = APIRouter(tags=["connections"])
DASHBOARD_PAGE = "/connections"
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such connection in your organization"}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "A connection of that name is connected"}
}


def _refused(err: service.ConnectionServiceError) -> HTTPException:
    if isinstance(err, service.ConnectionNotFoundError):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(err))
    if isinstance(err, service.ConnectionConflictError):
        return HTTPException(status.HTTP_409_CONFLICT, str(err))
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err))


@router.get("", response_model=list[ConnectionOut])
async def list_connections(org: CurrentOrg, session: DbSession) -> list[ConnectionOut]:
    """The organization's connections, by name: their status and expiry, never a token or a client secret."""
    return await service.list_connections(session, org_id=org.id)


@router.post("", response_model=ConnectionStarted, status_code=status.HTTP_201_CREATED, responses=CONFLICT)
async def create_connection(
    body: ConnectionCreate, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> ConnectionStarted:
    """Start connecting: the connection is stored pending, and ``authorization_url`` is where a browser goes to
    authorize it (authorization code with PKCE; the state is good for 10 minutes). The provider's OAuth client
    must allow the redirect URI ``<RINGFLOW_PUBLIC_BASE_URL>/oauth/callback``."""
    try:
        return await service.create(session, ctx.settings, org_id=org.id, request=body, actor=principal.actor)
    except service.ConnectionServiceError as err:
        raise _refused(err) from None


@router.get("/{name}", response_model=ConnectionOut, responses=NOT_FOUND)
async def get_connection(name: str, org: CurrentOrg, session: DbSession) -> ConnectionOut:
    try:
        return await service.get(session, org_id=org.id, name=name)
    except service.ConnectionServiceError as err:
        raise _refused(err) from None


@router.delete("/{name}", response_model=ConnectionOut, responses=NOT_FOUND)
async def revoke_connection(
    name: str, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> ConnectionOut:
    """Revoke the connection: the provider is asked to revoke the grant, and its tokens are forgotten here;
    tools using it then fail with a sentence saying it must be connected again."""
    try:
        return await service.revoke(session, ctx.settings, ctx.client, org_id=org.id, name=name, actor=principal.actor)
    except service.ConnectionServiceError as err:
        raise _refused(err) from None


@router.post(
    "/{name}/tools",
    response_model=list[HttpToolOut],
    status_code=status.HTTP_201_CREATED,
    responses={**NOT_FOUND, 409: {"model": ErrorBody, "description": "A tool of one of their names exists"}},
)
async def add_platform_tools(
    name: str,
    body: PlatformToolsRequest,
    org: CurrentOrg,
    session: DbSession,
    ctx: Context,
    principal: CurrentPrincipal,
) -> list[HttpToolOut]:
    """Create the ready-made tools of the connection's provider on it: Google Calendar's ``calendar_free_busy``
    and ``calendar_book``; HubSpot's ``hubspot_find_contact``, ``hubspot_create_contact`` and
    ``hubspot_log_call``. They are ordinary HTTP tools: switch them on for an agent, change or delete them."""
    try:
        return await service.add_platform_tools(
            session, ctx.settings, org_id=org.id, name=name, request=body, actor=principal.actor
        )
    except service.ConnectionServiceError as err:
        raise _refused(err) from None
    except ToolServiceError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from None


@callback_router.get(
    CALLBACK_PATH,
    response_model=ConnectionOut,
    responses={400: {"model": ErrorBody, "description": "An unknown, used or expired state"}},
)
async def oauth_callback(
    request: Request, session: DbSession, ctx: Context, state: str, code: str | None = None, error: str | None = None
) -> ConnectionOut | RedirectResponse:
    """Where the provider sends the browser back with ``code`` (or ``error``) and ``state``: the code is
    exchanged for tokens, and the connection is shown (connected, or in error saying why); a browser asking
    for HTML is sent on to the dashboard's connections page, which shows the same."""
    try:
        connection = await service.complete(session, ctx.settings, ctx.client, state=state, code=code, error=error)
    except service.ConnectionServiceError as err:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(err)) from None
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(DASHBOARD_PAGE, status_code=status.HTTP_303_SEE_OTHER)
    return connection
