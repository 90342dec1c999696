"""Following a campaign from a terminal: a live view of its progress, then a summary.

Each fact comes from its owner: where the unfinished contacts are, from the campaign workflow's
``progress`` query; outcomes and dials, from the store. The summary checks that the two owners tell
one story (as many finished contacts in each, no attempt left dialling). When stdout is not a
terminal (CI logs, pipes) the live view becomes a plain line whenever the counters change, at most
every few seconds, so logs stay readable.
"""

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from api.services import campaigns
from api.services.campaigns import PendingCallback
from schemas.analysis import CallAnalysis
from schemas.outcomes import FinalOutcome
from schemas.progress import CampaignOverview, StoreCounts
from schemas.workflow_io import CampaignProgress, CampaignResult

POLL_SECONDS = 0.5
PLAIN_EVERY_SECONDS = 3.0
SETTLED_CHECK_EVERY_SECONDS = 2.0
QUERY_FAILURES_TOLERATED_SECONDS = 30.0
STORE_CATCH_UP_SECONDS = 5.0


class FollowError(RuntimeError):
    """The campaign stopped answering, so it cannot be followed (no worker, server gone)."""


@dataclass
class FollowResult:
    """How following ended: the last counters, and why it stopped."""

    progress: CampaignProgress
    store: StoreCounts | None = None
    ended: Literal["done", "closed", "settled"] = "done"
    workflow_error: str | None = None
    callbacks: list[PendingCallback] = field(default_factory=list)


def activity_line(progress: CampaignProgress, store: StoreCounts | None = None) -> str:
    """Where the unfinished contacts are (the workflow's), and how many dials so far (the store's).

    Each label says what it counts: a contact whose workflow has just begun is "starting", and only
    one parked until its local calling hours open is "outside calling hours".
    """
    p = progress
    dialled = f"dialled {store.dials} · " if store is not None else ""
    return (
        f"{dialled}starting {p.starting} · in a call {p.in_call} · waiting for a slot {p.waiting_slot} · "
        f"waiting for a retry {p.waiting_retry} · waiting for a callback {p.waiting_callback} · "
        f"outside calling hours {p.waiting_window}"
    )


def finished_line(store: StoreCounts | None) -> str:
    """Finished contacts by final outcome, from the store."""
    outcomes = store.outcomes if store is not None else {}
    counts = ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()))
    return f"finished: {counts or 'none yet'}"


def counters_line(progress: CampaignProgress, store: StoreCounts | None = None) -> str:
    """Where every contact is, in words, on one line: for logs and one-off status."""
    return f"{activity_line(progress, store)} · {finished_line(store)}"


def _elapsed(since: float) -> str:
    seconds = int(time.monotonic() - since)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _plain_line(progress: CampaignProgress, store: StoreCounts | None) -> str:
    return f"{progress.finished}/{progress.total} finished ({progress.status.value}) · {counters_line(progress, store)}"


def _print_plain(console: Console, started: float, line: str) -> None:
    console.print(f"[{_elapsed(started)}] {line}", markup=False, highlight=False, soft_wrap=True)


def _render(campaign_id: str, progress: CampaignProgress, store: StoreCounts | None, since: float) -> RenderableType:
    bar = Table.grid(padding=(0, 1))
    bar.add_row(
        Text(f"campaign {campaign_id}", style="bold"),
        ProgressBar(total=max(progress.total, 1), completed=progress.finished, width=40),
        Text(f"{progress.finished}/{progress.total} finished"),
        Text(progress.status.value, style="cyan"),
        Text(_elapsed(since), style="dim"),
    )
    return Group(bar, Text(activity_line(progress, store)), Text(finished_line(store), style="green"))


def _only_far_callbacks_left(progress: CampaignProgress) -> bool:
    """Every contact is finished or parked for a callback: nothing happens until a callback is due."""
    p = progress
    return (
        p.total > 0 and p.started == p.total and p.waiting_callback > 0 and p.finished + p.waiting_callback == p.total
    )


async def follow_campaign(
    client: Client,
    campaign_id: str,
    *,
    console: Console,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    poll_seconds: float = POLL_SECONDS,
    settle_horizon: timedelta | None = None,
) -> FollowResult:
    """Show the campaign live until it is done or its workflow closes; with ``sessions``, its outcomes
    and dials from the store too.

    With ``settle_horizon``, also stop once the only contacts left wait for callbacks due later than
    that: a person who asked to be called tomorrow keeps the campaign open until tomorrow, and a demo
    should not sit there all night. The callbacks come back in :attr:`FollowResult.callbacks`.
    """
    handle = campaigns.campaign_handle(client, campaign_id)
    closed = asyncio.ensure_future(handle.result())
    started = time.monotonic()
    last_ok = started
    last_line, last_line_at = "", 0.0
    next_settled_check = 0.0
    progress = CampaignProgress(campaign_id=campaign_id)
    store: StoreCounts | None = None
    live = Live(console=console, refresh_per_second=4, transient=False) if console.is_terminal else None
    try:
        with live or contextlib.nullcontext():
            while True:
                try:
                    progress = await campaigns.in_flight(client, campaign_id)
                    last_ok = time.monotonic()
                except RPCError as err:
                    if time.monotonic() - last_ok > QUERY_FAILURES_TOLERATED_SECONDS:
                        raise FollowError(f"campaign {campaign_id} does not answer its progress query: {err}") from None
                if sessions is not None:
                    store = await campaigns.store_counts(sessions, campaign_id)
                line = _plain_line(progress, store)
                if live is not None:
                    live.update(_render(campaign_id, progress, store, started))
                elif progress.total and line != last_line and time.monotonic() - last_line_at >= PLAIN_EVERY_SECONDS:
                    _print_plain(console, started, line)
                    last_line, last_line_at = line, time.monotonic()
                if progress.done:
                    return FollowResult(progress=progress, store=store, ended="done")
                if closed.done():
                    return await _closed_result(closed, progress, store)
                if (
                    settle_horizon is not None
                    and _only_far_callbacks_left(progress)
                    and time.monotonic() >= next_settled_check
                ):
                    next_settled_check = time.monotonic() + SETTLED_CHECK_EVERY_SECONDS
                    callbacks = await campaigns.pending_callbacks(client, campaign_id)
                    horizon_end = datetime.now(UTC) + settle_horizon
                    if len(callbacks) == progress.waiting_callback and all(
                        callback.scheduled_for > horizon_end for callback in callbacks
                    ):
                        return FollowResult(progress=progress, store=store, ended="settled", callbacks=callbacks)
                await asyncio.wait({closed}, timeout=poll_seconds)
    finally:
        if live is None and _plain_line(progress, store) != last_line:
            _print_plain(console, started, _plain_line(progress, store))
        if not closed.done():
            closed.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await closed


async def _closed_result(
    closed: "asyncio.Future[CampaignResult]", last: CampaignProgress, store: StoreCounts | None
) -> FollowResult:
    try:
        result = closed.result()
    except WorkflowFailureError as err:
        return FollowResult(progress=last, store=store, ended="closed", workflow_error=str(err.cause or err))
    return FollowResult(progress=result.progress, store=store, ended="done")


def _from_now(at: datetime, now: datetime) -> str:
    minutes = max(0, int((at - now).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"in {hours} h {minutes:02d} min" if hours else f"in {minutes} min"


async def print_summary(
    console: Console,
    follow: FollowResult,
    sessions: async_sessionmaker[AsyncSession],
    *,
    ui_link: str,
) -> bool:
    """The store's outcomes, and the two owners side by side; True when they agree.

    The workflow counts the contacts it has finished; the store holds each one's final outcome,
    written before the workflow hears of it. They agree when both count as many finished contacts
    and, once the campaign is done, no attempt is left dialling.
    """
    progress = follow.progress
    overview = CampaignOverview(
        campaign_id=progress.campaign_id,
        workflow=progress,
        store=await campaigns.store_counts(sessions, progress.campaign_id),
    )
    deadline = time.monotonic() + STORE_CATCH_UP_SECONDS
    while not overview.agree and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        overview.store = await campaigns.store_counts(sessions, progress.campaign_id)
    stored = overview.store

    table = Table(title=f"campaign {progress.campaign_id}: {progress.status.value}", title_justify="left")
    table.add_column("final outcome (store)")
    table.add_column("contacts", justify="right")
    order = [outcome.value for outcome in FinalOutcome]
    for name in sorted(stored.outcomes, key=lambda name: (order.index(name) if name in order else 99, name)):
        table.add_row(name, str(stored.outcomes[name]))
    if progress.waiting_callback:
        table.add_row("(waiting for a callback)", str(progress.waiting_callback), style="yellow")
    table.add_section()
    table.add_row("finished: workflow / store", f"{progress.finished} / {stored.finished}", style="bold")
    table.add_row("contacts: workflow / store", f"{progress.total} / {stored.contacts}")
    console.print(table)

    calls = ", ".join(f"{outcome} {count}" for outcome, count in sorted(stored.call_outcomes.items()))
    console.print(f"{stored.dials} dial(s): {calls or 'none'}", highlight=False, soft_wrap=True)
    if stored.dialling:
        console.print(f"{stored.dialling} dial(s) not ended yet", highlight=False)
    now = datetime.now(UTC)
    for callback in follow.callbacks:
        when = callback.scheduled_for.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        console.print(
            f"{callback.external_id} asked to be called back: booked for {when} "
            f"({_from_now(callback.scheduled_for, now)});"
            " the campaign workflow stays open until then",
            highlight=False,
            soft_wrap=True,
        )
    if follow.workflow_error:
        console.print(f"[red]the campaign workflow ended without a result: {follow.workflow_error}[/red]")
    agree = overview.agree
    if agree:
        console.print("[green]the campaign workflow and the store agree: every finished contact is stored[/green]")
    else:
        console.print("[red]the campaign workflow and the store disagree (see the table above)[/red]")
    console.print(f"Web UI: {ui_link}", highlight=False, soft_wrap=True)
    return agree


CONVERSATION_OUTCOMES = (
    FinalOutcome.QUALIFIED,
    FinalOutcome.COMPLETED,
    FinalOutcome.NOT_INTERESTED,
    FinalOutcome.DO_NOT_CALL,
)
"""The finished contacts whose conversations tell the most, in the order they are picked."""


async def print_conversations(
    console: Console, sessions: async_sessionmaker[AsyncSession], campaign_id: str, *, limit: int = 3
) -> int:
    """What the agent did with a few finished contacts, from the store: transcript, shared information, notes.

    One contact per outcome in :data:`CONVERSATION_OUTCOMES` order, only contacts with a transcript.
    Returns how many conversations were printed.
    """
    from sqlalchemy import select

    from store import analyses, queries
    from store.models import ContactRow, TranscriptSegmentRow

    async with sessions() as session:
        talked = select(TranscriptSegmentRow.external_id).where(TranscriptSegmentRow.campaign_id == campaign_id)
        stmt = (
            select(ContactRow.external_id, ContactRow.name, ContactRow.final_outcome)
            .where(
                ContactRow.campaign_id == campaign_id,
                ContactRow.final_outcome.is_not(None),
                ContactRow.external_id.in_(talked),
            )
            .order_by(ContactRow.seq)
        )
        finished = (await session.execute(stmt)).all()
        picked = []
        for outcome in CONVERSATION_OUTCOMES:
            match = next((row for row in finished if row.final_outcome == outcome.value), None)
            if match is not None:
                picked.append(match)
            if len(picked) == limit:
                break
        if not picked:
            return 0
        console.print()
        console.rule("Conversations", align="left")
        for row in picked:
            transcript = await queries.transcript_for(session, campaign_id, row.external_id)
            information = await queries.information_for(session, campaign_id, row.external_id)
            notes = await queries.notes_for(session, campaign_id, row.external_id)
            header = Text.assemble(
                (f"{row.name or row.external_id}", "bold"), f" ({row.external_id}) → ", (row.final_outcome, "green")
            )
            console.print()
            console.print(header)
            for segment in transcript:
                style = "cyan" if segment.speaker == "agent" else ""
                line = Text.assemble((f"  {segment.speaker:>6}: ", style or "dim"), (segment.text, style))
                console.print(line, soft_wrap=True)
            for item in information:
                console.print(
                    Text.assemble(("  shared ", "yellow"), f"[{item.category.value}] {item.information}"),
                    soft_wrap=True,
                )
            for note in notes:
                console.print(Text.assemble(("  note   ", "yellow"), note), soft_wrap=True)
            print_analysis(console, await analyses.latest_of_contact(session, campaign_id, row.external_id))
    return len(picked)


def print_analysis(console: Console, analysis: CallAnalysis | None) -> None:
    """The post-call analysis under a conversation: summary, extracted fields, success, tags."""
    if analysis is None:
        return
    if analysis.summary:
        console.print(Text.assemble(("  summary ", "magenta"), analysis.summary), soft_wrap=True)
    if analysis.extracted:
        fields = ", ".join(f"{name}={value}" for name, value in analysis.extracted.items())
        console.print(Text.assemble(("  fields  ", "magenta"), fields), soft_wrap=True)
    if analysis.success is not None:
        verdict = "pass" if analysis.success else "fail"
        console.print(
            Text.assemble(("  success ", "magenta"), f"{verdict} ({analysis.success_reason})"), soft_wrap=True
        )
    if analysis.tags:
        console.print(Text.assemble(("  tags    ", "magenta"), ", ".join(analysis.tags)), soft_wrap=True)
