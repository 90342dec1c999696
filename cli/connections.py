"""``ringflow connection ...``: an organization's OAuth connections (list, create, revoke), through
``api/services/connections.py`` as the REST API does. docs/tools.md."""

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import console, service_command

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from schemas.settings import Settings

connection_app = typer.Typer(
    help="OAuth connections: the organization's access to Google Calendar, HubSpot or any OAuth 2 API.",
    no_args_is_help=True,
)
OrgOption = Annotated[str, typer.Option(help="The organization")]


def _refusal() -> type[Exception]:
    from api.services.connections import ConnectionServiceError

    return ConnectionServiceError


@connection_app.command("list")
def connection_list(org: OrgOption = "default") -> None:
    """The organization's connections and their status (never a token)."""

    async def body(settings: "Settings", session: "AsyncSession") -> None:
        from api.services import connections

        for found in await connections.list_connections(session, org_id=org):
            expires = f" expires {found.expires_at:%Y-%m-%d %H:%M}Z" if found.expires_at else ""
            problem = f"  {found.last_error}" if found.last_error else ""
            console.print(f"{found.name}  {found.provider}  {found.status}{expires}{problem}", highlight=False)

    service_command(body, _refusal)


@connection_app.command("create")
def connection_create(
    name: Annotated[str, typer.Argument(help="How tools name it")],
    client_id: Annotated[str, typer.Option(help="The OAuth client's id, from the provider's console")],
    provider: Annotated[str, typer.Option(help="google_calendar, hubspot or generic")] = "generic",
    client_secret: Annotated[
        str, typer.Option(envvar="RINGFLOW_OAUTH_CLIENT_SECRET", help="The client's secret (kept sealed)")
    ] = "",
    authorize_url: Annotated[str | None, typer.Option(help="generic: the authorization endpoint")] = None,
    token_url: Annotated[str | None, typer.Option(help="generic: the token endpoint")] = None,
    revoke_url: Annotated[str | None, typer.Option(help="generic: the revocation endpoint")] = None,
    scope: Annotated[list[str] | None, typer.Option(help="A scope to ask for (repeat it); unset: the preset's")] = None,
    org: OrgOption = "default",
) -> None:
    """Start connecting, and print the URL to open in a browser: the provider asks, then sends the browser back
    to the API's /oauth/callback, which must be running."""
    from pydantic import ValidationError

    from schemas.connections import ConnectionCreate
    from schemas.validation import describe_validation_error

    try:
        request = ConnectionCreate.model_validate(
            {
                "name": name,
                "provider": provider,
                "client_id": client_id,
                "client_secret": client_secret,
                "authorize_url": authorize_url,
                "token_url": token_url,
                "revoke_url": revoke_url,
                "scopes": scope,
            }
        )
    except ValidationError as err:
        raise typer.BadParameter(describe_validation_error(err)) from None

    async def body(settings: "Settings", session: "AsyncSession") -> None:
        from api.services import connections

        started = await connections.create(session, settings, org_id=org, request=request)
        console.print(f"connection {name}: {started.connection.status}; authorize it at:", highlight=False)
        console.print(started.authorization_url, highlight=False, markup=False, soft_wrap=True)

    service_command(body, _refusal)


@connection_app.command("revoke")
def connection_revoke(
    name: Annotated[str, typer.Argument(help="The connection's name")], org: OrgOption = "default"
) -> None:
    """Revoke the grant at the provider and forget the tokens; tools using it stop working."""

    async def body(settings: "Settings", session: "AsyncSession") -> None:
        from api.services import connections

        revoked = await connections.revoke(session, settings, None, org_id=org, name=name)
        console.print(f"connection {name}: {revoked.status} {revoked.last_error}".rstrip(), highlight=False)

    service_command(body, _refusal)


@connection_app.command("tools")
def connection_tools(
    name: Annotated[str, typer.Argument(help="The connection's name")],
    kit: Annotated[
        str | None, typer.Option(help="google_calendar or hubspot (unset: the connection's provider)")
    ] = None,
    org: OrgOption = "default",
) -> None:
    """Create the provider's ready-made tools on the connection (calendar availability and booking; CRM contact
    search, creation and call logging)."""
    from schemas.platform_tools import PlatformToolsRequest

    try:
        request = PlatformToolsRequest.model_validate({"kit": kit})
    except ValueError as err:
        raise typer.BadParameter(str(err).splitlines()[-1], param_hint="--kit") from None

    async def body(settings: "Settings", session: "AsyncSession") -> None:
        from api.services import connections

        for tool in await connections.add_platform_tools(session, settings, org_id=org, name=name, request=request):
            console.print(f"tool {tool.name}: {tool.method} {tool.url}", highlight=False)

    service_command(body, _refusal)
