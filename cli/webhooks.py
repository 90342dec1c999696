"""``ringflow webhook ...``: an organization's webhook endpoints and their delivery log, through
``api/services/webhooks.py`` as the REST API does."""

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import CliError, console, load_settings, run_command
from schemas.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    Sessions = async_sessionmaker[AsyncSession]

webhook_app = typer.Typer(
    help="Webhooks: endpoints that receive signed events, and their deliveries.", no_args_is_help=True
)
OrgOption = Annotated[str, typer.Option(help="The organization")]


def _run(body: Callable[[Settings, "Sessions"], Awaitable[None]]) -> None:
    """Run ``body(settings, sessions)`` on the migrated store; the service's refusals are one line."""
    settings = load_settings()

    async def run() -> int:
        from api.services.webhooks import WebhookServiceError
        from cli.common import migrated_store
        from store.db import dispose_cached_engines

        try:
            await body(settings, await migrated_store(settings))
        except WebhookServiceError as err:
            raise CliError(str(err)) from None
        finally:
            await dispose_cached_engines()
        return 0

    run_command(run())


@webhook_app.command("add")
def webhook_add(
    url: Annotated[str, typer.Argument(help="https:// (or http://) URL the events are POSTed to")],
    events: Annotated[str, typer.Option(help='Comma-separated event types, or "*" for all')] = "*",
    org: OrgOption = "default",
) -> None:
    """Register an endpoint; prints its signing secret, which is never shown again."""
    from schemas.webhooks import WebhookEndpointIn

    try:
        names = [name.strip() for name in events.split(",") if name.strip()]
        endpoint = WebhookEndpointIn(url=url, events="*" if "*" in names or not names else names)
    except ValueError as err:
        raise typer.BadParameter(str(err).splitlines()[-1], param_hint="--events") from None

    async def body(settings: Settings, sessions: "Sessions") -> None:
        from api.services import webhooks

        async with sessions() as session:
            created = await webhooks.create(session, settings, org_id=org, endpoint=endpoint)
        console.print(f"endpoint {created.id} -> {created.url}", highlight=False)
        console.print(f"secret (shown once): {created.secret}", highlight=False)

    _run(body)


@webhook_app.command("list")
def webhook_list(org: OrgOption = "default") -> None:
    """The organization's endpoints."""

    async def body(settings: Settings, sessions: "Sessions") -> None:
        from api.services import webhooks

        async with sessions() as session:
            for endpoint in await webhooks.list_endpoints(session, org_id=org):
                events = endpoint.events if endpoint.events == "*" else ",".join(endpoint.events)
                console.print(f"{endpoint.id}  {endpoint.url}  {events}", highlight=False)

    _run(body)


@webhook_app.command("deliveries")
def webhook_deliveries(
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id (whep_…)")],
    org: OrgOption = "default",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """The endpoint's delivery log, newest first: status, attempts, last answer."""

    async def body(settings: Settings, sessions: "Sessions") -> None:
        from api.services import webhooks

        async with sessions() as session:
            for d in await webhooks.deliveries(session, org_id=org, endpoint_id=endpoint_id, limit=limit):
                answer = d.last_status_code or d.last_error or "-"
                console.print(f"{d.id}  {d.event_type}  {d.status}  attempts={d.attempts}  {answer}", highlight=False)

    _run(body)


@webhook_app.command("redeliver")
def webhook_redeliver(
    delivery_id: Annotated[str, typer.Argument(help="The delivery's id (whdl_…)")], org: OrgOption = "default"
) -> None:
    """Send a delivery again (a dead-lettered one, say); needs the Temporal server."""

    async def body(settings: Settings, sessions: "Sessions") -> None:
        from api.services import webhooks
        from cli.common import connect_temporal

        client = await connect_temporal(settings)
        async with sessions() as session:
            await webhooks.redeliver(session, client, settings, org_id=org, delivery_id=delivery_id)
        console.print(f"{delivery_id} queued again", highlight=False)

    _run(body)


@webhook_app.command("remove")
def webhook_remove(
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id (whep_…)")], org: OrgOption = "default"
) -> None:
    """Stop sending events to the endpoint (its delivery log stays)."""

    async def body(settings: Settings, sessions: "Sessions") -> None:
        from api.services import webhooks

        async with sessions() as session:
            await webhooks.delete(session, org_id=org, endpoint_id=endpoint_id)
        console.print(f"{endpoint_id} removed", highlight=False)

    _run(body)
