"""``ringflow org ...``: organizations and their API keys."""

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import CliError, console, store_command

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


org_app = typer.Typer(help="Organizations and their API keys (REST API, dashboard).", no_args_is_help=True)


@org_app.command("create")
def org_create(name: Annotated[str, typer.Argument(help="The organization's name")]) -> None:
    """Create an organization and print its first API key (shown only this once)."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from store.orgs import create_org

        try:
            async with sessions() as session:
                org, key = await create_org(session, name)
                await session.commit()
        except ValueError as err:
            raise CliError(str(err)) from None
        _print_key(org.id, key)
        return 0

    store_command(body)


@org_app.command("key")
def org_key(
    org_id: Annotated[str, typer.Argument(help="The organization's id, as `ringflow org list` shows it")],
    label: Annotated[str, typer.Option(help="What the key is for, shown in lists")] = "",
) -> None:
    """Print a new API key for the organization (shown only this once)."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from store.orgs import create_api_key, get_org

        async with sessions() as session:
            if await get_org(session, org_id) is None:
                raise CliError(f"no organization {org_id!r}: see `ringflow org list`")
            key = await create_api_key(session, org_id, label)
            await session.commit()
        _print_key(org_id, key)
        return 0

    store_command(body)


@org_app.command("list")
def org_list() -> None:
    """The organizations, with how many live keys each has."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from store.orgs import list_api_keys, list_orgs

        table = Table("id", "name", "live keys", "created")
        async with sessions() as session:
            for org in await list_orgs(session):
                live = [key for key in await list_api_keys(session, org.id) if key.revoked_at is None]
                table.add_row(org.id, escape(org.name), str(len(live)), f"{org.created_at:%Y-%m-%d %H:%M} UTC")
        console.print(table)
        return 0

    store_command(body)


@org_app.command("revoke")
def org_revoke(
    org_id: Annotated[str, typer.Argument(help="The organization's id")],
    key_prefix: Annotated[str, typer.Argument(help="The key, or at least its first 10 characters")],
) -> None:
    """Revoke an API key: requests with it get 401 from then on."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from store.orgs import revoke_api_key

        try:
            async with sessions() as session:
                revoked = await revoke_api_key(session, org_id, key_prefix)
                await session.commit()
        except ValueError as err:
            raise CliError(str(err)) from None
        if not revoked:
            raise CliError(f"organization {org_id!r} has no live key starting with {key_prefix[:10]!r}")
        console.print(f"revoked the key {escape(key_prefix[:10])}… of {escape(org_id)}", highlight=False)
        return 0

    store_command(body)


def _print_key(org_id: str, key: str) -> None:
    console.print(f"organization [bold]{escape(org_id)}[/bold]", highlight=False)
    console.print(f"API key (shown once, keep it safe): [bold]{key}[/bold]", highlight=False, soft_wrap=True)
