"""Every HTTP request as a server span, current while the route runs, so the Temporal client's spans
(starting a workflow, an update) are its children and one trace runs from the request into the workers.

A pure ASGI middleware (not ``BaseHTTPMiddleware``, which runs the route in another task and loses
the current span). It also times the carrier webhooks, by route template.
"""

import time

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.observability import WEBHOOK_LATENCY

WEBHOOK_PREFIX = "/twilio/"

_tracer = trace.get_tracer("ringflow.api")


class TracingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        status_code = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        started = time.perf_counter()
        with _tracer.start_as_current_span(
            method,
            context=propagate.extract(headers),  # continue the caller's trace when it sends traceparent
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:
            try:
                await self.app(scope, receive, send_noting_status)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                    if route.startswith(WEBHOOK_PREFIX):
                        WEBHOOK_LATENCY.labels(route).observe(time.perf_counter() - started)
                span.set_attribute("http.response.status_code", status_code)
                if status_code >= 500:
                    span.set_status(Status(StatusCode.ERROR))
