"""An organization's OAuth connections: start one (the authorization URL), finish it (the provider's callback),
list them and revoke one. The REST API (``/v1/connections``, ``/oauth/callback``), the dashboard and the CLI
(``ringflow connection``) go through here; the protocol is infra/oauth.py's, the sealing infra/sealing.py's.
docs/tools.md."""

from cryptography.fernet import MultiFernet
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.services import audit, tools
from infra import oauth, sealing
from infra.http_tools import ALLOWED_BY
from infra.webhooks import UnsafeWebhookUrlError, check_url
from schemas.connections import (
    CALLBACK_PATH,
    CONNECTION_REFRESH_WORKFLOW,
    ConnectionCreate,
    ConnectionOut,
    ConnectionStarted,
    ConnectionStatus,
    Provider,
    RefreshConnection,
    refresh_workflow_id,
)
from schemas.platform_tools import PlatformToolsRequest, platform_tools
from schemas.settings import Settings
from schemas.tools import HttpToolOut
from store import connections
from store import tools as tool_store
from store.models import OAuthConnectionRow, as_utc, utcnow


class ConnectionServiceError(Exception):
    """A connection request the service refuses; its sentence is the answer."""


class ConnectionNotFoundError(ConnectionServiceError, LookupError):
    pass


class ConnectionConflictError(ConnectionServiceError):
    pass


class InvalidConnectionError(ConnectionServiceError, ValueError):
    pass


def redirect_uri(settings: Settings) -> str:
    """Where providers send the browser back: the public URL when there is one, else the API on this machine.
    It must be registered with the provider's OAuth client as it is."""
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    base = settings.public_base_url or f"http://{host}:{settings.api_port}"
    return base.rstrip("/") + CALLBACK_PATH


def connection_view(row: OAuthConnectionRow) -> ConnectionOut:
    return ConnectionOut(
        name=row.name,
        provider=Provider(row.provider),
        status=ConnectionStatus(row.status),
        client_id=row.client_id,
        authorize_url=row.authorize_url,
        token_url=row.token_url,
        revoke_url=row.revoke_url,
        scopes=row.scopes,
        expires_at=row.expires_at,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _cipher(settings: Settings) -> MultiFernet:
    try:
        return sealing.sealing_cipher(settings)
    except sealing.SealingKeyError as err:
        raise InvalidConnectionError(str(err)) from None


async def _owned(session: AsyncSession, org_id: str, name: str, *, for_update: bool = False) -> OAuthConnectionRow:
    row = await connections.get_connection_row(session, org_id, name, for_update=for_update)
    if row is None:
        raise ConnectionNotFoundError(f"no connection named {name!r}")
    return row


async def list_connections(session: AsyncSession, *, org_id: str) -> list[ConnectionOut]:
    return [connection_view(row) for row in await connections.list_connection_rows(session, org_id)]


async def get(session: AsyncSession, *, org_id: str, name: str) -> ConnectionOut:
    return connection_view(await _owned(session, org_id, name))


async def create(
    session: AsyncSession,
    settings: Settings,
    *,
    org_id: str,
    request: ConnectionCreate,
    actor: str = audit.CLI_ACTOR,
) -> ConnectionStarted:
    """Store the connection, pending, and answer the provider's authorization URL. A name that is taken by a
    connection still in use is a conflict; a revoked, failed or unfinished one is started again."""
    cipher = _cipher(settings)
    endpoints = request.endpoints()
    if request.provider == Provider.GENERIC:
        for url in (endpoints.authorize_url, endpoints.token_url, endpoints.revoke_url):
            try:
                if url is not None:
                    await check_url(url, allow_private=settings.tool_allow_private_urls, allowed_by=ALLOWED_BY)
            except UnsafeWebhookUrlError as err:
                raise InvalidConnectionError(str(err)) from None
    row = await connections.get_connection_row(session, org_id, request.name, for_update=True)
    if row is not None and row.status == ConnectionStatus.CONNECTED.value:
        raise ConnectionConflictError(
            f"a connection named {request.name!r} is connected: revoke it first (DELETE /v1/connections/{request.name})"
        )
    if row is None:
        row = OAuthConnectionRow(org_id=org_id, name=request.name, created_at=utcnow())
        session.add(row)
    row.provider = request.provider.value
    row.authorize_url, row.token_url, row.revoke_url = (
        endpoints.authorize_url,
        endpoints.token_url,
        endpoints.revoke_url,
    )
    row.authorize_params = endpoints.authorize_params
    row.scopes = endpoints.scopes
    row.client_id = request.client_id
    row.sealed_client_secret = sealing.seal(cipher, request.client_secret)
    row.last_error = ""
    row.updated_at = utcnow()
    oauth.forget_tokens(row, ConnectionStatus.PENDING)
    url = await oauth.start_flow(cipher, row, redirect_uri(settings))
    await audit.record(
        session,
        org_id=org_id,
        actor=actor,
        action="connection.create",
        target=request.name,
        details={"provider": request.provider.value, "client_id": request.client_id},
    )
    await session.commit()
    return ConnectionStarted(connection=connection_view(row), authorization_url=url)


async def complete(
    session: AsyncSession,
    settings: Settings,
    client: Client,
    *,
    state: str,
    code: str | None,
    error: str | None = None,
) -> ConnectionOut:
    """The provider's callback: exchange the code for tokens and start the connection's refresh workflow. The
    state names the pending connection and is good once, for a few minutes; a provider's refusal (``error``)
    leaves the connection in error, saying why."""
    row = await connections.connection_row_by_state(session, state)
    if row is None or row.pending_until is None:
        raise InvalidConnectionError("unknown or already used state: start connecting again")
    if as_utc(row.pending_until) < utcnow():
        raise InvalidConnectionError("this authorization took too long: start connecting again")
    if error or not code:
        oauth.forget_tokens(row, ConnectionStatus.ERROR)
        row.last_error = f"the provider refused the authorization: {error or 'no code given'}"
    else:
        await oauth.finish_flow(_cipher(settings), row, code, redirect_uri(settings))
    row.updated_at = utcnow()
    await audit.record(
        session,
        org_id=row.org_id,
        actor=f"oauth callback ({row.provider})",
        action="connection.authorize",
        target=row.name,
        details={"status": row.status, "error": row.last_error},
    )
    await session.commit()
    if row.status == ConnectionStatus.CONNECTED.value:
        await client.start_workflow(
            CONNECTION_REFRESH_WORKFLOW,
            RefreshConnection(org_id=row.org_id, name=row.name),
            id=refresh_workflow_id(row.org_id, row.name),
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
        )
    return connection_view(row)


async def revoke(
    session: AsyncSession,
    settings: Settings,
    client: Client | None,
    *,
    org_id: str,
    name: str,
    actor: str = audit.CLI_ACTOR,
) -> ConnectionOut:
    """Ask the provider to revoke the grant, then forget the tokens and mark the connection revoked, whatever
    the provider answered (its answer is kept in ``last_error``): a revoke in Ringflow is always final. The
    refresh workflow is cancelled (without a ``client``, as on the command line, it ends when it next wakes)."""
    row = await _owned(session, org_id, name, for_update=True)
    problem = await oauth.revoke_at_provider(_cipher(settings), row)
    oauth.forget_tokens(row, ConnectionStatus.REVOKED)
    row.last_error = f"the provider's revocation failed ({problem}); the tokens are forgotten here" if problem else ""
    row.updated_at = utcnow()
    await audit.record(session, org_id=org_id, actor=actor, action="connection.revoke", target=name)
    await session.commit()
    if client is not None:
        try:
            await client.get_workflow_handle(refresh_workflow_id(org_id, name)).cancel()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
    return connection_view(row)


async def add_platform_tools(
    session: AsyncSession,
    settings: Settings,
    *,
    org_id: str,
    name: str,
    request: PlatformToolsRequest,
    actor: str = audit.CLI_ACTOR,
) -> list[HttpToolOut]:
    """Create the kit's ready-made tools on the connection (all or none: a name already taken refuses them all)."""
    row = await _owned(session, org_id, name)
    kit = request.kit or Provider(row.provider)
    made = platform_tools(kit, name, request.api_base_url)
    if not made:
        raise InvalidConnectionError(f"{kit.value} has no platform tools: name a kit (google_calendar or hubspot)")
    taken = sorted({tool.name for tool in made} & await tool_store.tool_names(session, org_id))
    if taken:
        raise ConnectionConflictError(f"tools named {', '.join(taken)} already exist: delete them first")
    return [await tools.create(session, settings, org_id=org_id, tool=tool, actor=actor) for tool in made]
