"""Probes and metrics: the API's and the worker process's /healthz, /readyz and /metrics.

Ready means every dependency answers: 200 with each check "ok", else 503 naming what failed.
"""

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
import pytest_asyncio
from codec_test_keys import TEST_ONLY_CODEC_KEYS
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio.client import Client
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BUFFERED_METRIC_KIND_HISTOGRAM,
)

from api.main import create_app
from infra.health import database_check, temporal_check, worker_check, worker_http_app
from infra.observability import SdkMetricsCollector
from schemas.settings import Settings
from simulator.carrier import SimCarrier
from store.db import make_engine, make_session_factory
from worker.http_server import bound_port, serving
from worker.main import build_worker, run_worker

BASE = "http://ringflow.test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def unreachable_temporal() -> Client:
    """A client of a port nobody listens on: lazy, so it is made without a server and fails when used."""
    return await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)


@pytest_asyncio.fixture
async def unreachable_database() -> AsyncIterator[async_sessionmaker]:
    """Sessions on a Postgres port nobody listens on: every query fails to connect."""
    engine = make_engine(f"postgresql://ringflow@127.0.0.1:{free_port()}/ringflow")
    yield make_session_factory(engine)
    await engine.dispose()


@contextlib.asynccontextmanager
async def api(settings: Settings, client: Client, sessions: async_sessionmaker) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, client, sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


async def test_the_api_is_live_and_ready_when_the_database_and_temporal_answer(time_env, session_factory) -> None:
    async with api(Settings(_env_file=None), time_env.client, session_factory) as http:  # type: ignore[call-arg]
        live = await http.get("/healthz")
        ready = await http.get("/readyz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "temporal": "ok"}}


async def test_the_api_is_not_ready_without_its_database(time_env, unreachable_database) -> None:
    async with api(Settings(_env_file=None), time_env.client, unreachable_database) as http:  # type: ignore[call-arg]
        live = await http.get("/healthz")
        ready = await http.get("/readyz")
    assert live.status_code == 200
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["temporal"] == "ok"
    assert body["checks"]["database"].startswith("OperationalError")


async def test_the_api_is_not_ready_without_temporal(session_factory) -> None:
    client = await unreachable_temporal()
    async with api(Settings(_env_file=None), client, session_factory) as http:  # type: ignore[call-arg]
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["temporal"] != "ok"


async def test_the_api_serves_prometheus_metrics(time_env, session_factory) -> None:
    async with api(Settings(_env_file=None), time_env.client, session_factory) as http:  # type: ignore[call-arg]
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for family in (
        "ringflow_dials_total counter",
        "ringflow_calls_in_progress gauge",
        "ringflow_tool_latency_seconds histogram",
        "ringflow_webhook_latency_seconds histogram",
    ):
        assert f"# TYPE {family}\n" in response.text


async def test_a_worker_that_is_not_polling_is_not_ready(time_env, session_factory) -> None:
    worker = build_worker(
        time_env.client,
        Settings(task_queue=f"tq-{uuid.uuid4().hex[:8]}"),
        sessions=session_factory,
        carrier=SimCarrier(time_scale=0.0),
    )
    app = worker_http_app(
        {
            "database": database_check(session_factory),
            "temporal": temporal_check(time_env.client),
            "worker": worker_check(worker),
        }
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "database": "ok",
        "temporal": "ok",
        "worker": "RuntimeError: the worker is not polling",
    }


async def test_the_worker_process_serves_its_probes_and_metrics_while_it_polls(time_env, db_url) -> None:
    port = free_port()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        temporal_address=time_env.client.service_client.config.target_host,
        database_url=db_url,
        task_queue=f"tq-{uuid.uuid4().hex[:8]}",
        worker_http_port=port,
        codec_keys=TEST_ONLY_CODEC_KEYS,
    )
    process = asyncio.create_task(run_worker(settings))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            live = await _first_answer(http, "/healthz")
            ready = await _first_answer(http, "/readyz", wanted=200)
            metrics = await http.get("/metrics")
    finally:
        process.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await process
    assert live.json() == {"status": "ok"}
    assert ready.json()["checks"] == {"database": "ok", "temporal": "ok", "worker": "ok"}
    assert "# TYPE ringflow_dials_total counter" in metrics.text
    # The SDK's own metrics come through the same endpoint: the worker's pollers are counted.
    assert "temporal_num_pollers{" in metrics.text


async def _first_answer(http: httpx.AsyncClient, path: str, wanted: int | None = None) -> httpx.Response:
    for _ in range(200):
        with contextlib.suppress(httpx.TransportError):
            response = await http.get(path)
            if wanted is None or response.status_code == wanted:
                return response
        await asyncio.sleep(0.05)
    pytest.fail(f"{path} never answered {wanted or ''}")


class FakeBuffer:
    """Stands in for Core's MetricBuffer: hands out the queued updates once, as retrieve_updates does."""

    def __init__(self) -> None:
        self.queued: list[SimpleNamespace] = []

    def add(self, name: str, kind: int, value: float, **attributes: str) -> None:
        metric = SimpleNamespace(name=name, kind=kind, description=f"{name} help", unit=None)
        self.queued.append(SimpleNamespace(metric=metric, value=value, attributes=attributes))

    def retrieve_updates(self) -> list[SimpleNamespace]:
        drained, self.queued = self.queued, []
        return drained


def test_the_sdk_metrics_become_counter_totals_last_gauge_values_and_histogram_buckets() -> None:
    buffer = FakeBuffer()
    registry = CollectorRegistry()
    registry.register(SdkMetricsCollector(buffer))  # type: ignore[arg-type]
    buffer.add("temporal_request", BUFFERED_METRIC_KIND_COUNTER, 2, operation="StartWorkflowExecution")
    buffer.add("temporal_num_pollers", BUFFERED_METRIC_KIND_GAUGE, 5, poller_type="workflow_task")
    buffer.add("temporal_request_latency", BUFFERED_METRIC_KIND_HISTOGRAM, 0.02, operation="PollActivityTaskQueue")
    generate_latest(registry)  # a scrape drains; the totals carry over to the next one
    buffer.add("temporal_request", BUFFERED_METRIC_KIND_COUNTER, 3, operation="StartWorkflowExecution")
    buffer.add("temporal_num_pollers", BUFFERED_METRIC_KIND_GAUGE, 4, poller_type="workflow_task")
    buffer.add("temporal_request_latency", BUFFERED_METRIC_KIND_HISTOGRAM, 7.0, operation="PollActivityTaskQueue")

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    poll = (("operation", "PollActivityTaskQueue"),)
    assert samples[("temporal_request_total", (("operation", "StartWorkflowExecution"),))] == 5
    assert samples[("temporal_num_pollers", (("poller_type", "workflow_task"),))] == 4
    assert samples[("temporal_request_latency_count", poll)] == 2
    assert samples[("temporal_request_latency_sum", poll)] == pytest.approx(7.02)
    assert samples[("temporal_request_latency_bucket", (("le", "0.025"), *poll))] == 1
    assert samples[("temporal_request_latency_bucket", (("le", "5.0"), *poll))] == 1
    assert samples[("temporal_request_latency_bucket", (("le", "10.0"), *poll))] == 2
    assert samples[("temporal_request_latency_bucket", (("le", "+Inf"), *poll))] == 2


async def test_a_probe_port_in_use_fails_the_start_with_one_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port} for /healthz"):
            async with serving(worker_http_app({}), "127.0.0.1", port, purpose="/healthz, /readyz, /metrics"):
                pytest.fail("served on a port in use")


async def test_served_connections_have_nagle_off_so_kept_alive_replies_do_not_wait_for_an_ack() -> None:
    async with serving(worker_http_app({}), "127.0.0.1", 0) as server:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{bound_port(server)}") as http:
            await http.get("/healthz")
            (connection,) = server.server_state.connections
            accepted = connection.transport.get_extra_info("socket")
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
