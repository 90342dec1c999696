"""The ``ringflow`` command: the embedded dev stack, the offline demo, and campaigns from CSV files.

Temporal, SQLAlchemy and the workflows are imported inside the commands that use them, so that
``ringflow --help`` and option mistakes answer at once, and the parsing is testable without them.
User mistakes (a bad duration, a missing file, no server running) end in one line on stderr and a
non-zero exit code; only bugs show a traceback.
"""

import asyncio
import logging
import re
import shutil
import signal
import time
from collections.abc import Coroutine
from datetime import time as clock_time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from schemas.campaign import ALL_WEEKDAYS, CallingWindow, CampaignSettings, RetryPolicy, parse_weekdays
from schemas.imports import CsvImportReport
from schemas.settings import Settings, get_settings
from store.csv_import import load_contacts_csv

if TYPE_CHECKING:
    from temporalio.client import Client

SAMPLE_CONTACTS = Path(__file__).resolve().parent / "samples" / "demo_contacts.csv"

DEMO_CAMPAIGN = CampaignSettings(
    max_concurrent_calls=8,
    calls_per_second=4,
    retry=RetryPolicy(
        max_attempts=3,
        initial_backoff=timedelta(seconds=4),
        backoff_coefficient=2,
        max_backoff=timedelta(seconds=15),
    ),
    # 00:00-23:59 every day: open whatever the time zone of the machine or of the contacts.
    window=CallingWindow(start=clock_time(0, 0), end=clock_time(23, 59), weekdays=frozenset(ALL_WEEKDAYS)),
    # The sample's ``callback_tomorrow`` callee asks for 10:00 tomorrow. Within a day, the booking stands and
    # the demo ends with it pending; further ahead, it is refused and the call counts as an unanswered try.
    callback_horizon=timedelta(days=1),
)
"""Settings that take the sample list through calls, retries and callbacks in about a minute."""

DEMO_SIM = {"sim_time_scale": 0.4, "sim_callback_delay_seconds": 20.0, "carrier": "sim"}
SETTLE_HORIZON = timedelta(minutes=5)
"""Following stops once only callbacks due later than this are left; the campaign itself goes on."""

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

console = Console()
errors = Console(stderr=True)

app = typer.Typer(
    name="ringflow",
    help="Outbound AI phone-call campaigns where every campaign and contact is a durable Temporal workflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
campaign_app = typer.Typer(help="Start and steer campaigns on a running `ringflow dev`.", no_args_is_help=True)
db_app = typer.Typer(help="The campaign database (SQLite under the data dir, or DATABASE_URL).", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
app.add_typer(db_app, name="db")


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


# ---- parsing ------------------------------------------------------------------------------------


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
        raise ValueError(f"--window: {validation_message(err)}") from None


def validation_message(err: ValidationError) -> str:
    """Pydantic's errors as one line, without its "Value error, " prefixes and documentation links."""
    parts = []
    for detail in err.errors():
        message = detail["msg"].removeprefix("Value error, ")
        location = ".".join(str(part) for part in detail["loc"])
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


def build_campaign_settings(
    *,
    max_concurrent: int | None = None,
    cps: float | None = None,
    max_attempts: int | None = None,
    initial_backoff: timedelta | None = None,
    max_backoff: timedelta | None = None,
    window: str | None = None,
    days: str | None = None,
    callback_horizon: timedelta | None = None,
) -> CampaignSettings:
    """Campaign settings from command-line options; an option left out keeps the model's default."""
    retry = {
        "max_attempts": max_attempts,
        "initial_backoff": initial_backoff,
        "max_backoff": max_backoff,
    }
    fields: dict[str, Any] = {
        "max_concurrent_calls": max_concurrent,
        "calls_per_second": cps,
        "callback_horizon": callback_horizon,
        "window": parse_window(window, days),
    }
    defaults = RetryPolicy()
    first, longest = initial_backoff or defaults.initial_backoff, max_backoff or defaults.max_backoff
    if first > longest:
        raise ValueError(
            f"--initial-backoff {format_duration(first)} is longer than --max-backoff {format_duration(longest)}"
        )
    try:
        fields["retry"] = RetryPolicy(**{name: value for name, value in retry.items() if value is not None})
        return CampaignSettings(**{name: value for name, value in fields.items() if value is not None})
    except ValidationError as err:
        raise ValueError(validation_message(err)) from None


def _duration_option(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


# ---- output and plumbing ------------------------------------------------------------------------


def _fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as err:
        _fail(f"bad setting in the environment or .env: {validation_message(err)}")


def _run(coroutine: Coroutine[Any, Any, int | None], *, interrupt_code: int = 130) -> None:
    """Run a command's coroutine; user-facing failures become one line and an exit code."""
    from sqlalchemy.exc import SQLAlchemyError
    from temporalio.service import RPCError

    from worker.campaigns import CampaignEndedError, CampaignNotFoundError
    from worker.devstack import DevStackError
    from worker.progress import FollowError

    try:
        code = asyncio.run(_stoppable(coroutine))
    except (KeyboardInterrupt, asyncio.CancelledError):
        errors.print("stopped")
        raise typer.Exit(interrupt_code) from None
    except (CliError, DevStackError, CampaignNotFoundError, CampaignEndedError, FollowError) as err:
        _fail(str(err))
    except RPCError as err:
        _fail(f"Temporal refused: {err.message}")
    except SQLAlchemyError as err:
        detail = str(getattr(err, "orig", None) or err).splitlines()[0]
        _fail(f"database error: {detail} (is the database at DATABASE_URL up?)")
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


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _load_csv(path: Path) -> CsvImportReport:
    try:
        return load_contacts_csv(path)
    except UnicodeDecodeError:
        _fail(f"{path} is not UTF-8 text: save it as CSV UTF-8")
    except OSError as err:
        _fail(f"cannot read {path}: {err.strerror or err}")


def print_import_report(report: CsvImportReport, path: Path) -> None:
    """Counts, then every rejected row with its line number, so the file can be fixed row by row."""
    style = "green" if report.ok else "yellow"
    console.print(
        f"[{style}]{escape(str(path))}: {len(report.contacts)} contact(s) ready, "
        f"{len(report.errors)} row(s) rejected[/{style}]",
        highlight=False,
    )
    if report.errors:
        table = Table("line", "external id", "problem", title="rejected rows", title_justify="left")
        for error in report.errors:
            table.add_row(str(error.line), error.external_id or "", error.message)
        console.print(table)


async def _connect(settings: Settings) -> "Client":
    """A client of the running server, or a one-line error saying how to start one."""
    from worker.client import connect
    from worker.devstack import is_listening

    hint = "start it with `ringflow dev`"
    address = settings.temporal_address
    if not await is_listening(address):
        raise CliError(f"no Temporal server at {address}: {hint}")
    try:
        return await connect(settings)
    except RuntimeError as err:
        raise CliError(f"cannot reach Temporal at {address} ({err}): {hint}") from None


# ---- ringflow dev -------------------------------------------------------------------------------


@app.command()
def dev() -> None:
    """Run the dev stack: Temporal dev server (or the one already running), database, worker. Ctrl-C stops it."""
    settings = _settings()
    # The worker's warnings (a refused callback, a retried activity) belong in the dev terminal.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _run(_dev(settings), interrupt_code=0)


async def _dev(settings: Settings) -> None:
    from worker.devstack import DevStack

    async with DevStack(settings) as stack:
        where = f"started here (log: {stack.log_path})" if stack.started_server else "already running, reused"
        console.print(f"Temporal server  {settings.temporal_address}: {where}", highlight=False)
        console.print(f"Web UI           {stack.ui_url}", highlight=False)
        console.print(f"database         {_redacted(settings.sqlalchemy_url)}", highlight=False)
        console.print(
            f"worker           polling task queue '{settings.task_queue}' (carrier: {settings.carrier})",
            highlight=False,
        )
        console.print("[green]ready[/green]: `ringflow campaign start contacts.csv` in another terminal; Ctrl-C stops")
        await asyncio.Event().wait()


# ---- ringflow demo ------------------------------------------------------------------------------


@app.command()
def demo(
    contacts: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, readable=True, help="Contact list (default: the bundled sample)"),
    ] = SAMPLE_CONTACTS,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the stack up afterwards, to browse the Web UI")
    ] = False,
) -> None:
    """Offline end to end: a simulated carrier calls the sample list, with retries and callbacks, in about a minute."""
    base = _settings()
    settings = base.model_copy(
        update={
            **DEMO_SIM,
            "data_dir": base.data_dir / "demo",
            # Its own task queue: a `ringflow dev` worker on a reused server must not take the demo's
            # activities, since it writes to a different database.
            "task_queue": f"{base.task_queue}-demo",
        }
    )
    report = _load_csv(contacts)
    print_import_report(report, contacts)
    if not report.contacts:
        _fail(f"no valid contacts in {contacts}: nothing to call")
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    # The live view and the summary tell the story; worker warnings would only break the display.
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    _run(_demo(settings, report, keep_running), interrupt_code=0 if keep_running else 130)


async def _demo(settings: Settings, report: CsvImportReport, keep_running: bool) -> int:
    from schemas.workflow_io import campaign_workflow_id
    from store.db import get_session_factory
    from worker.campaigns import create_campaign_from_contacts
    from worker.devstack import DevStack
    from worker.progress import follow_campaign, print_summary

    began = time.monotonic()
    async with DevStack(settings) as stack:
        where = "started" if stack.started_server else "reused the running"
        console.print(
            f"{where} Temporal dev server at {settings.temporal_address}; Web UI {stack.ui_url}", soft_wrap=True
        )
        sessions = get_session_factory(settings.sqlalchemy_url)
        campaign_id = await create_campaign_from_contacts(
            stack.client, sessions, "demo", report.contacts, DEMO_CAMPAIGN, task_queue=settings.task_queue
        )
        link = stack.workflow_ui_url(campaign_workflow_id(campaign_id))
        console.print(f"campaign [bold]{campaign_id}[/bold] started: {link}", highlight=False, soft_wrap=True)
        follow = await follow_campaign(stack.client, campaign_id, console=console, settle_horizon=SETTLE_HORIZON)
        agree = await print_summary(console, follow, sessions, ui_link=link)
        console.print(f"demo took {time.monotonic() - began:.0f} s")
        if keep_running:
            console.print(f"the stack keeps running for the Web UI at {stack.ui_url}; Ctrl-C stops it")
            await asyncio.Event().wait()
    return 0 if agree and follow.workflow_error is None else 1


# ---- ringflow campaign ... ----------------------------------------------------------------------


@campaign_app.command("start")
def campaign_start(
    contacts: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, metavar="CONTACTS.csv", help="external_id, name, phone, ..."
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Campaign name (default: the file name)")] = None,
    max_concurrent: Annotated[int | None, typer.Option(help="Calls in progress at once [10]")] = None,
    cps: Annotated[float | None, typer.Option(help="Dials started per second [1]")] = None,
    max_attempts: Annotated[int | None, typer.Option(help="Dials per contact without an answer [4]")] = None,
    initial_backoff: Annotated[
        timedelta | None, typer.Option(parser=_duration_option, metavar="DURATION", help="First redial wait [30m]")
    ] = None,
    max_backoff: Annotated[
        timedelta | None, typer.Option(parser=_duration_option, metavar="DURATION", help="Longest redial wait [6h]")
    ] = None,
    window: Annotated[
        str | None, typer.Option(metavar="HH:MM-HH:MM", help="Local calling hours of each contact [09:00-20:00]")
    ] = None,
    days: Annotated[str | None, typer.Option(help="Calling days: mon-fri, mon,wed,sat or all [mon-fri]")] = None,
    callback_horizon: Annotated[
        timedelta | None,
        typer.Option(parser=_duration_option, metavar="DURATION", help="How far ahead callbacks may be booked [14d]"),
    ] = None,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Show progress until it is done")] = True,
) -> None:
    """Import a CSV contact list and start a campaign on the running `ringflow dev`."""
    try:
        campaign_settings = build_campaign_settings(
            max_concurrent=max_concurrent,
            cps=cps,
            max_attempts=max_attempts,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
            window=window,
            days=days,
            callback_horizon=callback_horizon,
        )
    except ValueError as err:
        _fail(str(err), code=2)
    settings = _settings()
    report = _load_csv(contacts)
    print_import_report(report, contacts)
    if not report.contacts:
        _fail(f"no valid contacts in {contacts}: nothing started")
    _run(_campaign_start(settings, campaign_settings, report, name or contacts.stem, follow))


async def _campaign_start(
    settings: Settings, campaign_settings: CampaignSettings, report: CsvImportReport, name: str, follow: bool
) -> int:
    from schemas.workflow_io import campaign_workflow_id
    from store.db import dispose_cached_engines, get_session_factory
    from store.migrate import upgrade_database
    from worker.campaigns import create_campaign_from_contacts, has_workers
    from worker.devstack import workflow_ui_url
    from worker.progress import follow_campaign, print_summary

    client = await _connect(settings)
    if not await has_workers(client, settings.task_queue):
        errors.print(
            f"[yellow]warning:[/yellow] no worker polls task queue '{settings.task_queue}': "
            "the campaign waits until `ringflow dev` (or `python -m worker`) runs"
        )
    try:
        await upgrade_database(settings.sqlalchemy_url)
        sessions = get_session_factory(settings.sqlalchemy_url)
        campaign_id = await create_campaign_from_contacts(
            client, sessions, name, report.contacts, campaign_settings, task_queue=settings.task_queue
        )
        link = workflow_ui_url(settings, campaign_workflow_id(campaign_id))
        console.print(f"campaign [bold]{campaign_id}[/bold] started: {link}", highlight=False, soft_wrap=True)
        if not follow:
            console.print(f"follow it with `ringflow campaign status {campaign_id}`")
            return 0
        try:
            result = await follow_campaign(client, campaign_id, console=console, settle_horizon=SETTLE_HORIZON)
        except asyncio.CancelledError:
            errors.print(f"stopped following; the campaign goes on: `ringflow campaign status {campaign_id}`")
            raise
        agree = await print_summary(console, result, sessions, ui_link=link)
        if result.ended == "settled":
            console.print(f"`ringflow campaign status {campaign_id}` shows it later")
        return 0 if agree and result.workflow_error is None else 1
    finally:
        await dispose_cached_engines()


CampaignId = Annotated[str, typer.Argument(help="Campaign id, as printed by `campaign start` (c-…)")]


@campaign_app.command("status")
def campaign_status(campaign_id: CampaignId) -> None:
    """One snapshot of a campaign's progress."""
    _run(_campaign_status(_settings(), campaign_id))


async def _campaign_status(settings: Settings, campaign_id: str) -> None:
    from schemas.workflow_io import campaign_workflow_id
    from worker.campaigns import progress
    from worker.devstack import workflow_ui_url
    from worker.progress import activity_line, finished_line

    snapshot = await progress(await _connect(settings), campaign_id)
    console.print(
        f"campaign [bold]{campaign_id}[/bold]: {snapshot.status.value}, "
        f"{snapshot.finished}/{snapshot.total} contact(s) finished",
        highlight=False,
    )
    console.print(activity_line(snapshot), highlight=False, soft_wrap=True)
    console.print(finished_line(snapshot), highlight=False, soft_wrap=True)
    console.print(
        f"Web UI: {workflow_ui_url(settings, campaign_workflow_id(campaign_id))}", highlight=False, soft_wrap=True
    )


@campaign_app.command("pause")
def campaign_pause(campaign_id: CampaignId) -> None:
    """Stop new dials within seconds; calls in progress finish normally."""
    _run(_steer(_settings(), campaign_id, "pause"))


@campaign_app.command("resume")
def campaign_resume(campaign_id: CampaignId) -> None:
    """Resume a paused campaign."""
    _run(_steer(_settings(), campaign_id, "resume"))


@campaign_app.command("cancel")
def campaign_cancel(
    campaign_id: CampaignId,
    reason: Annotated[str, typer.Option(help="Recorded with every contact cancelled")] = "",
) -> None:
    """End a campaign: waiting contacts end as cancelled, calls in progress finish first."""
    _run(_steer(_settings(), campaign_id, "cancel", reason))


async def _steer(settings: Settings, campaign_id: str, action: str, reason: str = "") -> None:
    from worker import campaigns

    client = await _connect(settings)
    if action == "cancel":
        await campaigns.cancel(client, campaign_id, reason)
    elif action == "pause":
        await campaigns.pause(client, campaign_id)
    else:
        await campaigns.resume(client, campaign_id)
    console.print(
        f"{action} sent to campaign {campaign_id}; `ringflow campaign status {campaign_id}` shows it", soft_wrap=True
    )


# ---- ringflow db ... ----------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to the configured database (DATABASE_URL, else SQLite under the data dir)."""
    settings = _settings()
    _run(_db_upgrade(settings))


async def _db_upgrade(settings: Settings) -> None:
    from store.migrate import upgrade_database

    await upgrade_database(settings.sqlalchemy_url)
    console.print(f"{_redacted(settings.sqlalchemy_url)} is at the newest schema", highlight=False)


def main() -> None:
    """Console-script entry point (``ringflow``)."""
    app(prog_name="ringflow")
