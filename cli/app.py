"""The ``ringflow`` command: the embedded dev stack, the offline demo, and campaigns from CSV files.

Temporal, SQLAlchemy and the workflows are imported inside the commands that use them, so that
``ringflow --help`` and option mistakes answer at once, and the parsing is testable without them.
User mistakes (a bad duration, a missing file, no server running) end in one line on stderr and a
non-zero exit code; only bugs show a traceback.
"""

import asyncio
import json
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import time as clock_time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from urllib.parse import urlsplit

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
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from schemas.agent import AgentConfig
    from telephony.twilio_voice import TwilioVoice

SAMPLE_CONTACTS = Path(__file__).resolve().parent / "samples" / "demo_contacts.csv"
DEMO_AGENT = Path(__file__).resolve().parent / "samples" / "demo_agent.json"
DEMO_CONVERSATIONS = 3
"""Finished contacts whose conversation the demo prints after its summary."""

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

DEMO_ORG_ID = "demo"
DEMO_NO_DASHBOARD = "no dashboard this time: the API port is taken (by a `ringflow dev`?); RINGFLOW_API_PORT moves it"
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
agent_app = typer.Typer(
    help="Agents: the AI callers a campaign can use, kept in the campaign database.", no_args_is_help=True
)
app.add_typer(campaign_app, name="campaign")
app.add_typer(agent_app, name="agent")
numbers_app = typer.Typer(
    help="The Twilio account's phone numbers and the agent that answers each one's incoming calls.",
    no_args_is_help=True,
)
app.add_typer(numbers_app, name="numbers")
app.add_typer(db_app, name="db")
org_app = typer.Typer(help="Organizations and their API keys (REST API, dashboard).", no_args_is_help=True)
app.add_typer(org_app, name="org")
codec_app = typer.Typer(
    help="Payload encryption keys: phone numbers, names and transcripts are sealed in Temporal.", no_args_is_help=True
)
app.add_typer(codec_app, name="codec")


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
    """The settings, and with them the process's log format and tracer (warnings and up: the output is the CLI's)."""
    try:
        settings = get_settings()
    except ValidationError as err:
        _fail(f"bad setting in the environment or .env: {validation_message(err)}")
    from infra.observability import setup_observability

    setup_observability(settings, "ringflow-cli", level=logging.WARNING)
    return settings


def _run(coroutine: Coroutine[Any, Any, int | None], *, interrupt_code: int = 130) -> None:
    """Run a command's coroutine; user-facing failures become one line and an exit code."""
    from sqlalchemy.exc import SQLAlchemyError
    from temporalio.service import RPCError

    from api.services.campaigns import CampaignEndedError, CampaignNotFoundError
    from cli.progress import FollowError
    from infra.codec import CodecConfigError
    from worker.devstack import DevStackError

    try:
        code = asyncio.run(_stoppable(coroutine))
    except (KeyboardInterrupt, asyncio.CancelledError):
        errors.print("stopped")
        raise typer.Exit(interrupt_code) from None
    except (CliError, DevStackError, CodecConfigError, CampaignNotFoundError, CampaignEndedError, FollowError) as err:
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


# ---- ringflow dev -------------------------------------------------------------------------------


@app.command()
def dev() -> None:
    """Run the dev stack: Temporal dev server (or the one already running), database, worker. Ctrl-C stops it."""
    settings = _settings()  # the worker's warnings (a refused callback, a retried activity) show in the terminal
    _run(_dev(settings), interrupt_code=0)


async def _dev(settings: Settings) -> None:
    from infra.codec import EncryptionCodec, codec_server_url
    from worker.devstack import DevStack

    async with DevStack(settings) as stack:
        where = f"started here (log: {stack.log_path})" if stack.started_server else "already running, reused"
        console.print(f"Temporal server  {settings.temporal_address}: {where}", highlight=False)
        console.print(f"Web UI           {stack.ui_url}", highlight=False)
        console.print(f"database         {_redacted(settings.sqlalchemy_url)}", highlight=False)
        console.print(
            f"API, dashboard   {stack.api_url} (OpenAPI docs at /docs); "
            "log in with a key from `ringflow org key default`",
            highlight=False,
        )
        codec = stack.client.data_converter.payload_codec
        if isinstance(codec, EncryptionCodec):
            console.print(
                f"payloads         encrypted (key {codec.encrypting_key_id}), "
                f"Web UI decodes at {codec_server_url(settings)}",
                highlight=False,
            )
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
    llm: Annotated[
        str,
        typer.Option("--llm", help="The agent's model: 'scripted' (offline) or 'openai' (needs OPENAI_API_KEY)"),
    ] = "scripted",
) -> None:
    """Offline end to end: a simulated carrier calls the sample list, with retries and callbacks, in about a minute."""
    if llm not in ("scripted", "openai"):
        _fail(f"--llm must be 'scripted' or 'openai', not {llm!r}", code=2)
    if llm == "openai" and not os.environ.get("OPENAI_API_KEY"):
        _fail("--llm openai needs OPENAI_API_KEY in the environment", code=2)
    base = _settings()
    settings = base.model_copy(
        update={
            **DEMO_SIM,
            "agent_llm": llm,
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
    try:
        agent = load_agent_file(DEMO_AGENT)
    except ValueError as err:
        _fail(f"the demo agent: {err}")
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    # The live view and the summary tell the story; worker warnings would only break the display.
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    logging.getLogger("livekit").setLevel(logging.ERROR)
    _run(_demo(settings, report, agent, keep_running), interrupt_code=0 if keep_running else 130)


async def _demo(settings: Settings, report: CsvImportReport, agent: "AgentConfig", keep_running: bool) -> int:
    from api.services.campaigns import create_campaign_from_contacts
    from cli.progress import follow_campaign, print_conversations, print_summary
    from schemas.workflow_io import campaign_workflow_id
    from store import queries
    from store.db import get_session_factory
    from store.orgs import create_api_key, create_org, get_org
    from worker.devstack import DevStack, api_url, is_listening

    began = time.monotonic()
    # A `ringflow dev` may already serve its API on the port: the demo then runs without a dashboard.
    serve_api = not await is_listening(urlsplit(api_url(settings)).netloc)
    async with DevStack(settings, serve_api=serve_api) as stack:
        where = "started" if stack.started_server else "reused the running"
        console.print(
            f"{where} Temporal dev server at {settings.temporal_address}; Web UI {stack.ui_url}", soft_wrap=True
        )
        sessions = get_session_factory(settings.sqlalchemy_url)
        # The demo's agent and campaign belong to an organization of their own, whose key logs in to the
        # dashboard; the agent goes through the store like any agent, so `ringflow agent` finds it afterwards.
        async with sessions() as session:
            # Under DATABASE_URL the store outlives the demo's data dir: a second run finds its organization.
            org = await get_org(session, DEMO_ORG_ID)
            if org is None:
                org, key = await create_org(session, "Demo", org_id=DEMO_ORG_ID)
            else:
                key = await create_api_key(session, org.id, label="demo")
            await queries.save_agent(session, agent, org.id)
            await session.commit()
        dashboard = _demo_dashboard_line(stack.api_url, key) if serve_api else DEMO_NO_DASHBOARD
        console.print(dashboard, highlight=False, soft_wrap=True)
        agent = await load_campaign_agent(sessions, agent.name, org.id)
        campaign_id = await create_campaign_from_contacts(
            stack.client,
            sessions,
            "demo",
            report.contacts,
            DEMO_CAMPAIGN,
            task_queue=settings.task_queue,
            agent=agent,
            org_id=org.id,
        )
        link = stack.workflow_ui_url(campaign_workflow_id(campaign_id))
        console.print(
            f"campaign [bold]{campaign_id}[/bold] started with agent [bold]{escape(agent.name)}[/bold] "
            f"(offline scripted model): {link}",
            highlight=False,
            soft_wrap=True,
        )
        follow = await follow_campaign(stack.client, campaign_id, console=console, settle_horizon=SETTLE_HORIZON)
        agree = await print_summary(console, follow, sessions, ui_link=link)
        await print_conversations(console, sessions, campaign_id)
        console.print(f"demo took {time.monotonic() - began:.0f} s")
        if keep_running:
            console.print(f"the stack keeps running for the Web UI at {stack.ui_url}; Ctrl-C stops it")
            console.print(dashboard, highlight=False, soft_wrap=True)
            await asyncio.Event().wait()
    return 0 if agree and follow.workflow_error is None else 1


def _demo_dashboard_line(url: str, key: str) -> str:
    return f"dashboard {url} (API docs at {url}/docs); log in with the demo organization's key: {key}"


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
    agent: Annotated[
        str | None, typer.Option(metavar="NAME", help="Stored agent that talks to whoever answers (`ringflow agent`)")
    ] = None,
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
    _run(_campaign_start(settings, campaign_settings, report, name or contacts.stem, follow, agent))


async def _campaign_start(
    settings: Settings,
    campaign_settings: CampaignSettings,
    report: CsvImportReport,
    name: str,
    follow: bool,
    agent_name: str | None = None,
) -> int:
    from api.services.campaigns import create_campaign_from_contacts, has_workers
    from cli.progress import follow_campaign, print_summary
    from infra.web_ui import workflow_ui_url
    from schemas.workflow_io import campaign_workflow_id
    from store.db import dispose_cached_engines, get_session_factory
    from store.migrate import upgrade_database

    if agent_name is not None:
        # A missing agent is the user's mistake to fix before anything else happens.
        try:
            agent = await load_campaign_agent(await _migrated_store(settings), agent_name)
        finally:
            await dispose_cached_engines()
    else:
        agent = None
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
            client, sessions, name, report.contacts, campaign_settings, task_queue=settings.task_queue, agent=agent
        )
        link = workflow_ui_url(settings, campaign_workflow_id(campaign_id))
        with_agent = f" with agent [bold]{escape(agent.name)}[/bold]" if agent else ""
        console.print(
            f"campaign [bold]{campaign_id}[/bold] started{with_agent}: {link}", highlight=False, soft_wrap=True
        )
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
    from api.services.campaigns import progress
    from cli.progress import activity_line, finished_line
    from infra.web_ui import workflow_ui_url
    from schemas.workflow_io import campaign_workflow_id

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
    from api.services import campaigns

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


# ---- ringflow agent ... -------------------------------------------------------------------------


def build_agent_config(
    name: str,
    *,
    instructions: str,
    greeting: str = "",
    language: str = "en",
    voice: str | None = None,
    mode: str = "pipeline",
    context_json: str | None = None,
    disabled_tools: Sequence[str] = (),
    transfer_number: str | None = None,
    voicemail_message: str = "",
    active: bool = True,
) -> "AgentConfig":
    """An agent config from command-line options; ``ValueError`` with one line for any mistake."""
    from schemas.agent import AgentConfig, AgentTool
    from schemas.contact import normalize_phone

    if not instructions.strip():
        raise ValueError("--instructions: the prompt is empty")
    context: Any = {}
    if context_json:
        try:
            context = json.loads(context_json)
        except json.JSONDecodeError as err:
            raise ValueError(f"--context-json is not JSON: {err.msg} (at character {err.pos})") from None
        if not isinstance(context, dict):
            raise ValueError('--context-json must be a JSON object, e.g. \'{"company": "Acme"}\'')
    known = [tool.value for tool in AgentTool]
    unknown = [tool for tool in disabled_tools if tool not in known]
    if unknown:
        raise ValueError(f"--disable-tool {', '.join(unknown)}: no such tool; the tools are {', '.join(known)}")
    if transfer_number:
        try:
            transfer_number = normalize_phone(transfer_number)
        except ValueError as err:
            raise ValueError(f"--transfer-number: {err}") from None
    fields: dict[str, Any] = {
        "name": name,
        "instructions": instructions,
        "greeting": greeting,
        "language": language,
        "model_mode": mode,
        "context": context,
        "tools": {tool: tool not in disabled_tools for tool in known},
        "transfer_number": transfer_number or None,
        "voicemail_message": voicemail_message,
        "active": active,
    }
    if voice:
        fields["voice"] = voice
    try:
        return AgentConfig(**fields)
    except ValidationError as err:
        options = {"name": "NAME", "model_mode": "--mode", "voicemail_message": "--voicemail-message"}
        parts = []
        for detail in err.errors():
            field_name = str(detail["loc"][0]) if detail["loc"] else ""
            option = options.get(field_name, f"--{field_name.replace('_', '-')}")
            parts.append(f"{option}: {detail['msg'].removeprefix('Value error, ')}")
        raise ValueError("; ".join(parts)) from None


def load_agent_file(path: Path) -> "AgentConfig":
    """An agent config from a JSON file (as `ringflow agent show` prints); ``ValueError`` with one line."""
    from schemas.agent import AgentConfig

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        return AgentConfig.model_validate_json(text)
    except ValidationError as err:
        if any(detail["type"] == "json_invalid" for detail in err.errors()):
            raise ValueError(f"{path} is not valid JSON: {err.errors()[0]['msg']}") from None
        raise ValueError(f"{path} is not an agent config: {validation_message(err)}") from None


async def _migrated_store(settings: Settings) -> "async_sessionmaker[AsyncSession]":
    """The migrated store's session factory (migrations first, as `ringflow db upgrade` does)."""
    from store.db import get_session_factory
    from store.migrate import upgrade_database

    await upgrade_database(settings.sqlalchemy_url)
    return get_session_factory(settings.sqlalchemy_url)


async def load_campaign_agent(
    sessions: "async_sessionmaker[AsyncSession]", name: str, org_id: str | None = None
) -> "AgentConfig":
    """The organization's (default: the CLI's) stored agent ``name`` for a new campaign; CliError if there is
    none or it is switched off."""
    from store import queries
    from store.models import DEFAULT_ORG_ID

    async with sessions() as session:
        agent = await queries.get_agent(session, name, org_id or DEFAULT_ORG_ID)
    if agent is None:
        raise CliError(f"no agent named {name!r}: create one with `ringflow agent create` or `ringflow agent import`")
    if not agent.active:
        raise CliError(f"agent {name!r} is inactive: re-create or re-import it as active to use it in a campaign")
    return agent


def _store_command(body: Callable[["async_sessionmaker[AsyncSession]"], Coroutine[Any, Any, int | None]]) -> None:
    """Run a command body against the migrated store, then close its connections."""
    settings = _settings()

    async def run() -> int | None:
        from store.db import dispose_cached_engines

        try:
            return await body(await _migrated_store(settings))
        finally:
            await dispose_cached_engines()

    _run(run())


def _tools_on(agent: "AgentConfig") -> str:
    from schemas.agent import AgentTool

    enabled = agent.enabled_tools()
    off = [tool.value for tool in AgentTool if tool not in enabled]
    if not enabled:
        return "none"
    return f"all except {', '.join(off)}" if off else "all"


@agent_app.command("create")
def agent_create(
    name: Annotated[str, typer.Argument(help="Unique name: letters, digits, '.', '_' and '-'")],
    instructions: Annotated[str | None, typer.Option(help="The system prompt")] = None,
    instructions_file: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Read the system prompt from this text file")
    ] = None,
    greeting: Annotated[str, typer.Option(help="Said first when the callee picks up")] = "",
    language: Annotated[str, typer.Option(metavar="en|ar", help="Language of the calls")] = "en",
    voice: Annotated[str | None, typer.Option(help="TTS / realtime voice [alloy]")] = None,
    mode: Annotated[str, typer.Option(metavar="realtime|pipeline", help="Model mode")] = "pipeline",
    context_json: Annotated[
        str | None, typer.Option(metavar="JSON", help="Call context, a JSON object added to the prompt")
    ] = None,
    disable_tool: Annotated[
        list[str] | None, typer.Option(metavar="TOOL", help="Switch a tool off; repeat for several")
    ] = None,
    transfer_number: Annotated[
        str | None, typer.Option(metavar="+E164", help="Where transfer_to_human sends the call")
    ] = None,
    voicemail_message: Annotated[str, typer.Option(help="Left when a machine answers")] = "",
    inactive: Annotated[bool, typer.Option("--inactive", help="Store it switched off: campaigns refuse it")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite an agent of the same name")] = False,
) -> None:
    """Create an agent in the store."""
    if (instructions is None) == (instructions_file is None):
        _fail("give the prompt with exactly one of --instructions TEXT or --instructions-file PATH", code=2)
    if instructions_file is not None:
        try:
            instructions = instructions_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            _fail(f"cannot read {instructions_file}: {getattr(err, 'strerror', None) or err}", code=2)
    try:
        config = build_agent_config(
            name,
            instructions=instructions or "",
            greeting=greeting,
            language=language,
            voice=voice,
            mode=mode,
            context_json=context_json,
            disabled_tools=disable_tool or (),
            transfer_number=transfer_number,
            voicemail_message=voicemail_message,
            active=not inactive,
        )
    except ValueError as err:
        _fail(str(err), code=2)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import queries

        async with sessions() as session:
            if not replace and await queries.get_agent(session, config.name) is not None:
                raise CliError(f"agent {config.name!r} already exists: pass --replace to overwrite it")
            await queries.save_agent(session, config)
            await session.commit()
        state = "" if config.active else " (inactive)"
        console.print(f"agent [bold]{escape(config.name)}[/bold] saved{state}; tools on: {_tools_on(config)}")

    _store_command(body)


@agent_app.command("import")
def agent_import(
    path: Annotated[Path, typer.Argument(metavar="PATH.json", help="An agent config, as `agent show` prints it")],
) -> None:
    """Create or replace an agent from a JSON file (e.g. cli/samples/demo_agent.json)."""
    try:
        config = load_agent_file(path)
    except ValueError as err:
        _fail(str(err), code=2)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import queries

        async with sessions() as session:
            existed = await queries.get_agent(session, config.name) is not None
            await queries.save_agent(session, config)
            await session.commit()
        verb = "replaced" if existed else "imported"
        console.print(f"agent [bold]{escape(config.name)}[/bold] {verb} from {escape(str(path))}", highlight=False)

    _store_command(body)


@agent_app.command("list")
def agent_list() -> None:
    """The stored agents."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import queries

        async with sessions() as session:
            agents = await queries.list_agents(session)
        if not agents:
            console.print("no agents yet: `ringflow agent create NAME --instructions ...` or `ringflow agent import`")
            return
        table = Table("name", "language", "mode", "tools on", "active")
        for agent in agents:
            table.add_row(
                agent.name,
                agent.language.value,
                agent.model_mode.value,
                _tools_on(agent),
                "yes" if agent.active else "[yellow]no[/yellow]",
            )
        console.print(table)

    _store_command(body)


@agent_app.command("show")
def agent_show(name: Annotated[str, typer.Argument(help="Agent name")]) -> None:
    """An agent's config as JSON (`agent import` reads it back)."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import queries

        async with sessions() as session:
            agent = await queries.get_agent(session, name)
        if agent is None:
            raise CliError(f"no agent named {name!r}")
        typer.echo(agent.model_dump_json(indent=2))

    _store_command(body)


@agent_app.command("delete")
def agent_delete(name: Annotated[str, typer.Argument(help="Agent name")]) -> None:
    """Delete an agent. Campaigns already started keep their own copy of it."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import queries

        async with sessions() as session:
            deleted = await queries.delete_agent(session, name)
            await session.commit()
        if not deleted:
            raise CliError(f"no agent named {name!r}")
        console.print(f"agent [bold]{escape(name)}[/bold] deleted")

    _store_command(body)


@agent_app.command("eval")
def agent_eval(
    name: Annotated[str, typer.Argument(help="Agent name")],
    personas: Annotated[
        str | None, typer.Option(metavar="a,b,...", help="Only these personas (default: the whole suite)")
    ] = None,
) -> None:
    """Offline check: the agent talks to every scripted persona; exit 1 if any call goes wrong."""
    from simulator.evaluation import PERSONA_EXPECTATIONS

    chosen = [persona.strip() for persona in personas.split(",") if persona.strip()] if personas else None
    if chosen is not None:
        unknown = [persona for persona in chosen if persona not in PERSONA_EXPECTATIONS]
        if unknown or not chosen:
            _fail(
                f"--personas: unknown persona(s) {', '.join(unknown) or '(none given)'}; "
                f"known: {', '.join(PERSONA_EXPECTATIONS)}",
                code=2,
            )
    # The scripted model's calls are the output; library chatter would only interleave with it.
    logging.getLogger("livekit").setLevel(logging.ERROR)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> int:
        from simulator.evaluation import evaluate_agent
        from store import queries

        async with sessions() as session:
            agent = await queries.get_agent(session, name)
        if agent is None:
            raise CliError(f"no agent named {name!r}")
        verdicts = await evaluate_agent(agent, chosen)
        table = Table(title=f"agent {name}: persona suite", title_justify="left")
        for column in ("persona", "result", "turns", "tools called", "expected / what went wrong"):
            table.add_column(column, overflow="fold")
        for verdict in verdicts:
            result = "[green]pass[/green]" if verdict.passed else "[red]FAIL[/red]"
            table.add_row(
                verdict.persona, result, str(verdict.turns), ", ".join(verdict.tools_called) or "-", verdict.reason
            )
        console.print(table)
        failed = [verdict.persona for verdict in verdicts if not verdict.passed]
        if failed:
            console.print(f"[red]{len(failed)} of {len(verdicts)} persona(s) failed: {', '.join(failed)}[/red]")
            return 1
        console.print(f"[green]all {len(verdicts)} persona(s) passed[/green]")
        return 0

    _store_command(body)


# ---- ringflow numbers ... -----------------------------------------------------------------------

INCOMING_WEBHOOK_PATH = "/twilio/voice/incoming"
NO_AGENT = "—"


def twilio_voice(settings: Settings) -> "TwilioVoice":
    """The Twilio client of the `numbers` commands (a seam: tests point it at a local stand-in)."""
    from telephony.twilio_voice import TwilioVoice

    return TwilioVoice.from_settings(settings)


def _require(settings: Settings, *, webhook: bool = False) -> None:
    """Fail in one line naming every setting the command needs and lacks, before anything is changed."""
    needed = [
        ("RINGFLOW_TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
        ("RINGFLOW_TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
    ]
    if webhook:
        needed.append(("RINGFLOW_PUBLIC_BASE_URL", settings.public_base_url))
    missing = [name for name, value in needed if not value]
    if missing:
        why = "Twilio must be told where to send the number's calls" if webhook else "Twilio is not configured"
        _fail(f"{why}: set {', '.join(missing)} (environment or .env)")
    if webhook and not (settings.public_base_url or "").startswith(("https://", "http://")):
        _fail(f"RINGFLOW_PUBLIC_BASE_URL {settings.public_base_url!r} must be an http(s):// URL")


def incoming_webhook_url(settings: Settings) -> str:
    return (settings.public_base_url or "").rstrip("/") + INCOMING_WEBHOOK_PATH


async def _twilio_step(what: str, step: Coroutine[Any, Any, Any]) -> Any:
    """Await a Twilio request; its failures become a one-line CliError."""
    from requests.exceptions import RequestException
    from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

    try:
        return await step
    except TwilioRestException as err:
        detail = (err.msg or "").strip().splitlines()[0] if err.msg else f"HTTP {err.status}"
        code = f" (error {err.code})" if err.code else ""
        raise CliError(f"Twilio refused to {what}: {detail}{code}") from None
    except TwilioServiceException as err:
        raise CliError(f"Twilio refused to {what}: {err}") from None
    except TwilioException as err:
        raise CliError(f"Twilio refused to {what}: {err}") from None
    except RequestException as err:
        raise CliError(f"cannot reach Twilio to {what}: {type(err).__name__}") from None


def _e164(number: str) -> str:
    from schemas.contact import normalize_phone

    try:
        return normalize_phone(number)
    except ValueError as err:
        _fail(f"NUMBER: {err} (use E.164, e.g. +14155550100)", code=2)


def _numbers_table(rows: Sequence[Any], *, title: str | None = None) -> Table:
    table = Table("number", "agent", "friendly name", title=title, title_justify="left")
    for row in rows:
        table.add_row(row.number, row.agent_name or NO_AGENT, row.friendly_name)
    return table


@numbers_app.command("sync")
def numbers_sync(
    org: Annotated[
        str,
        typer.Option(help="The organization that owns the numbers (its agents answer them, its API sees them)"),
    ] = "default",
) -> None:
    """Fetch the account's numbers from Twilio into the store. Agent bindings are kept, unless a number
    moves to another organization (--org), which drops its binding to the old organization's agent."""
    settings = _settings()
    _require(settings)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from schemas.contact import normalize_phone
        from store import numbers, orgs

        async with sessions() as session:
            if await orgs.get_org(session, org) is None:
                raise CliError(f"no organization {org!r}: see `ringflow org list`")
        voice = twilio_voice(settings)
        incoming = await _twilio_step("list the account's numbers", voice.list_incoming_numbers())
        seen: set[str] = set()
        skipped: list[str] = []
        async with sessions() as session:
            for found in incoming:
                try:
                    number = normalize_phone(found.phone_number)
                except ValueError:
                    skipped.append(found.phone_number or found.sid)
                    continue
                seen.add(number)
                await numbers.upsert_number(
                    session, number, twilio_sid=found.sid, friendly_name=found.friendly_name, org_id=org
                )
            await session.commit()
            rows = await numbers.list_numbers(session)
        on_account = [row for row in rows if row.number in seen]
        gone = [row for row in rows if row.number not in seen]
        if on_account:
            console.print(_numbers_table(on_account, title=f"{len(on_account)} number(s) on the Twilio account"))
        else:
            console.print("the Twilio account has no phone numbers")
        for raw in skipped:
            console.print(f"[yellow]skipped {escape(raw)}: not a phone number (E.164)[/yellow]", highlight=False)
        if gone:
            console.print(
                _numbers_table(gone, title=f"{len(gone)} number(s) in the store but no longer on the account")
            )
            console.print("their calls no longer reach Ringflow; `ringflow numbers unassign NUMBER` clears a binding")

    _store_command(body)


@numbers_app.command("list")
def numbers_list() -> None:
    """The known numbers and the agent that answers each (— for none)."""

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import numbers

        async with sessions() as session:
            rows = await numbers.list_numbers(session)
        if not rows:
            console.print("no numbers yet: `ringflow numbers sync` fetches them from the Twilio account")
            return
        console.print(_numbers_table(rows))

    _store_command(body)


@numbers_app.command("assign")
def numbers_assign(
    number: Annotated[str, typer.Argument(metavar="NUMBER", help="A synced number, E.164 (+14155550100)")],
    agent: Annotated[str, typer.Argument(metavar="AGENT", help="The active agent that answers its calls")],
) -> None:
    """Let AGENT answer NUMBER's incoming calls (replacing any agent before it) and point Twilio's voice
    webhook of the number at RINGFLOW_PUBLIC_BASE_URL/twilio/voice/incoming."""
    e164 = _e164(number)
    settings = _settings()
    _require(settings, webhook=True)
    url = incoming_webhook_url(settings)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import numbers, queries

        async with sessions() as session:
            row = await numbers.get_number(session, e164)
            if row is None:
                raise CliError(f"unknown number {e164}: `ringflow numbers sync` fetches the account's numbers")
            if not row.twilio_sid:
                raise CliError(f"{e164} has no Twilio sid: run `ringflow numbers sync` again")
            config = await queries.get_agent(session, agent, row.org_id)
            if config is None:
                raise CliError(
                    f"the number's organization {row.org_id!r} has no agent named {agent!r}: "
                    "create one with `ringflow agent create` or `agent import` (or the API)"
                )
            if not config.active:
                raise CliError(f"agent {agent!r} is inactive: re-create or re-import it as active to assign it")
            previous, sid, owner = row.agent_name, row.twilio_sid, row.org_id
        # Twilio first: if it refuses, the store still says what Twilio does.
        await _twilio_step(f"set the voice webhook of {e164}", twilio_voice(settings).set_voice_webhook(sid, url))
        async with sessions() as session:
            if not await numbers.assign_agent(session, e164, agent, owner):
                raise CliError(f"unknown number {e164}: it was removed meanwhile")
            await session.commit()
        if previous and previous != agent:
            what = f"now answered by [bold]{escape(agent)}[/bold] (replaces {escape(previous)})"
        elif previous == agent:
            what = f"already answered by [bold]{escape(agent)}[/bold]"
        else:
            what = f"now answered by [bold]{escape(agent)}[/bold]"
        console.print(f"{e164} {what}; Twilio voice webhook: {escape(url)}", highlight=False)

    _store_command(body)


@numbers_app.command("unassign")
def numbers_unassign(
    number: Annotated[str, typer.Argument(metavar="NUMBER", help="E.164 (+14155550100)")],
) -> None:
    """Stop answering NUMBER's incoming calls with an agent: callers hear a short message and the call ends."""
    e164 = _e164(number)

    async def body(sessions: "async_sessionmaker[AsyncSession]") -> None:
        from store import numbers

        async with sessions() as session:
            row = await numbers.get_number(session, e164)
            if row is None:
                raise CliError(f"unknown number {e164}: `ringflow numbers list` shows the known ones")
            previous = row.agent_name
            if previous:
                await numbers.assign_agent(session, e164, None, row.org_id)
                await session.commit()
        if previous:
            console.print(f"{e164} no longer answered by [bold]{escape(previous)}[/bold]", highlight=False)
        else:
            console.print(f"{e164} had no agent: nothing to do", highlight=False)

    _store_command(body)


# ---- ringflow codec ... -------------------------------------------------------------------------


@codec_app.command("new-key")
def codec_new_key(
    key_id: Annotated[str, typer.Argument(help="A new id, e.g. the date: 2026-11 (letters, digits, . _ -)")],
) -> None:
    """Print a new `key_id:base64key` entry: put it FIRST in RINGFLOW_CODEC_KEYS and keep the old keys after it."""
    from infra.codec import CodecConfigError, new_codec_key

    try:
        entry = new_codec_key(key_id)
    except CodecConfigError as err:
        _fail(str(err), code=2)
    print(entry)


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


# ---- ringflow org ... ---------------------------------------------------------------------------


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

    _store_command(body)


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

    _store_command(body)


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

    _store_command(body)


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

    _store_command(body)


def _print_key(org_id: str, key: str) -> None:
    console.print(f"organization [bold]{escape(org_id)}[/bold]", highlight=False)
    console.print(f"API key (shown once, keep it safe): [bold]{key}[/bold]", highlight=False, soft_wrap=True)


# ---- ringflow temporal ... ----------------------------------------------------------------------

DEFAULT_RETENTION = timedelta(days=30)

temporal_app = typer.Typer(
    help="The Temporal namespace Ringflow runs in (self-hosted or Temporal Cloud).", no_args_is_help=True
)
app.add_typer(temporal_app, name="temporal")


@temporal_app.command("setup")
def temporal_setup(
    retention: Annotated[
        timedelta | None,
        typer.Option(
            parser=_duration_option,
            metavar="DURATION",
            help="How long a namespace this creates keeps closed workflows [30d]; an existing one keeps its own",
        ),
    ] = None,
) -> None:
    """Create RINGFLOW_TEMPORAL_NAMESPACE if it is missing and register the search attributes the workflows
    set (CampaignId, Outcome, Attempt). Safe to run on every deploy: what exists is left as it is."""
    settings = _settings()
    _run(_temporal_setup(settings, retention or DEFAULT_RETENTION))


async def _temporal_setup(settings: Settings, retention: timedelta) -> None:
    from worker.temporal_setup import setup_namespace

    report = await setup_namespace(await _connect(settings), retention)
    what = f"created (retention {format_duration(retention)})" if report.namespace_created else "exists"
    console.print(f"namespace {escape(report.namespace)} {what}; search attributes registered", highlight=False)


def main() -> None:
    """Console-script entry point (``ringflow``)."""
    app(prog_name="ringflow")
