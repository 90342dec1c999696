"""Times the carrier webhooks (``ringflow_webhook_latency_seconds{route}``), by route template.

Request spans are FastAPI's own (its native OpenTelemetry support): a server span per request,
continuing the caller's ``traceparent``, current while the route runs, so the Temporal client's
spans (starting a workflow, an update) are its children. This middleware only adds the timing.
"""

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from infra.observability import WEBHOOK_LATENCY

WEBHOOK_PREFIX = "/twilio/"


class WebhookTimingMiddleware:
    """Pure ASGI, so it sees the route the router matched (``scope["route"]``) once the app has answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(WEBHOOK_PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route is not None:
                WEBHOOK_LATENCY.labels(route).observe(time.perf_counter() - started)
