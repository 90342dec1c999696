"""Traces and metrics for every Ringflow process: one tracer provider, one Prometheus registry.

Traces: the Temporal client carries :class:`TracingInterceptor`, so the span that is current when a
workflow is started, signalled or updated (an API request, a voice tool) becomes the parent of the
workflow's and its activities' spans, in whichever process runs them.

Metrics: ours (``ringflow_*``) and the Temporal SDK's own. Core writes the SDK's into a
:class:`MetricBuffer` that is drained into the same registry, so each process has one ``/metrics``;
``sdk_metrics_port`` instead hands them to Core's own Prometheus endpoint.
"""

import atexit
import functools
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from temporalio.common import MetricAttributes
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BufferedMetricUpdate,
    MetricBuffer,
    MetricBufferDurationFormat,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
)

from infra.logs import setup_logging
from schemas.agent import CallJob
from schemas.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds: a tool's update and a webhook answer in milliseconds, a slow one takes seconds."""
SDK_LATENCY_BUCKETS = (*LATENCY_BUCKETS, 300.0, 1800.0, 3600.0)
"""Seconds: the SDK's histograms also time long polls and workflows that last an hour."""
SDK_BUFFER_SIZE = 100_000
SDK_DRAIN_SECONDS = 1.0

DIALS = Counter("ringflow_dials", "Dial attempts that ended, by outcome", ["outcome"])
CALLS_IN_PROGRESS = Gauge("ringflow_calls_in_progress", "Outbound calls this worker is dialling or talking on")
TOOL_LATENCY = Histogram(
    "ringflow_tool_latency_seconds",
    "A voice tool's round trip to its call's workflow (update, signal or query)",
    ["tool"],
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_LATENCY = Histogram(
    "ringflow_webhook_latency_seconds", "Time to answer a carrier webhook", ["route"], buckets=LATENCY_BUCKETS
)

_tracer = trace.get_tracer("ringflow")


def setup_observability(settings: Settings, service: str, *, level: int = logging.INFO) -> None:
    """What every process entry point calls first: its logging format and its tracer provider."""
    setup_logging(settings.log_format, level)
    setup_tracing(settings, service)


# ---- traces --------------------------------------------------------------------------------------


def setup_tracing(settings: Settings, service: str) -> TracerProvider:
    """The process's tracer provider, installed once: exporting over OTLP/HTTP when an endpoint is set.

    Without an endpoint spans are still made (ids for the logs, parents for Temporal's spans) and dropped.
    A second call, or a provider a test installed first, is kept as it is.
    """
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # The variable names the collector's base URL; the HTTP exporter posts traces under /v1/traces.
        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def start_voice_call_span(settings: Settings, job: CallJob, room: str) -> tuple[Span, Callable[[], bool]]:
    """The voice worker job's span for its call, continuing the trace of the activity that placed it.

    Returns the span (the caller ends it when the job ends) and the provider's flush, for the same moment.
    """
    provider = setup_tracing(settings, "ringflow-voice")
    span = _tracer.start_span(
        "voice_call",
        context=propagate.extract(job.trace_context),
        kind=SpanKind.CONSUMER,
        attributes={"ringflow.room": room, "temporalWorkflowID": job.workflow_id},
    )
    return span, provider.force_flush


def tracing_interceptor() -> TracingInterceptor:
    """For ``Client.connect``: workers built from the client inherit it, so one trace spans both sides."""
    return TracingInterceptor()


def traced_tool(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A voice tool's effect as a span (current while it reaches the workflow) and a latency sample."""
    tool = method.__name__

    @functools.wraps(method)
    async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        with _tracer.start_as_current_span(f"tool:{tool}", attributes={"ringflow.tool": tool}):
            with TOOL_LATENCY.labels(tool).time():
                return await method(*args, **kwargs)

    return timed


# ---- the Temporal SDK's metrics ------------------------------------------------------------------


@dataclass
class _SdkHistogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(SDK_LATENCY_BUCKETS))
    count: int = 0
    total: float = 0.0

    def observe(self, value: float) -> None:
        for index, bound in enumerate(SDK_LATENCY_BUCKETS):
            if value <= bound:
                self.buckets[index] += 1
        self.count += 1
        self.total += value


@dataclass
class _SdkMetric:
    kind: int
    description: str
    counters: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)
    gauges: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)
    histograms: dict[tuple[tuple[str, str], ...], _SdkHistogram] = field(default_factory=dict)


class SdkMetricsCollector(Collector):
    """Core's metric updates (counter deltas, gauge values, histogram samples) kept as Prometheus series.

    The buffer is drained on every scrape and, so that it never fills between scrapes, once a second
    by a background thread.
    """

    def __init__(self, buffer: MetricBuffer) -> None:
        self._buffer = buffer
        self._metrics: dict[str, _SdkMetric] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._drainer: threading.Thread | None = None

    def drain(self) -> None:
        with self._lock:
            self._apply(self._buffer.retrieve_updates())

    def _apply(self, updates: Iterable[BufferedMetricUpdate]) -> None:
        for update in updates:
            metric = self._metrics.get(update.metric.name)
            if metric is None:
                metric = _SdkMetric(kind=int(update.metric.kind), description=update.metric.description or "")
                self._metrics[update.metric.name] = metric
            labels = _label_key(update.attributes)
            if metric.kind == BUFFERED_METRIC_KIND_COUNTER:
                metric.counters[labels] = metric.counters.get(labels, 0.0) + update.value
            elif metric.kind == BUFFERED_METRIC_KIND_GAUGE:
                metric.gauges[labels] = float(update.value)
            else:
                metric.histograms.setdefault(labels, _SdkHistogram()).observe(float(update.value))

    def collect(self) -> Iterable[Metric]:
        self.drain()
        with self._lock:
            return [_family(name, metric) for name, metric in sorted(self._metrics.items())]

    def start_draining(self) -> None:
        self._drainer = threading.Thread(target=self._drain_until_stopped, name="temporal-metrics", daemon=True)
        self._drainer.start()
        # Stopped before the interpreter finalizes, so the thread is never inside Core when it does.
        atexit.register(self.stop_draining)

    def stop_draining(self) -> None:
        self._stop.set()
        if self._drainer is not None:
            self._drainer.join()

    def _drain_until_stopped(self) -> None:
        while not self._stop.wait(SDK_DRAIN_SECONDS):
            self.drain()


def _label_key(attributes: MetricAttributes) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((key, str(value)) for key, value in attributes.items()))


def _family(name: str, metric: _SdkMetric) -> Metric:
    if metric.kind == BUFFERED_METRIC_KIND_COUNTER:
        family = Metric(name, metric.description, "counter")
        for labels, value in metric.counters.items():
            family.add_sample(name + "_total", dict(labels), value)
    elif metric.kind == BUFFERED_METRIC_KIND_GAUGE:
        family = Metric(name, metric.description, "gauge")
        for labels, value in metric.gauges.items():
            family.add_sample(name, dict(labels), value)
    else:
        family = Metric(name, metric.description, "histogram")
        for labels, histogram in metric.histograms.items():
            for bound, count in zip(SDK_LATENCY_BUCKETS, histogram.buckets, strict=True):
                family.add_sample(name + "_bucket", {**dict(labels), "le": str(bound)}, count)
            family.add_sample(name + "_bucket", {**dict(labels), "le": "+Inf"}, histogram.count)
            family.add_sample(name + "_count", dict(labels), histogram.count)
            family.add_sample(name + "_sum", dict(labels), histogram.total)
    return family


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def temporal_runtime(settings: Settings) -> Runtime:
    """The process's Temporal Core runtime, made on first use; every client of the process shares it.

    Its metrics go into this process's ``/metrics``, or to Core's own endpoint on ``sdk_metrics_port``.
    """
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = _new_runtime(settings)
        return _runtime


def _new_runtime(settings: Settings) -> Runtime:
    if settings.sdk_metrics_port is not None:
        prometheus = PrometheusConfig(
            bind_address=f"0.0.0.0:{settings.sdk_metrics_port}", counters_total_suffix=True, durations_as_seconds=True
        )
        return Runtime(telemetry=TelemetryConfig(metrics=prometheus))
    buffer = MetricBuffer(SDK_BUFFER_SIZE, MetricBufferDurationFormat.SECONDS)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    collector = SdkMetricsCollector(buffer)
    REGISTRY.register(collector)
    collector.start_draining()
    return runtime
