"""``ringflow campaign ...``: start a campaign from a CSV file and steer it on a running ``ringflow dev``."""

import asyncio
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from cli.agents import load_campaign_agent
from cli.common import (
    SETTLE_HORIZON,
    CliError,
    connect_temporal,
    console,
    duration_option,
    errors,
    fail,
    format_duration,
    load_settings,
    migrated_store,
    parse_window,
    print_rejected_rows,
    run_command,
)
from schemas.api import ReportFormat
from schemas.campaign import CampaignSettings, RetryPolicy
from schemas.settings import Settings
from schemas.validation import describe_validation_error

if TYPE_CHECKING:
    from api.services.campaigns import ContactsPreview, ImportResult

campaign_app = typer.Typer(help="Start and steer campaigns on a running `ringflow dev`.", no_args_is_help=True)


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
    caller_id_pool: str | None = None,
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
        "caller_id_pool": caller_id_pool,
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
        raise ValueError(describe_validation_error(err)) from None


SETTINGS_OPTIONS = (
    "max_concurrent",
    "cps",
    "max_attempts",
    "initial_backoff",
    "max_backoff",
    "window",
    "days",
    "callback_horizon",
    "caller_id_pool",
)
"""The options of `campaign start` (and `preview`) that are campaign settings."""


def _settings_or_usage_error(options: Mapping[str, Any]) -> CampaignSettings:
    """:func:`build_campaign_settings` from a command's options (its ``locals()``); a bad combination of
    options ends the command as a usage error."""
    try:
        return build_campaign_settings(**{name: options[name] for name in SETTINGS_OPTIONS})
    except ValueError as err:
        fail(str(err), code=2)


ContactsCsv = Annotated[
    Path,
    typer.Argument(
        exists=True, dir_okay=False, readable=True, metavar="CONTACTS.csv", help="external_id, name, phone, ..."
    ),
]
MaxConcurrent = Annotated[int | None, typer.Option(help="Calls in progress at once [10]")]
Cps = Annotated[float | None, typer.Option(help="Dials started per second [1]")]
MaxAttempts = Annotated[int | None, typer.Option(help="Dials per contact without an answer [4]")]
InitialBackoff = Annotated[
    timedelta | None, typer.Option(parser=duration_option, metavar="DURATION", help="First redial wait [30m]")
]
MaxBackoff = Annotated[
    timedelta | None, typer.Option(parser=duration_option, metavar="DURATION", help="Longest redial wait [6h]")
]
Window = Annotated[
    str | None, typer.Option(metavar="HH:MM-HH:MM", help="Local calling hours of each contact [09:00-20:00]")
]
Days = Annotated[str | None, typer.Option(help="Calling days: mon-fri, mon,wed,sat or all [mon-fri]")]
CallbackHorizon = Annotated[
    timedelta | None,
    typer.Option(parser=duration_option, metavar="DURATION", help="How far ahead callbacks may be booked [14d]"),
]
CallerIdPool = Annotated[
    str | None,
    typer.Option(metavar="POOL", help="Caller-ID pool whose numbers the calls show (`ringflow numbers pool`)"),
]
Agent = Annotated[
    str | None, typer.Option(metavar="NAME", help="Stored agent that talks to whoever answers (`ringflow agent`)")
]


@campaign_app.command("start")
def campaign_start(
    contacts: ContactsCsv,
    name: Annotated[str | None, typer.Option(help="Campaign name (default: the file name)")] = None,
    max_concurrent: MaxConcurrent = None,
    cps: Cps = None,
    max_attempts: MaxAttempts = None,
    initial_backoff: InitialBackoff = None,
    max_backoff: MaxBackoff = None,
    window: Window = None,
    days: Days = None,
    callback_horizon: CallbackHorizon = None,
    caller_id_pool: CallerIdPool = None,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Show progress until it is done")] = True,
    agent: Agent = None,
) -> None:
    """Import a CSV contact list and start a campaign on the running `ringflow dev`."""
    campaign_settings = _settings_or_usage_error(locals())
    run_command(_campaign_start(load_settings(), campaign_settings, contacts, name or contacts.stem, follow, agent))


async def _campaign_start(
    settings: Settings,
    campaign_settings: CampaignSettings,
    path: Path,
    name: str,
    follow: bool,
    agent_name: str | None = None,
) -> int:
    from api.services import campaigns
    from cli.progress import follow_campaign, print_summary
    from infra.web_ui import workflow_ui_url
    from schemas.workflow_io import campaign_workflow_id
    from store.db import dispose_cached_engines
    from store.models import DEFAULT_ORG_ID

    try:
        sessions = await migrated_store(settings)
        # A missing agent is the user's mistake to fix before anything else happens.
        agent = await load_campaign_agent(sessions, agent_name) if agent_name is not None else None
        campaigns.refuse_if_undiallable(settings, agent)  # before the draft is stored, not at its start
        with _contact_file(path) as stream, _import_report_of(path):
            campaign_id, result = await campaigns.create(
                None,
                sessions,
                org_id=DEFAULT_ORG_ID,
                name=name,
                settings=campaign_settings,
                contacts=campaigns.ContactList.from_csv(stream),
                agent=agent,
                start=False,
                deployment=settings,
                limits=campaigns.ImportLimits.of(settings),
            )
        # The file's problems come first, without a server; then the stored draft is started.
        try:
            client = await connect_temporal(settings)
        except CliError:
            await campaigns.cancel(None, sessions, org_id=None, campaign_id=campaign_id, reason="not started")
            raise
        if not await campaigns.has_workers(client, settings.task_queue):
            errors.print(
                f"[yellow]warning:[/yellow] no worker polls task queue '{settings.task_queue}': "
                "the campaign waits until `ringflow dev` (or `python -m worker`) runs"
            )
        await campaigns.start(client, sessions, org_id=DEFAULT_ORG_ID, campaign_id=campaign_id, deployment=settings)
        print_import_result(result, path)
        link = workflow_ui_url(settings, campaign_workflow_id(campaign_id))
        with_agent = f" with agent [bold]{escape(agent.name)}[/bold]" if agent else ""
        console.print(
            f"campaign [bold]{campaign_id}[/bold] started{with_agent}: {link}", highlight=False, soft_wrap=True
        )
        if not follow:
            console.print(f"follow it with `ringflow campaign status {campaign_id}`")
            return 0
        try:
            followed = await follow_campaign(
                client, campaign_id, console=console, sessions=sessions, settle_horizon=SETTLE_HORIZON
            )
        except asyncio.CancelledError:
            errors.print(f"stopped following; the campaign goes on: `ringflow campaign status {campaign_id}`")
            raise
        agree = await print_summary(console, followed, sessions, ui_link=link)
        if followed.ended == "settled":
            console.print(f"`ringflow campaign status {campaign_id}` shows it later")
        return 0 if agree and followed.workflow_error is None else 1
    finally:
        await dispose_cached_engines()


def instant_option(text: str) -> datetime:
    """Typer parser of ``--now``: an ISO 8601 moment (``2026-11-30T09:00:00Z``; naive is UTC)."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 moment, e.g. 2026-11-30T09:00:00Z") from None


@campaign_app.command("preview")
def campaign_preview(
    contacts: ContactsCsv,
    max_concurrent: MaxConcurrent = None,
    cps: Cps = None,
    max_attempts: MaxAttempts = None,
    initial_backoff: InitialBackoff = None,
    max_backoff: MaxBackoff = None,
    window: Window = None,
    days: Days = None,
    callback_horizon: CallbackHorizon = None,
    caller_id_pool: CallerIdPool = None,
    agent: Agent = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON list of the good contacts on stdout; rejected rows on stderr")
    ] = False,
    now: Annotated[
        datetime | None,
        typer.Option(parser=instant_option, metavar="ISO8601", help="Preview as of this moment [now]"),
    ] = None,
) -> None:
    """Show when each contact of a CSV would first be dialled, and why, and which rows an import would
    reject; nothing is created and nobody is called. Takes the options of `campaign start`."""
    campaign_settings = _settings_or_usage_error(locals())
    run_command(_campaign_preview(load_settings(), campaign_settings, contacts, agent, as_json=as_json, now=now))


async def _campaign_preview(
    settings: Settings,
    campaign_settings: CampaignSettings,
    path: Path,
    agent_name: str | None,
    *,
    as_json: bool,
    now: datetime | None,
) -> None:
    from api.services import campaigns
    from store.db import dispose_cached_engines
    from store.models import DEFAULT_ORG_ID

    try:
        sessions = await migrated_store(settings)
        if agent_name is not None:
            await load_campaign_agent(sessions, agent_name)
        with _contact_file(path) as stream:
            preview = await campaigns.preview(
                sessions,
                org_id=DEFAULT_ORG_ID,
                settings=campaign_settings,
                contacts=campaigns.ContactList.from_csv(stream),
                limits=campaigns.ImportLimits.of(settings),
                now=now,
            )
            await (_print_preview_json(preview) if as_json else _print_preview_table(preview, path))
    finally:
        await dispose_cached_engines()


async def _print_preview_json(preview: "ContactsPreview") -> None:
    """The good contacts as one JSON list, one object a line, written chunk by chunk as they are judged."""
    sys.stdout.write("[")
    separator = "\n"
    async for chunk in preview.chunks():
        for contact in chunk:
            sys.stdout.write(separator + contact.model_dump_json())
            separator = ",\n"
    sys.stdout.write("\n]\n")
    sys.stdout.flush()
    print_rejected_rows(preview.result.errors, preview.result.rejected, out=errors)
    print_uncertain_zones(preview.result.uncertain_zones, out=errors)


async def _print_preview_table(preview: "ContactsPreview", path: Path) -> None:
    """A table per chunk of good contacts (first dial in UTC and in each of their zones), then the counts,
    the rejected rows and the contacts whose zone is uncertain."""
    async for chunk in preview.chunks():
        headers = ("external id", "phone", "zones", "region", "first dial (UTC)", "local", "why")
        table = Table(*(Column(header, overflow="fold") for header in headers))
        for contact in chunk:
            at = contact.first_dial_at
            local = ", ".join(f"{at.astimezone(ZoneInfo(zone)):%a %H:%M}" for zone in contact.zones) if at else ""
            zones = escape(", ".join(contact.zones))
            table.add_row(
                escape(contact.external_id),
                contact.phone,
                zones if contact.zone_confident else f"[yellow]{zones}[/yellow]",
                contact.region,
                f"{at:%Y-%m-%d %H:%M}" if at else "[red]never[/red]",
                local,
                escape(contact.reason),
            )
        console.print(table)
    as_of = f", as of {preview.now:%Y-%m-%d %H:%M} UTC; nothing was created"
    print_import_result(preview.result, path, imported="would be imported", suffix=as_of)


@contextmanager
def _contact_file(path: Path) -> Iterator[IO[bytes]]:
    """The CSV opened for streaming (never read whole); an unreadable file ends the command in one line."""
    try:
        stream = path.open("rb")
    except OSError as err:
        fail(f"cannot read {path}: {err.strerror or err}")
    with stream:
        yield stream


@contextmanager
def _import_report_of(path: Path) -> Iterator[None]:
    """A list without one good row still shows its rejected rows before the one-line error."""
    from api.services.campaigns import NothingToImportError

    try:
        yield
    except NothingToImportError as err:
        print_import_result(err.result, path)
        raise


def print_import_result(result: "ImportResult", path: Path, *, imported: str = "imported", suffix: str = "") -> None:
    """Counts, then the rejected rows with their line numbers (the first 1,000), so the file can be fixed,
    and how many contacts may be in several zones."""
    style = "green" if not result.rejected else "yellow"
    console.print(
        f"[{style}]{escape(str(path))}: {result.imported} contact(s) {imported}, "
        f"{result.rejected} row(s) rejected{suffix}[/{style}]",
        highlight=False,
    )
    print_rejected_rows(result.errors, result.rejected)
    print_uncertain_zones(result.uncertain_zones)


def print_uncertain_zones(count: int, *, out: Console = console) -> None:
    """The contacts whose number may ring in several zones, in one yellow line (none: nothing)."""
    if count:
        out.print(
            f"[yellow]{count} contact(s) may be in several time zones: dialled only when all allow it; "
            "add a timezone column[/yellow]",
            highlight=False,
        )


CampaignId = Annotated[str, typer.Argument(help="Campaign id, as printed by `campaign start` (c-…)")]


@campaign_app.command("status")
def campaign_status(campaign_id: CampaignId) -> None:
    """One snapshot of a campaign's progress."""
    run_command(_campaign_status(load_settings(), campaign_id))


async def _campaign_status(settings: Settings, campaign_id: str) -> None:
    from api.services.campaigns import progress
    from cli.progress import activity_line, finished_line
    from infra.web_ui import workflow_ui_url
    from schemas.workflow_io import campaign_workflow_id
    from store.db import get_session_factory

    snapshot = await progress(
        await connect_temporal(settings), get_session_factory(settings.sqlalchemy_url), campaign_id
    )
    console.print(
        f"campaign [bold]{campaign_id}[/bold]: {snapshot.workflow.status.value}, "
        f"{snapshot.store.finished}/{snapshot.store.contacts} contact(s) finished",
        highlight=False,
    )
    if snapshot.workflow.pause_reason:
        console.print(
            f"[yellow]paused by its {escape(snapshot.workflow.pause_reason)}[/yellow]; "
            f"`ringflow campaign resume {campaign_id}` once the cause is fixed",
            highlight=False,
            soft_wrap=True,
        )
    console.print(activity_line(snapshot.workflow, snapshot.store), highlight=False, soft_wrap=True)
    console.print(finished_line(snapshot.store), highlight=False, soft_wrap=True)
    console.print(
        f"Web UI: {workflow_ui_url(settings, campaign_workflow_id(campaign_id))}", highlight=False, soft_wrap=True
    )


@campaign_app.command("results")
def campaign_results(
    campaign_id: CampaignId,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the CSV here (default: standard output)")
    ] = None,
) -> None:
    """The campaign's results as CSV: one row per contact, with its latest analysis's summary and fields."""
    run_command(_campaign_results(load_settings(), campaign_id, output))


async def _campaign_results(settings: Settings, campaign_id: str, output: Path | None) -> None:
    from api.services.analysis import NoSuchCampaignError, results_csv

    sessions = await migrated_store(settings)
    try:
        lines = await results_csv(sessions, None, campaign_id)
    except NoSuchCampaignError:
        fail(f"no campaign {campaign_id!r}")
    target = await asyncio.to_thread(output.open, "w", encoding="utf-8", newline="") if output else None
    with target or nullcontext(sys.stdout) as out:
        rows = -1
        async for line in lines:
            out.write(line)
            rows += 1
    if output:
        console.print(f"{rows} contact(s) written to {output}", highlight=False)


@campaign_app.command("report")
def campaign_report(
    campaign_id: CampaignId,
    report_format: Annotated[
        ReportFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="xlsx: Summary, Contacts and Calls sheets; pdf: the summary with its charts (default: from "
            "--output's suffix, else xlsx)",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write it here (default: ID-report.FORMAT here)"),
    ] = None,
) -> None:
    """The campaign's report: an Excel workbook with every contact and dial, or a PDF summary with charts."""
    suffix = output.suffix.removeprefix(".").lower() if output else ""
    chosen = report_format or (ReportFormat(suffix) if suffix in set(ReportFormat) else ReportFormat.XLSX)
    run_command(_campaign_report(load_settings(), campaign_id, chosen, output))


async def _campaign_report(
    settings: Settings, campaign_id: str, report_format: ReportFormat, output: Path | None
) -> None:
    from api.services.reports import report_filename, write_report
    from store.db import dispose_cached_engines

    target = output or Path(report_filename(campaign_id, report_format))
    try:
        written = await write_report(
            await migrated_store(settings),
            target,
            org_id=None,
            campaign_id=campaign_id,
            report_format=report_format,
            deployment=settings,
        )
    finally:
        await dispose_cached_engines()
    rows = f" ({written.contacts} contact(s), {written.calls} call(s))" if report_format is ReportFormat.XLSX else ""
    console.print(f"report of campaign {campaign_id} written to {target}{rows}", highlight=False, soft_wrap=True)


@campaign_app.command("pause")
def campaign_pause(campaign_id: CampaignId) -> None:
    """Stop new dials within seconds; calls in progress finish normally."""
    run_command(_steer(load_settings(), campaign_id, "pause"))


@campaign_app.command("resume")
def campaign_resume(campaign_id: CampaignId) -> None:
    """Resume a paused campaign."""
    run_command(_steer(load_settings(), campaign_id, "resume"))


@campaign_app.command("cancel")
def campaign_cancel(
    campaign_id: CampaignId,
    reason: Annotated[str, typer.Option(help="Recorded with every contact cancelled")] = "",
) -> None:
    """End a campaign: waiting contacts end as cancelled, calls in progress finish first."""
    run_command(_steer(load_settings(), campaign_id, "cancel", reason))


@campaign_app.command("add")
def campaign_add(
    campaign_id: CampaignId,
    contacts: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, metavar="CONTACTS.csv", help="Same columns as start"
        ),
    ],
) -> None:
    """Add a CSV's contacts to a draft, running or paused campaign; an ended one refuses them (exit 1)."""
    run_command(_campaign_add(load_settings(), campaign_id, contacts))


async def _campaign_add(settings: Settings, campaign_id: str, path: Path) -> None:
    from api.services import campaigns
    from store.db import dispose_cached_engines

    try:
        sessions = await migrated_store(settings)
        client = await connect_temporal(settings)
        with _contact_file(path) as stream, _import_report_of(path):
            result = await campaigns.add_contacts(
                client,
                sessions,
                org_id=None,
                campaign_id=campaign_id,
                contacts=campaigns.ContactList.from_csv(stream),
                limits=campaigns.ImportLimits.of(settings),
            )
        print_import_result(result, path)
        console.print(f"added to campaign {campaign_id}; `ringflow campaign status {campaign_id}` shows it")
    finally:
        await dispose_cached_engines()


async def _steer(settings: Settings, campaign_id: str, action: str, reason: str = "") -> None:
    """The same service calls as the API's pause, resume and cancel: they only signal the campaign's
    workflow, which records the new status itself."""
    from api.services import campaigns
    from store.db import dispose_cached_engines

    try:
        sessions = await migrated_store(settings)
        client = await connect_temporal(settings)
        if action == "cancel":
            await campaigns.cancel(client, sessions, org_id=None, campaign_id=campaign_id, reason=reason)
        elif action == "pause":
            await campaigns.pause(client, sessions, org_id=None, campaign_id=campaign_id)
        else:
            await campaigns.resume(client, sessions, org_id=None, campaign_id=campaign_id)
    finally:
        await dispose_cached_engines()
    console.print(
        f"{action} sent to campaign {campaign_id}; `ringflow campaign status {campaign_id}` shows it", soft_wrap=True
    )
