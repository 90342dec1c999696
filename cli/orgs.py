"""``ringflow org ...``: organizations, their API keys, members, calling policy and capacity."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import CliError, console, store_command

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


org_app = typer.Typer(help="Organizations, their API keys and members (REST API, dashboard).", no_args_is_help=True)


@org_app.command("create")
def org_create(name: Annotated[str, typer.Argument(help="The organization's name")]) -> None:
    """Create an organization and print its first API key (shown only this once)."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from api.services import audit
        from store.orgs import SHOWN_PREFIX_LENGTH, create_org

        try:
            async with sessions() as session:
                org, key = await create_org(session, name)
                await audit.record(
                    session,
                    org_id=org.id,
                    actor=audit.CLI_ACTOR,
                    action="key.create",
                    target=key[:SHOWN_PREFIX_LENGTH],
                    details={"label": "", "scope": "full", "first": True},
                )
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
    scope: Annotated[str, typer.Option(help="read (GET only) or full (what an admin may do)")] = "full",
) -> None:
    """Print a new API key for the organization (shown only this once)."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from api.services import access
        from api.services.audit import CLI_ACTOR
        from store.orgs import get_org

        async with sessions() as session:
            if await get_org(session, org_id) is None:
                raise CliError(f"no organization {org_id!r}: see `ringflow org list`")
            try:
                created = await access.create_key(session, org_id=org_id, label=label, scope=scope, actor=CLI_ACTOR)
            except access.AccessError as err:
                raise CliError(str(err)) from None
        _print_key(org_id, created.key)
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
        from api.services import access
        from api.services.audit import CLI_ACTOR

        try:
            async with sessions() as session:
                await access.revoke_key(session, org_id=org_id, prefix=key_prefix, actor=CLI_ACTOR)
        except access.AccessError as err:
            raise CliError(str(err)) from None
        except access.AccessNotFoundError:
            raise CliError(f"organization {org_id!r} has no live key starting with {key_prefix[:10]!r}") from None
        console.print(f"revoked the key {escape(key_prefix[:10])}… of {escape(org_id)}", highlight=False)
        return 0

    store_command(body)


@org_app.command("policy")
def org_policy(
    org_id: Annotated[str, typer.Argument(help="The organization's id ('default' for the CLI's own)")] = "default",
    set_from: Annotated[
        Path | None,
        typer.Option(
            "--set", exists=True, dir_okay=False, readable=True, help="Replace the policy with this JSON file's"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the policy as JSON")] = False,
) -> None:
    """Show the organization's calling policy over the legal floor, or replace it (--set policy.json).

    The file is a CallingPolicy: ``{"rules": [{"region": "US", "start": "09:00", "end": "20:00"}],
    "max_attempts_per_24h": 3, "max_attempts_per_7d": 8, "numbers": {"allow_toll_free": true}}``;
    ``numbers`` holds the number rules (vanity and toll-free numbers are refused unless allowed). A rule
    that widens the floor needs a ``legal_basis``; every dial made under it records the basis
    (docs/compliance.md).
    """

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from pydantic import ValidationError

        from api.services import policy as service
        from schemas.compliance import CallingPolicy
        from schemas.validation import describe_validation_error

        async with sessions() as session:
            if set_from is None:
                shown = await service.show(session, org_id=org_id)
            else:
                try:
                    new = CallingPolicy.model_validate_json(set_from.read_text(encoding="utf-8"))
                    shown = await service.replace(session, org_id=org_id, policy=new, changed_by="cli")
                except ValidationError as err:
                    raise CliError(f"{set_from}: {describe_validation_error(err)}") from None
                except service.UnknownOrganizationError as err:
                    raise CliError(f"{err}: see `ringflow org list`") from None
        if as_json:
            console.print_json(shown.model_dump_json())
            return 0
        table = Table("region", "hours", "max per 24 h", "from", title=f"calling policy of {escape(org_id)}")
        own = {rule.region for rule in shown.policy.rules}
        for rule in [*shown.policy.rules, *(r for r in shown.floor if r.region not in own)]:
            origin = f"override: {rule.legal_basis}" if rule in shown.overrides else rule.source or "organization"
            hours = rule.describe().split(" ", 1)[1]
            table.add_row(rule.region, hours, str(rule.max_attempts_per_24h or "-"), escape(origin))
        console.print(table)
        caps = shown.policy
        console.print(
            f"attempts per number: {caps.max_attempts_per_24h or '-'} per 24 h, {caps.max_attempts_per_7d or '-'} "
            "per 7 days, across every campaign",
            highlight=False,
        )
        numbers = caps.numbers
        console.print(
            f"numbers: vanity {'allowed' if numbers.allow_vanity else 'refused'}, toll-free "
            f"{'allowed' if numbers.allow_toll_free else 'refused'}; premium-rate, shared-cost, personal, pager "
            "and voicemail numbers always refused",
            highlight=False,
        )
        return 0

    store_command(body)


@org_app.command("capacity")
def org_capacity(
    org_id: Annotated[str, typer.Argument(help="The organization's id ('default' for the CLI's own)")] = "default",
    max_calls: Annotated[
        int | None, typer.Option("--max-calls", help="Calls at once across every campaign and inbound call")
    ] = None,
    inbound_reserve: Annotated[
        int | None, typer.Option("--inbound-reserve", help="Lines of the cap outbound dials never take")
    ] = None,
    no_cap: Annotated[bool, typer.Option("--no-cap", help="Lift the cap (and the reserve with it)")] = False,
) -> None:
    """Show the organization's cap on calls at once and the lines in use, or change them.

    Campaigns share the outbound lines (the cap less the inbound reserve) fairly; an inbound call may take
    any line up to the cap, so the reserve is always there for one (docs/campaign-safety.md). An option
    left out keeps its current value.
    """

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from pydantic import ValidationError

        from api.services import capacity as service
        from api.services.audit import CLI_ACTOR
        from schemas.capacity import OrgCapacity
        from schemas.validation import describe_validation_error

        async with sessions() as session:
            try:
                shown = await service.show(session, org_id=org_id)
                if no_cap or max_calls is not None or inbound_reserve is not None:
                    current = shown.capacity
                    wanted = (
                        OrgCapacity()
                        if no_cap
                        else OrgCapacity(
                            max_concurrent_calls=current.max_concurrent_calls if max_calls is None else max_calls,
                            inbound_reserve=current.inbound_reserve if inbound_reserve is None else inbound_reserve,
                        )
                    )
                    shown = await service.replace(session, org_id=org_id, settings=wanted, actor=CLI_ACTOR)
            except ValidationError as err:
                raise CliError(describe_validation_error(err)) from None
            except service.UnknownOrganizationError as err:
                raise CliError(f"{err}: see `ringflow org list`") from None
        settings, in_use = shown.capacity, shown.in_use
        if settings.max_concurrent_calls is None:
            console.print(f"{escape(org_id)}: no cap on calls at once", highlight=False)
        else:
            console.print(
                f"{escape(org_id)}: at most {settings.max_concurrent_calls} calls at once, "
                f"{settings.inbound_reserve} of them kept for inbound calls",
                highlight=False,
            )
        console.print(f"in use: {in_use.outbound} outbound, {in_use.inbound} inbound", highlight=False)
        for campaign_id, lines in sorted(in_use.by_campaign.items()):
            console.print(f"  {escape(campaign_id)}: {lines}", highlight=False)
        return 0

    store_command(body)


def _print_key(org_id: str, key: str) -> None:
    console.print(f"organization [bold]{escape(org_id)}[/bold]", highlight=False)
    console.print(f"API key (shown once, keep it safe): [bold]{key}[/bold]", highlight=False, soft_wrap=True)


member_app = typer.Typer(help="Members: who logs in to the dashboard, and their roles.", no_args_is_help=True)
org_app.add_typer(member_app, name="member")


@member_app.command("add")
def member_add(
    org_id: Annotated[str, typer.Argument(help="The organization's id")],
    email: Annotated[str, typer.Argument(help="What the member logs in with; unique across organizations")],
    role: Annotated[str, typer.Option(help="owner, admin, operator or viewer")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin (for scripts)")
    ] = False,
) -> None:
    """Add a member (the first owner, say); asks for the password unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from api.services import access
        from api.services.audit import CLI_ACTOR

        try:
            async with sessions() as session:
                added = await access.add_member(
                    session, org_id=org_id, email=email, password=password, role=role, actor=CLI_ACTOR
                )
        except access.AccessError as err:
            raise CliError(str(err)) from None
        console.print(f"{escape(added.email)} is now {added.role} of {escape(org_id)}", highlight=False)
        return 0

    store_command(body)


@member_app.command("list")
def member_list(org_id: Annotated[str, typer.Argument(help="The organization's id")]) -> None:
    """The organization's members and their roles."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from api.services import access

        table = Table("email", "role", "since")
        async with sessions() as session:
            for member in await access.list_members(session, org_id=org_id):
                table.add_row(escape(member.email), member.role, f"{member.created_at:%Y-%m-%d %H:%M} UTC")
        console.print(table)
        return 0

    store_command(body)


@member_app.command("role")
def member_role(
    org_id: Annotated[str, typer.Argument(help="The organization's id")],
    email: Annotated[str, typer.Argument(help="The member's email")],
    role: Annotated[str, typer.Argument(help="owner, admin, operator or viewer")],
) -> None:
    """Change a member's role (the last owner cannot step down)."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from api.services import access
        from api.services.audit import CLI_ACTOR

        try:
            async with sessions() as session:
                changed = await access.set_role(session, org_id=org_id, email=email, role=role, actor=CLI_ACTOR)
        except (access.AccessError, access.AccessNotFoundError) as err:
            raise CliError(str(err)) from None
        console.print(f"{escape(changed.email)} is now {changed.role}", highlight=False)
        return 0

    store_command(body)


@member_app.command("remove")
def member_remove(
    org_id: Annotated[str, typer.Argument(help="The organization's id")],
    email: Annotated[str, typer.Argument(help="The member's email")],
) -> None:
    """Remove a member; their dashboard sessions end at once."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from api.services import access
        from api.services.audit import CLI_ACTOR

        try:
            async with sessions() as session:
                await access.remove_member(session, org_id=org_id, email=email, actor=CLI_ACTOR)
        except (access.AccessError, access.AccessNotFoundError) as err:
            raise CliError(str(err)) from None
        console.print(f"removed {escape(email)} from {escape(org_id)}", highlight=False)
        return 0

    store_command(body)
