"""``ringflow department ...``: the organization's departments (add, list, remove), through
``api/services/departments.py`` as the REST API does."""

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import CliError, console, store_command

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from schemas.campaign import CallingWindow

department_app = typer.Typer(
    help="Departments: where inbound agents route callers, with business hours and a fallback.", no_args_is_help=True
)
OrgOption = Annotated[str, typer.Option(help="The organization")]
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _days(spec: str) -> frozenset[int]:
    """``mon-fri``, ``sat``, ``mon,wed,fri`` as weekday numbers (0 is Monday)."""
    days: set[int] = set()
    for part in spec.lower().split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError(f"{part!r}: name days mon..sun, e.g. mon-fri or sat,sun")
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)])
    return frozenset(days)


def parse_hours(spec: str) -> "CallingWindow":
    """``"mon-fri 09:00-17:00"``: the days, then the local opening and closing times."""
    from datetime import time

    from schemas.campaign import CallingWindow

    days, _, span = spec.strip().partition(" ")
    opens, _, closes = span.strip().partition("-")
    try:
        return CallingWindow(
            weekdays=_days(days), start=time.fromisoformat(opens.strip()), end=time.fromisoformat(closes.strip())
        )
    except ValueError as err:
        raise typer.BadParameter(f"{spec!r}: {err}; write e.g. 'mon-fri 09:00-17:00'", param_hint="--hours") from None


def _run(body: "Callable[[AsyncSession], Awaitable[None]]") -> None:
    """Run ``body(session)`` on the migrated store; the service's refusals are one line."""

    async def run(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from api.services.departments import DepartmentServiceError

        async with sessions() as session:
            try:
                await body(session)
            except DepartmentServiceError as err:
                raise CliError(str(err)) from None
        return 0

    store_command(run)


@department_app.command("add")
def department_add(
    name: Annotated[str, typer.Argument(help="Lower case, e.g. sales")],
    description: Annotated[str, typer.Option(help="What callers need it for: the agent routes by it")],
    timezone: Annotated[str, typer.Option(help="IANA zone of its hours, e.g. Europe/London")],
    hours: Annotated[list[str], typer.Option(help="Open hours, repeatable: 'mon-fri 09:00-17:00'")],
    target: Annotated[str, typer.Option(help="Transfer target: an E.164 number or a sip: URI")],
    ring_timeout: Annotated[int, typer.Option(help="Seconds to ring before the fallback")] = 30,
    fallback: Annotated[str, typer.Option(help="callback (at its next opening) or message")] = "callback",
    org: OrgOption = "default",
) -> None:
    """Add a department."""
    from pydantic import ValidationError

    from schemas.departments import Department
    from schemas.validation import describe_validation_error

    try:
        department = Department(
            name=name,
            description=description,
            timezone=timezone,
            hours=[parse_hours(spec) for spec in hours],
            transfer_target=target,
            ring_timeout_seconds=ring_timeout,
            fallback=fallback,  # type: ignore[arg-type]
        )
    except ValidationError as err:
        raise typer.BadParameter(describe_validation_error(err)) from None

    async def body(session: "AsyncSession") -> None:
        from api.services import departments

        added = await departments.create(session, org_id=org, department=department)
        console.print(f"department {added.name}: {added.transfer_target}, {added.timezone}", highlight=False)

    _run(body)


@department_app.command("list")
def department_list(org: OrgOption = "default") -> None:
    """The organization's departments: hours, target, ring timeout, fallback."""

    async def body(session: "AsyncSession") -> None:
        from api.services import departments

        for one in await departments.list_departments(session, org_id=org):
            hours = "; ".join(
                f"{','.join(DAY_NAMES[d] for d in sorted(w.weekdays))} {w.start:%H:%M}-{w.end:%H:%M}" for w in one.hours
            )
            console.print(
                f"{one.name}  {one.transfer_target}  {one.timezone} {hours}  "
                f"ring {one.ring_timeout_seconds}s, then {one.fallback}  — {one.description}",
                highlight=False,
                soft_wrap=True,
            )

    _run(body)


@department_app.command("remove")
def department_remove(name: str, org: OrgOption = "default") -> None:
    """Remove a department (refused while an agent routes to it)."""

    async def body(session: "AsyncSession") -> None:
        from api.services import departments

        await departments.delete(session, org_id=org, name=name)
        console.print(f"department {name} removed", highlight=False)

    _run(body)
