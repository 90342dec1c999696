"""One trace from an API request to the voice tools, and the dial metrics that match the store.

The worker and the client that starts the campaign come from ``worker.client.connect`` (the
TracingInterceptor, the process's Temporal runtime), against the dev server; the request goes
through the API's own tracing middleware; spans land in an in-memory exporter.
"""

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from codec_test_keys import TEST_ONLY_CODEC_KEYS
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.client import Client
from workflow_helpers import contact, settings

from api.tracing import TracingMiddleware
from schemas.agent import AgentConfig
from schemas.settings import Settings
from schemas.workflow_io import campaign_workflow_id
from store.models import AttemptRow
from worker.campaigns import create_campaign_from_contacts
from worker.client import connect
from worker.health import metrics_response
from worker.main import build_worker
from worker.observability import setup_tracing

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
    """A traced client, a worker built from it (sim carrier, the scripted agent), and an API that starts
    a campaign: ``(client, http, task_queue)``."""
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

    async def start_campaign(request: Request) -> JSONResponse:
        people = [contact(index, persona) for index, persona in enumerate(PERSONAS)]
        campaign_id = await create_campaign_from_contacts(
            client, session_factory, "traced", people, CAMPAIGN, task_queue=config.task_queue, agent=AGENT
        )
        return JSONResponse({"campaign_id": campaign_id}, status_code=201)

    api = TracingMiddleware(Starlette(routes=[Route("/v1/campaigns", start_campaign, methods=["POST"])]))
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
    assert parent_of(start, finished) is request
    assert len(named["RunWorkflow:CampaignWorkflow"]) >= 1
    assert len(named["RunWorkflow:ContactWorkflow"]) >= len(PERSONAS)
    assert len(named["RunActivity:place_call"]) == len(PERSONAS)
    assert named["RunActivity:claim_contacts"]

    # The agent's tools run inside place_call (under LiveKit's own agent spans). Temporal links each
    # update's handling in the workflow to the client-side update span made under the tool's span.
    tools = [span for span in finished if span.name.startswith("tool:")]
    assert {span.name for span in tools} >= {"tool:share_information", "tool:mark_not_interested", "tool:end_call"}
    for tool in tools:
        assert "RunActivity:place_call" in ancestors(tool, finished), tool.name
    (mark,) = named["tool:mark_not_interested"]
    (sent,) = named["StartWorkflowUpdate:mark_not_interested"]
    assert parent_of(sent, finished) is mark
    (handled,) = named["HandleUpdate:mark_not_interested"]
    assert [link.context.span_id for link in handled.links] == [sent.context.span_id]


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
            select(AttemptRow.outcome, func.count())
            .where(AttemptRow.campaign_id == campaign_id)
            .group_by(AttemptRow.outcome)
        )
        stored = Counter({outcome: count for outcome, count in rows})
    assert sum(stored.values()) == len(PERSONAS)
    assert after - before == stored
