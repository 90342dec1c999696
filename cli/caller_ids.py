"""``ringflow numbers pool ...``: caller-ID pools, the numbers a campaign's calls show (docs/campaign-safety.md)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.markup import escape
from rich.table import Table

from cli.common import CliError, console, fail, store_command
from schemas.validation import describe_validation_error

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from schemas.api import CallerIdPoolOut

Model = TypeVar("Model", bound=BaseModel)

pool_app = typer.Typer(
    help="Caller-ID pools: the numbers a campaign's calls show, their daily caps and quarantine.",
    no_args_is_help=True,
)

Org = Annotated[str, typer.Option("--org", help="The organization that owns the pool")]
PoolName = Annotated[str, typer.Argument(metavar="POOL", help="The pool's name")]
Number = Annotated[str, typer.Argument(metavar="NUMBER", help="One of the organization's numbers, E.164")]


def _body(model: type[Model], **fields: Any) -> Model:
    """The request body the API would take, or a usage error naming the bad option."""
    try:
        return model.model_validate(fields)
    except ValidationError as err:
        fail(describe_validation_error(err), code=2)


@contextmanager
def _refusals() -> Iterator[None]:
    from api.services import caller_ids

    try:
        yield
    except (caller_ids.CallerIdNotFoundError, caller_ids.CallerIdConflictError, caller_ids.NotOrgNumberError) as err:
        raise CliError(str(err)) from None


def _pool_command(change: Callable[["AsyncSession"], Any], *, done: Callable[[Any], None]) -> None:
    """Run one service call of the pool commands in a session; its refusals become one line."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        with _refusals():
            async with sessions() as session:
                result = await change(session)
        done(result)
        return 0

    store_command(body)


def _print_pool(pool: "CallerIdPoolOut") -> None:
    table = Table(
        "number",
        "area",
        "cap/day",
        "calls/s",
        "today",
        "answered",
        "status",
        title=f"pool {escape(pool.name)}: quarantine under {pool.quarantine_fraction:.0%} of the median answer rate "
        f"after {pool.quarantine_min_dials} dials, for {pool.quarantine_hours:g} h",
        title_justify="left",
    )
    for number in pool.numbers:
        status = number.status
        if number.quarantined_until is not None:
            status = f"[yellow]{status} until {number.quarantined_until:%Y-%m-%d %H:%M} UTC[/yellow]"
        table.add_row(
            number.number,
            f"{number.country} {number.area_code}".strip(),
            str(number.daily_cap),
            f"{number.calls_per_second:g}",
            str(number.dials_today),
            f"{number.answered}/{number.dials}",
            status,
        )
    console.print(table)
    for number in pool.numbers:
        if number.quarantine_reason:
            console.print(f"{number.number}: {escape(number.quarantine_reason)}", highlight=False)


@pool_app.command("list")
def pool_list(org: Org = "default") -> None:
    """The organization's pools and their numbers."""
    from api.services import caller_ids

    def done(pools: list["CallerIdPoolOut"]) -> None:
        if not pools:
            console.print("no caller-ID pools yet: `ringflow numbers pool create NAME` makes one")
        for pool in pools:
            _print_pool(pool)

    _pool_command(lambda session: caller_ids.list_pools(session, org_id=org), done=done)


@pool_app.command("show")
def pool_show(name: PoolName, org: Org = "default") -> None:
    """The pool's numbers: dials today, answer record, and any quarantine (a possible spam label)."""
    from api.services import caller_ids

    _pool_command(lambda session: caller_ids.get_pool(session, org_id=org, name=name), done=_print_pool)


@pool_app.command("create")
def pool_create(
    name: PoolName,
    org: Org = "default",
    min_dials: Annotated[int, typer.Option(help="Dials a number needs before it is judged")] = 50,
    fraction: Annotated[float, typer.Option(help="Quarantine under this fraction of the pool's median")] = 0.5,
    hours: Annotated[float, typer.Option(help="How long a quarantine lasts")] = 24.0,
) -> None:
    """Create an empty pool; a campaign uses it with the setting caller_id_pool."""
    from api.services import caller_ids
    from api.services.audit import CLI_ACTOR
    from schemas.api import CallerIdPoolIn

    body = _body(
        CallerIdPoolIn, name=name, quarantine_min_dials=min_dials, quarantine_fraction=fraction, quarantine_hours=hours
    )
    _pool_command(
        lambda session: caller_ids.create_pool(session, org_id=org, body=body, actor=CLI_ACTOR),
        done=lambda pool: console.print(f"caller-ID pool [bold]{escape(pool.name)}[/bold] created", highlight=False),
    )


@pool_app.command("delete")
def pool_delete(name: PoolName, org: Org = "default") -> None:
    """Delete the pool (its numbers stay the organization's); a campaign still naming it dials nobody."""
    from api.services import caller_ids
    from api.services.audit import CLI_ACTOR

    _pool_command(
        lambda session: caller_ids.delete_pool(session, org_id=org, name=name, actor=CLI_ACTOR),
        done=lambda _: console.print(f"caller-ID pool {escape(name)} deleted", highlight=False),
    )


@pool_app.command("add")
def pool_add(
    name: PoolName,
    number: Number,
    org: Org = "default",
    daily_cap: Annotated[int, typer.Option(help="Dials per UTC day at most")] = 100,
    cps: Annotated[float, typer.Option("--cps", help="The number's own calls per second")] = 1.0,
) -> None:
    """Add one of the organization's numbers (`ringflow numbers sync`) to the pool."""
    from api.services import caller_ids
    from api.services.audit import CLI_ACTOR
    from schemas.api import CallerIdIn

    body = _body(CallerIdIn, number=number, daily_cap=daily_cap, calls_per_second=cps)
    _pool_command(
        lambda session: caller_ids.add_number(session, org_id=org, name=name, body=body, actor=CLI_ACTOR),
        done=_print_pool,
    )


@pool_app.command("remove")
def pool_remove(name: PoolName, number: Number, org: Org = "default") -> None:
    """Take a number out of the pool."""
    from api.services import caller_ids
    from api.services.audit import CLI_ACTOR

    _pool_command(
        lambda session: caller_ids.remove_number(session, org_id=org, name=name, number=number, actor=CLI_ACTOR),
        done=lambda _: console.print(f"{escape(number)} removed from caller-ID pool {escape(name)}", highlight=False),
    )
