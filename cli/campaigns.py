"""``ringflow campaign ...``: start a campaign from a CSV file and steer it on a running ``ringflow dev``."""

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape

from cli.agents import load_campaign_agent
from cli.common import (
    SETTLE_HORIZON,
    connect_temporal,
    console,
    duration_option,
    errors,
    fail,
    format_duration,
    load_csv,
    load_settings,
    migrated_store,
    parse_window,
    print_import_report,
    run_command,
    validation_message,
)
from schemas.campaign import CampaignSettings, RetryPolicy
from schemas.imports import CsvImportReport
from schemas.settings import Settings

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
        timedelta | None, typer.Option(parser=duration_option, metavar="DURATION", help="First redial wait [30m]")
    ] = None,
    max_backoff: Annotated[
        timedelta | None, typer.Option(parser=duration_option, metavar="DURATION", help="Longest redial wait [6h]")
    ] = None,
    window: Annotated[
        str | None, typer.Option(metavar="HH:MM-HH:MM", help="Local calling hours of each contact [09:00-20:00]")
    ] = None,
    days: Annotated[str | None, typer.Option(help="Calling days: mon-fri, mon,wed,sat or all [mon-fri]")] = None,
    callback_horizon: Annotated[
        timedelta | None,
        typer.Option(parser=duration_option, metavar="DURATION", help="How far ahead callbacks may be booked [14d]"),
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
        fail(str(err), code=2)
    settings = load_settings()
    report = load_csv(contacts)
    print_import_report(report, contacts)
    if not report.contacts:
        fail(f"no valid contacts in {contacts}: nothing started")
    run_command(_campaign_start(settings, campaign_settings, report, name or contacts.stem, follow, agent))


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
            agent = await load_campaign_agent(await migrated_store(settings), agent_name)
        finally:
            await dispose_cached_engines()
    else:
        agent = None
    client = await connect_temporal(settings)
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
    run_command(_campaign_status(load_settings(), campaign_id))


async def _campaign_status(settings: Settings, campaign_id: str) -> None:
    from api.services.campaigns import progress
    from cli.progress import activity_line, finished_line
    from infra.web_ui import workflow_ui_url
    from schemas.workflow_io import campaign_workflow_id

    snapshot = await progress(await connect_temporal(settings), campaign_id)
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


async def _steer(settings: Settings, campaign_id: str, action: str, reason: str = "") -> None:
    from api.services import campaigns

    client = await connect_temporal(settings)
    if action == "cancel":
        await campaigns.cancel(client, campaign_id, reason)
    elif action == "pause":
        await campaigns.pause(client, campaign_id)
    else:
        await campaigns.resume(client, campaign_id)
    console.print(
        f"{action} sent to campaign {campaign_id}; `ringflow campaign status {campaign_id}` shows it", soft_wrap=True
    )
