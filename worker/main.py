"""The Temporal worker: the campaign and contact workflows and the activities they call."""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.analysis import AnalysisActivities
from activities.calls import CallActivities
from activities.connections import ConnectionActivities
from activities.departments import DepartmentActivities
from activities.inbound import InboundActivities
from activities.knowledge import KnowledgeActivities
from activities.lookup import LookupActivities
from activities.recordings import RecordingActivities
from activities.store import StoreActivities
from activities.tools import ToolActivities
from activities.webhooks import WebhookActivities
from infra.client import connect
from infra.embeddings import embedder_for
from infra.health import database_check, temporal_check, worker_check, worker_http_app
from infra.webhooks import WebhookOutbox
from schemas.settings import Settings, get_settings
from simulator.agent_call import make_agent_call
from store.db import get_session_factory
from telephony.base import Carrier
from worker.carriers import make_carrier
from worker.http_server import serving
from workflows.campaign import CampaignWorkflow
from workflows.connections import ConnectionRefreshWorkflow
from workflows.contact import ContactWorkflow
from workflows.inbound import InboundCallWorkflow
from workflows.webhooks import WebhookDeliveryWorkflow

WORKFLOWS = [CampaignWorkflow, ContactWorkflow, InboundCallWorkflow, WebhookDeliveryWorkflow, ConnectionRefreshWorkflow]
WORKER_HTTP_HOST = "0.0.0.0"
"""The worker's /healthz, /readyz and /metrics listen on every interface: probes and Prometheus come from outside."""

# Decoding a workflow's input validates its Contact, and phonenumbers loads each country's metadata
# lazily, by import, the first time it sees one: that import must happen outside the sandbox.
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("phonenumbers", "schemas", "zoneinfo")
)


def build_worker(
    client: Client,
    settings: Settings,
    *,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    carrier: Carrier | None = None,
    task_queue: str | None = None,
) -> Worker:
    sessions = sessions or get_session_factory(settings.sqlalchemy_url)
    outbox = WebhookOutbox(client, settings)
    calls = CallActivities(
        carrier
        or make_carrier(
            settings,
            agent_call=make_agent_call(client, settings=settings),
        ),
        sessions,
        outbox=outbox,
    )
    store = StoreActivities(sessions, client, outbox)
    inbound = InboundActivities(settings, sessions, client, outbox)
    analysis = AnalysisActivities(settings, sessions, outbox)
    hooks = WebhookActivities(settings, sessions)
    lookups = LookupActivities(settings)
    tools = ToolActivities(settings, sessions)
    connections = ConnectionActivities(settings, sessions)
    knowledge = KnowledgeActivities(sessions, embedder_for(settings))
    departments = DepartmentActivities(sessions)
    recordings = RecordingActivities(settings, sessions)
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=SANDBOX,
        activities=[
            calls.place_call,
            calls.sweep_dialling,
            store.claim_contacts,
            store.record_callback,
            store.record_outcome,
            store.reconcile_contacts,
            store.set_campaign_status,
            store.cancel_campaign_contacts,
            store.record_note,
            store.record_disposition,
            store.record_call_outcome,
            store.record_information,
            store.record_transcript,
            store.check_dial,
            store.record_dial_decision,
            store.list_do_not_call,
            inbound.prepare_inbound_room,
            inbound.delete_inbound_room,
            inbound.record_inbound_call,
            inbound.finish_inbound_call,
            inbound.start_inbound_callback,
            analysis.analyze_call,
            hooks.send_webhook,
            hooks.dead_letter_webhook,
            lookups.look_up_contact,
            tools.load_http_tools,
            knowledge.search_knowledge,
            tools.invoke_http_tool,
            tools.record_tool_invocation,
            connections.refresh_connection,
            departments.load_departments,
            departments.record_call_route,
            recordings.collect_recordings,
        ],
        max_concurrent_activities=500,
        workflow_task_executor=ThreadPoolExecutor(max_workers=8),
    )


async def run_worker(settings: Settings | None = None) -> None:
    """The worker process: poll the task queue, and serve its probes and metrics on ``worker_http_port``."""
    settings = settings or get_settings()
    client = await connect(settings)
    sessions = get_session_factory(settings.sqlalchemy_url)
    worker = build_worker(client, settings, sessions=sessions)
    checks = {"database": database_check(sessions), "temporal": temporal_check(client), "worker": worker_check(worker)}
    probes = serving(
        worker_http_app(checks), WORKER_HTTP_HOST, settings.worker_http_port, purpose="/healthz, /readyz, /metrics"
    )
    async with worker, probes:
        logging.getLogger(__name__).info(
            "worker polling %s on %s; /healthz /readyz /metrics on port %d",
            settings.task_queue,
            settings.temporal_address,
            settings.worker_http_port,
        )
        await asyncio.Event().wait()
