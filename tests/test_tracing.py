"""One trace from an API request to the voice tools, and the dial metrics that match the store.

The worker and the client that starts the campaign come from ``infra.client.connect`` (the
TracingInterceptor, the process's Temporal runtime), against the dev server; FastAPI makes the
request's span (its native OpenTelemetry support); spans land in an in-memory exporter.
"""

import asyncio
import os
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from codec_test_keys import TEST_ONLY_CODEC_KEYS
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.client import Client
from workflow_helpers import calls_at_any_hour, contact, settings

from api.main import create_app
from api.services import campaigns
from infra.client import connect
from infra.health import metrics_response
from infra.observability import setup_tracing, start_voice_call_span
from schemas.agent import AgentConfig, CallJob
from schemas.calls import DialRequest
from schemas.settings import Settings
from schemas.workflow_io import campaign_workflow_id
from store.models import DEFAULT_ORG_ID, AttemptRow
from telephony.livekit_sip import call_job_json
from worker.http_server import bound_port, serving
from worker.main import build_worker

AGENT = AgentConfig(
    name="tess",
    instructions="You are Tess, calling customers about their Ringflow trial. Be brief and polite.",
    greeting="Hi, this is Tess from Ringflow. Do you have a minute?",
)
PERSONAS = ["qualifies", "not_interested", "busy", "voicemail", "never_answers"]
CAMPAIGN = settings(max_attempts=1, initial_backoff=timedelta(minutes=30))


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    """The process's tracer provider (as every entry point sets it up), also exporting to memory."""
    exporter = InMemorySpanExporter()
    setup_tracing(Settings(_env_file=None), "ringflow-tests").add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[call-arg]
    return exporter


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    span_exporter.clear()
    yield span_exporter
    span_exporter.clear()


@pytest_asyncio.fixture
async def traced(dev_env, session_factory, db_url) -> AsyncIterator[tuple[Client, httpx.AsyncClient, str]]:
    """A traced client, a worker built from it (sim carrier, the scripted agent), and a FastAPI route that
    starts a campaign (FastAPI makes the request's span): ``(client, http, task_queue)``."""
    config = Settings(
        _env_file=None,  # type: ignore[call-arg]
        temporal_address=dev_env.client.service_client.config.target_host,
        database_url=db_url,
        task_queue=f"tq-traced-{uuid.uuid4().hex[:8]}",
        codec_keys=TEST_ONLY_CODEC_KEYS,
        carrier="sim",
        sim_time_scale=0.0,
    )
    client = await connect(config)
    await calls_at_any_hour(session_factory, DEFAULT_ORG_ID)

    api = FastAPI()

    @api.post("/v1/campaigns", status_code=201)
    async def start_campaign() -> dict[str, str]:
        people = [contact(index, persona) for index, persona in enumerate(PERSONAS)]
        campaign_id, _ = await campaigns.create(
            client,
            session_factory,
            org_id=DEFAULT_ORG_ID,
            name="traced",
            settings=CAMPAIGN,
            contacts=campaigns.ContactList.from_rows([person.model_dump() for person in people]),
            agent=AGENT,
            start=True,
            deployment=config,
            limits=campaigns.ImportLimits.of(config),
        )
        return {"campaign_id": campaign_id}

    async with (
        build_worker(client, config, sessions=session_factory),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://ringflow.test") as http,
    ):
        yield client, http, config.task_queue


async def run_campaign(client: Client, http: httpx.AsyncClient) -> str:
    response = await http.post("/v1/campaigns")
    assert response.status_code == 201, response.text
    campaign_id = response.json()["campaign_id"]
    await client.get_workflow_handle(campaign_workflow_id(campaign_id)).result()
    return campaign_id


def by_name(finished: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    named: dict[str, list[ReadableSpan]] = {}
    for span in finished:
        named.setdefault(span.name, []).append(span)
    return named


def parent_of(span: ReadableSpan, finished: tuple[ReadableSpan, ...]) -> ReadableSpan:
    assert span.parent is not None, f"{span.name} has no parent"
    return next(other for other in finished if other.context.span_id == span.parent.span_id)


def ancestors(span: ReadableSpan, finished: tuple[ReadableSpan, ...]) -> list[str]:
    names = []
    while span.parent is not None:
        span = parent_of(span, finished)
        names.append(span.name)
    return names


async def test_one_trace_runs_from_the_api_request_through_the_workflows_and_activities_to_the_voice_tools(
    traced, spans: InMemorySpanExporter
) -> None:
    client, http, _ = traced
    await run_campaign(client, http)

    finished = spans.get_finished_spans()
    named = by_name(finished)
    (request,) = named["POST /v1/campaigns"]
    assert request.parent is None, "the request span is the root"
    trace_ids = {span.context.trace_id for span in finished}
    assert trace_ids == {request.context.trace_id}, "every span belongs to the request's trace"

    (start,) = named["StartWorkflow:CampaignWorkflow"]
    assert request.name in ancestors(start, finished)
    assert len(named["RunWorkflow:CampaignWorkflow"]) >= 1
    assert len(named["RunWorkflow:ContactWorkflow"]) >= len(PERSONAS)
    assert len(named["RunActivity:place_call"]) == len(PERSONAS)
    assert named["RunActivity:claim_contacts"]

    # The agent's tools run inside place_call (under LiveKit's own agent spans). Temporal links each
    # update's handling in the workflow to the client-side update span made under the tool's span.
    tools = [span for span in finished if span.name.startswith("tool:")]
    assert {span.name for span in tools} >= {"tool:share_information", "tool:record_disposition", "tool:end_call"}
    for tool in tools:
        assert "RunActivity:place_call" in ancestors(tool, finished), tool.name
    # One disposition per answered call; each update's handling links to the update its tool sent.
    sent_by_tool = {
        parent_of(sent, finished).context.span_id: sent for sent in named["StartWorkflowUpdate:record_disposition"]
    }
    handled_links = sorted(
        link.context.span_id for handled in named["HandleUpdate:record_disposition"] for link in handled.links
    )
    assert sorted(sent_by_tool) == sorted(mark.context.span_id for mark in named["tool:record_disposition"])
    assert handled_links == sorted(sent.context.span_id for sent in sent_by_tool.values())


def dial_counts(text: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ringflow_dials_total":
                counts[sample.labels["outcome"]] = int(sample.value)
    return counts


async def test_dials_by_outcome_on_metrics_match_the_attempts_in_the_store(traced, session_factory) -> None:
    client, http, _ = traced
    before = dial_counts(metrics_response().body.decode())
    campaign_id = await run_campaign(client, http)
    after = dial_counts(metrics_response().body.decode())

    async with session_factory() as session:
        rows: Any = await session.execute(
            select(AttemptRow.network_outcome, func.count())
            .where(AttemptRow.campaign_id == campaign_id)
            .group_by(AttemptRow.network_outcome)
        )
        stored = Counter({outcome: count for outcome, count in rows})
    assert sum(stored.values()) == len(PERSONAS)
    assert after - before == stored


def histogram_count(text: str, name: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{name}_count" and sample.labels == labels:
                return sample.value
    return 0.0


async def test_the_api_answers_each_request_in_a_server_span_and_times_the_twilio_webhooks(
    time_env, session_factory, spans: InMemorySpanExporter
) -> None:
    config = Settings(_env_file=None, twilio_auth_token="token")  # type: ignore[call-arg]
    app = create_app(config, time_env.client, session_factory)
    webhook = {"route": "/twilio/voice/incoming"}
    before = histogram_count(metrics_response().body.decode(), "ringflow_webhook_latency_seconds", webhook)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ringflow.test") as http:
        assert (await http.get("/healthz")).status_code == 200
        unsigned = await http.post("/twilio/voice/incoming", data={"CallSid": "CA1", "To": "+14155550100"})
    assert unsigned.status_code == 403
    after = histogram_count(metrics_response().body.decode(), "ringflow_webhook_latency_seconds", webhook)

    named = by_name(spans.get_finished_spans())
    (health,) = named["GET /healthz"]
    assert health.kind == SpanKind.SERVER
    assert health.attributes["http.route"] == "/healthz"
    assert health.attributes["http.response.status_code"] == 200
    (rejected,) = named["POST /twilio/voice/incoming"]
    assert rejected.attributes["http.response.status_code"] == 403
    assert after - before == 1, "the webhook's answer was timed under its route"


async def test_a_request_continues_the_callers_trace(time_env, session_factory, spans: InMemorySpanExporter) -> None:
    app = create_app(Settings(_env_file=None), time_env.client, session_factory)  # type: ignore[call-arg]
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ringflow.test") as http:
        await http.get("/healthz", headers={"traceparent": f"00-{caller_trace}-{caller_span}-01"})
    (span,) = by_name(spans.get_finished_spans())["GET /healthz"]
    assert format(span.context.trace_id, "032x") == caller_trace
    assert span.parent is not None and format(span.parent.span_id, "016x") == caller_span


REPO_ROOT = Path(__file__).resolve().parent.parent
EXPORTING_PROCESS = """
from opentelemetry import trace
from schemas.settings import Settings
from infra.observability import setup_tracing
provider = setup_tracing(Settings(_env_file=None), "ringflow-export-test")
with trace.get_tracer("test").start_as_current_span("exported"):
    pass
provider.shutdown()
"""


async def test_spans_go_to_the_otlp_http_collector_when_an_endpoint_is_set(tmp_path) -> None:
    received: list[tuple[str, str, bytes]] = []

    async def collect(request: Request) -> Response:
        received.append((request.url.path, request.headers["content-type"], await request.body()))
        return Response(status_code=200)

    collector = Starlette(routes=[Route("/{path:path}", collect, methods=["POST"])])
    async with serving(collector, "127.0.0.1", 0) as server:
        endpoint = f"http://127.0.0.1:{bound_port(server)}/"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            EXPORTING_PROCESS,
            cwd=REPO_ROOT,
            env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint},
        )
        assert await asyncio.wait_for(process.wait(), 30) == 0
    ((path, content_type, body),) = received
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert b"exported" in body and b"ringflow-export-test" in body


def test_a_live_call_continues_the_trace_of_the_dial_that_placed_it(spans: InMemorySpanExporter) -> None:
    request = DialRequest(
        idempotency_key="contact-c1-p0001#1",
        campaign_id="c1",
        contact=contact(1, "answers"),
        attempt=1,
        calls_per_second=1,
        workflow_id="contact-c1-p0001",
        agent=AGENT,
    )
    with trace.get_tracer("test").start_as_current_span("RunActivity:place_call") as dial:
        job = CallJob.model_validate_json(call_job_json(request, AGENT))  # the room's and dispatch's metadata

    # In the voice worker's job process: the call's span, current while the session starts its tasks.
    call_span, flush = start_voice_call_span(Settings(_env_file=None), job, "call-room")  # type: ignore[call-arg]
    with trace.use_span(call_span), trace.get_tracer("test").start_as_current_span("tool:take_note"):
        pass
    call_span.end()
    assert flush()

    named = by_name(spans.get_finished_spans())
    (voice_call,) = named["voice_call"]
    assert voice_call.context.trace_id == dial.get_span_context().trace_id
    assert voice_call.parent is not None and voice_call.parent.span_id == dial.get_span_context().span_id
    assert voice_call.attributes["temporalWorkflowID"] == "contact-c1-p0001"
    (tool,) = named["tool:take_note"]
    assert tool.parent is not None and tool.parent.span_id == voice_call.context.span_id
