"""What every ``ringflow`` command shares: the consoles, one-line failures with an exit code, the settings,
running a command's coroutine, the store and the Temporal client, and duration and calling-window parsing.

Temporal and SQLAlchemy are imported inside the functions that use them, so that ``ringflow --help`` and
option mistakes answer at once. User mistakes (a bad duration, a missing file, no server running) end in one
line on stderr and a non-zero exit code; only bugs show a traceback.
"""

import asyncio
import logging
import re
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from schemas.campaign import CallingWindow, parse_weekdays
from schemas.imports import CsvImportReport, RowError
from schemas.settings import Settings, get_settings
from schemas.validation import describe_validation_error
from store.csv_import import load_contacts_csv

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client


SETTLE_HORIZON = timedelta(minutes=5)
"""Following stops once only callbacks due later than this are left; the campaign itself goes on."""


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

console = Console()
errors = Console(stderr=True)


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"30m"``, ``"6h"``, ``"2d"``, or several at once: ``"1h30m"``."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise ValueError(f"{text!r} is not a duration: use a number and a unit (s, m, h, d), e.g. 90s, 30m, 6h, 2d")
    total = sum((timedelta(**{_DURATION_UNITS[unit]: float(number)}) for number, unit in parts), timedelta())
    if total <= timedelta(0):
        raise ValueError(f"{text!r} is not a positive duration")
    return total


def format_duration(span: timedelta) -> str:
    """The inverse of :func:`parse_duration`, for messages: ``8h``, ``1m30s``."""
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_window(hours: str | None, days: str | None) -> CallingWindow:
    """``--window 09:00-20:00 --days mon-fri``; either may be left out for its default."""
    try:
        weekdays = parse_weekdays(days) if days else None
    except ValueError:
        raise ValueError(f"--days {days!r} is not a list of weekdays: use e.g. mon-fri, mon,wed,sat or all") from None
    if weekdays is not None and not weekdays:
        raise ValueError(f"--days {days!r} names no weekday")
    try:
        window = CallingWindow.parse(hours) if hours else CallingWindow()
        return window.model_copy(update={"weekdays": weekdays}) if weekdays else window
    except ValidationError as err:
        raise ValueError(f"--window: {describe_validation_error(err)}") from None


def duration_option(text: str) -> timedelta:
    """Typer parser of the DURATION options: a bad duration is a usage error (exit 2) naming the option."""
    try:
        return parse_duration(text)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


def fail(message: str, code: int = 1) -> NoReturn:
    """End the command with one red line on stderr and ``code``; no traceback for the user's mistakes."""
    errors.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    """The settings, and with them the process's log format and tracer (warnings and up: the output is the CLI's)."""
    try:
        settings = get_settings()
    except ValidationError as err:
        fail(f"bad setting in the environment or .env: {describe_validation_error(err)}")
    from infra.observability import setup_observability

    setup_observability(settings, "ringflow-cli", level=logging.WARNING)
    return settings


def run_command(coroutine: Coroutine[Any, Any, int | None], *, interrupt_code: int = 130) -> None:
    """Run a command's coroutine; user-facing failures become one line and an exit code."""
    from sqlalchemy.exc import SQLAlchemyError
    from temporalio.service import RPCError

    from api.services.campaigns import CampaignServiceError
    from api.services.people import PersonServiceError
    from cli.progress import FollowError
    from infra.codec import CodecConfigError
    from worker.devstack import DevStackError

    try:
        code = asyncio.run(_stoppable(coroutine))
    except (KeyboardInterrupt, asyncio.CancelledError):
        errors.print("stopped")
        raise typer.Exit(interrupt_code) from None
    except (CliError, DevStackError, CodecConfigError, CampaignServiceError, PersonServiceError, FollowError) as err:
        fail(str(err))
    except RPCError as err:
        fail(f"Temporal refused: {err.message}")
    except SQLAlchemyError as err:
        detail = str(getattr(err, "orig", None) or err).splitlines()[0]
        fail(f"database error: {detail} (is the database at DATABASE_URL up?)")
    if code:
        raise typer.Exit(code)


async def _stoppable(coroutine: Coroutine[Any, Any, int | None]) -> int | None:
    """SIGTERM cancels the command like Ctrl-C does, so the dev server it started is stopped too."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await coroutine
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def redacted_url(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def load_csv(path: Path) -> CsvImportReport:
    """The contact list of ``path``; an unreadable or non-UTF-8 file ends the command in one line."""
    try:
        return load_contacts_csv(path)
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text: save it as CSV UTF-8")
    except OSError as err:
        fail(f"cannot read {path}: {err.strerror or err}")


def print_import_report(report: CsvImportReport, path: Path) -> None:
    """Counts, then every rejected row with its line number, so the file can be fixed row by row."""
    style = "green" if report.ok else "yellow"
    console.print(
        f"[{style}]{escape(str(path))}: {len(report.contacts)} contact(s) ready, "
        f"{len(report.errors)} row(s) rejected[/{style}]",
        highlight=False,
    )
    print_rejected_rows(report.errors, len(report.errors))


def print_rejected_rows(rows: Sequence[RowError], rejected: int, *, out: Console = console) -> None:
    """The rejected rows with their line numbers, and how many more were rejected than are listed (on
    ``out``: stderr when stdout carries JSON)."""
    if rows:
        table = Table("line", "external id", "problem", title="rejected rows", title_justify="left")
        for error in rows:
            table.add_row(str(error.line), error.external_id or "", error.message)
        out.print(table)
    if rejected > len(rows):
        out.print(f"... and {rejected - len(rows)} more rejected row(s)", highlight=False)


async def connect_temporal(settings: Settings) -> "Client":
    """A client of the running server, or a one-line error saying how to start one."""
    from infra.client import connect
    from worker.devstack import is_listening

    hint = "start it with `ringflow dev`"
    address = settings.temporal_address
    if not await is_listening(address):
        raise CliError(f"no Temporal server at {address}: {hint}")
    try:
        return await connect(settings)
    except RuntimeError as err:
        raise CliError(f"cannot reach Temporal at {address} ({err}): {hint}") from None


async def migrated_store(settings: Settings) -> "async_sessionmaker[AsyncSession]":
    """The migrated store's session factory (migrations first, as `ringflow db upgrade` does)."""
    from store.db import get_session_factory
    from store.migrate import upgrade_database

    await upgrade_database(settings.sqlalchemy_url)
    return get_session_factory(settings.sqlalchemy_url)


def service_command(
    body: Callable[[Settings, "AsyncSession"], Awaitable[None]],
    refusal: Callable[[], type[Exception]],
) -> None:
    """Run ``body(settings, session)`` on the migrated store; the service's refusals (the exception type
    ``refusal()`` answers, imported late like the rest) end in one line."""
    settings = load_settings()

    async def run(sessions: "async_sessionmaker[AsyncSession]") -> int:
        refused = refusal()
        async with sessions() as session:
            try:
                await body(settings, session)
            except refused as err:
                raise CliError(str(err)) from None
        return 0

    store_command(run)


def store_command(body: Callable[["async_sessionmaker[AsyncSession]"], Coroutine[Any, Any, int | None]]) -> None:
    """Run a command body against the migrated store, then close its connections."""
    settings = load_settings()

    async def run() -> int | None:
        from store.db import dispose_cached_engines

        try:
            return await body(await migrated_store(settings))
        finally:
            await dispose_cached_engines()

    run_command(run())
