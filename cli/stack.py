"""``ringflow dev`` (the embedded dev stack) and ``ringflow demo`` (the offline end-to-end run)."""

import asyncio
import logging
import secrets
import shutil
import time
from datetime import time as clock_time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.markup import escape

from cli.agents import load_agent_file, load_campaign_agent
from cli.common import (
    SETTLE_HORIZON,
    console,
    fail,
    load_csv,
    load_settings,
    print_import_report,
    redacted_url,
    run_command,
)
from schemas.campaign import ALL_WEEKDAYS, CallingWindow, CampaignSettings, RetryPolicy
from schemas.imports import CsvImportReport
from schemas.settings import Settings

if TYPE_CHECKING:
    from schemas.agent import AgentConfig

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
DEMO_SIM = {"sim_time_scale": 0.4, "carrier": "sim"}
DEMO_OWNER_EMAIL = "demo@example.com"
DEMO_LEGAL_BASIS = "simulated callees on the sim carrier: no phone rings"


def dev() -> None:
    """Run the dev stack: Temporal dev server (or the one already running), database, worker. Ctrl-C stops it."""
    settings = load_settings()  # the worker's warnings (a refused callback, a retried activity) show in the terminal
    run_command(_dev(settings), interrupt_code=0)


async def _dev(settings: Settings) -> None:
    from infra.codec import EncryptionCodec, codec_server_url
    from infra.operator import operator_token_file
    from worker.devstack import DevStack

    async with DevStack(settings) as stack:
        where = f"started here (log: {stack.log_path})" if stack.started_server else "already running, reused"
        console.print(f"Temporal server  {settings.temporal_address}: {where}", highlight=False)
        console.print(f"Web UI           {stack.ui_url}", highlight=False)
        console.print(f"database         {redacted_url(settings.sqlalchemy_url)}", highlight=False)
        console.print(
            f"API, dashboard   {stack.api_url} (OpenAPI docs at /docs); "
            "log in as a member: `ringflow org member add default you@example.com --role owner`",
            highlight=False,
        )
        codec = stack.client.data_converter.payload_codec
        if isinstance(codec, EncryptionCodec):
            console.print(
                f"payloads         encrypted (key {codec.encrypting_key_id}), "
                f"Web UI decodes at {codec_server_url(settings)} once you log in at {stack.api_url}/operator/login "
                f"with the token in {operator_token_file(settings)}",
                highlight=False,
            )
        console.print(
            f"worker           polling task queue '{settings.task_queue}' (carrier: {settings.carrier})",
            highlight=False,
        )
        console.print("[green]ready[/green]: `ringflow campaign start contacts.csv` in another terminal; Ctrl-C stops")
        await asyncio.Event().wait()


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
    webhook: Annotated[
        str | None,
        typer.Option(help="Register this URL for every event of the demo (a local receiver is allowed)"),
    ] = None,
) -> None:
    """Offline end to end: a simulated carrier calls the sample list, with retries and callbacks, in about a minute."""
    if llm not in ("scripted", "openai"):
        fail(f"--llm must be 'scripted' or 'openai', not {llm!r}", code=2)
    base = load_settings()
    if llm == "openai" and not base.openai_agent_api_key:
        fail("--llm openai needs OPENAI_API_KEY (or RINGFLOW_OPENAI_AGENT_API_KEY) in the environment", code=2)
    settings = base.model_copy(
        update={
            **DEMO_SIM,
            "agent_llm": llm,
            "data_dir": base.data_dir / "demo",
            # Its own task queue: a `ringflow dev` worker on a reused server must not take the demo's
            # activities, since it writes to a different database.
            "task_queue": f"{base.task_queue}-demo",
            # The demo runs on this machine: a receiver on it may take its webhooks (--webhook), and a service on
            # it may answer its HTTP tools.
            "webhook_allow_private_urls": True,
            "tool_allow_private_urls": True,
        }
    )
    report = load_csv(contacts)
    print_import_report(report, contacts)
    if not report.contacts:
        fail(f"no valid contacts in {contacts}: nothing to call")
    try:
        agent = load_agent_file(DEMO_AGENT)
    except ValueError as err:
        fail(f"the demo agent: {err}")
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    # The live view and the summary tell the story; worker warnings would only break the display.
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    logging.getLogger("livekit").setLevel(logging.ERROR)
    run_command(_demo(settings, report, agent, keep_running, webhook), interrupt_code=0 if keep_running else 130)


async def _demo(
    settings: Settings, report: CsvImportReport, agent: "AgentConfig", keep_running: bool, webhook: str | None
) -> int:
    from api.services import campaigns, webhooks
    from cli.progress import follow_campaign, print_conversations, print_summary
    from schemas.compliance import any_hour_policy
    from schemas.webhooks import WebhookEndpointIn
    from schemas.workflow_io import campaign_workflow_id
    from simulator.slot_service import SLOT_TOOL, SlotService, slot_tool
    from store import compliance, queries
    from store import tools as store_tools
    from store.db import get_session_factory
    from store.members import add_member, get_member, set_password
    from store.orgs import create_org, get_org
    from worker.devstack import DevStack, api_url, is_listening

    began = time.monotonic()
    # A `ringflow dev` may already serve its API on the port: the demo then runs without a dashboard.
    serve_api = not await is_listening(urlsplit(api_url(settings)).netloc)
    # The demo agent's HTTP tool asks this service for free appointment slots, over real HTTP.
    async with DevStack(settings, serve_api=serve_api) as stack, SlotService() as slots:
        where = "started" if stack.started_server else "reused the running"
        console.print(
            f"{where} Temporal dev server at {settings.temporal_address}; Web UI {stack.ui_url}", soft_wrap=True
        )
        sessions = get_session_factory(settings.sqlalchemy_url)
        # The demo's agent and campaign belong to an organization of their own, whose owner logs in to the
        # dashboard with a fresh password; the agent goes through the store like any agent, so `ringflow agent`
        # finds it afterwards.
        password = secrets.token_urlsafe(12)
        async with sessions() as session:
            # Under DATABASE_URL the store outlives the demo's data dir: a second run finds its organization.
            org = await get_org(session, DEMO_ORG_ID) or (await create_org(session, "Demo", org_id=DEMO_ORG_ID))[0]
            owner = await get_member(session, org.id, DEMO_OWNER_EMAIL)
            if owner is None:
                await add_member(session, org.id, DEMO_OWNER_EMAIL, password, "owner")
            else:
                await set_password(session, owner, password)
            await store_tools.save_tool(session, org.id, slot_tool(slots.url))
            agent = agent.model_copy(update={"http_tools": sorted({*agent.http_tools, SLOT_TOOL})})
            await queries.save_agent(session, agent, org.id)
            # The demo's callees are simulated, so it may show calls at any hour: its organization overrides
            # the legal floor, stating why, as any organization with a legal basis would (docs/compliance.md).
            await compliance.set_policy(session, org.id, any_hour_policy(DEMO_LEGAL_BASIS), changed_by="demo")
            await session.commit()
        console.print(f"calling hours: the demo organization overrides the legal floor ({DEMO_LEGAL_BASIS})")
        console.print(
            f"HTTP tool {SLOT_TOOL}: the demo agent looks up free slots at {slots.url}/slots/YYYY-MM-DD",
            highlight=False,
            soft_wrap=True,
        )
        endpoint = None
        if webhook:
            async with sessions() as session:
                endpoint = await webhooks.create(
                    session, settings, org_id=org.id, endpoint=WebhookEndpointIn(url=webhook)
                )
            console.print(f"webhook {endpoint.url}: every event, signed with {endpoint.secret}", highlight=False)
        dashboard = _demo_dashboard_line(stack.api_url, password) if serve_api else DEMO_NO_DASHBOARD
        console.print(dashboard, highlight=False, soft_wrap=True)
        agent = await load_campaign_agent(sessions, agent.name, org.id)
        campaign_id, _ = await campaigns.create(
            stack.client,
            sessions,
            org_id=org.id,
            name="demo",
            settings=DEMO_CAMPAIGN,
            contacts=campaigns.ContactList.from_rows([contact.model_dump() for contact in report.contacts]),
            agent=agent,
            start=True,
            deployment=settings,
            limits=campaigns.ImportLimits.of(settings),
        )
        link = stack.workflow_ui_url(campaign_workflow_id(campaign_id))
        console.print(
            f"campaign [bold]{campaign_id}[/bold] started with agent [bold]{escape(agent.name)}[/bold] "
            f"(offline scripted model): {link}",
            highlight=False,
            soft_wrap=True,
        )
        follow = await follow_campaign(
            stack.client, campaign_id, console=console, sessions=sessions, settle_horizon=SETTLE_HORIZON
        )
        agree = await print_summary(console, follow, sessions, ui_link=link)
        await print_conversations(console, sessions, campaign_id)
        if endpoint is not None:
            counts = await webhooks.settle_deliveries(sessions, org_id=org.id, endpoint_id=endpoint.id)
            summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "none"
            console.print(f"webhook deliveries to {endpoint.url}: {summary}", highlight=False)
        console.print(f"demo took {time.monotonic() - began:.0f} s")
        if keep_running:
            console.print(f"the stack keeps running for the Web UI at {stack.ui_url}; Ctrl-C stops it")
            console.print(dashboard, highlight=False, soft_wrap=True)
            await asyncio.Event().wait()
    return 0 if agree and follow.workflow_error is None else 1


def _demo_dashboard_line(url: str, password: str) -> str:
    return f"dashboard {url} (API docs at {url}/docs); log in as {DEMO_OWNER_EMAIL}, password {password}"
