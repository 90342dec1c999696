"""The security headers every answer carries, pages and API alike: one ASGI middleware.

The dashboard has no inline script: its code is ``/static/app.js`` and the vendored files, so
``script-src 'self'``. Alpine.js's standard build turns each ``x-`` attribute into a function with
``new Function``, which CSP counts as eval: hence ``'unsafe-eval'``, the one exception. (Alpine's CSP
build avoids it but takes only property names and method calls in attributes, not the expressions the
templates use.) The templates' few ``style`` attributes need ``style-src 'unsafe-inline'``; styles cannot
run script. ``/docs`` is FastAPI's Swagger UI, which loads from jsDelivr and starts with an inline
script, so it gets a policy of its own. The agent page's web call connects to the deployment's LiveKit server
(its signalling WebSocket), so that server's origin joins ``connect-src`` when LiveKit is configured.
"""

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'{livekit}; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})


def livekit_sources(livekit_url: str) -> str:
    """The LiveKit server's origins a browser reaches for a web call (WebSocket and HTTP), for ``connect-src``."""
    parts = urlsplit(livekit_url)
    if not parts.netloc or parts.scheme not in ("http", "https", "ws", "wss"):
        return ""
    secure = parts.scheme in ("https", "wss")
    return f" {'wss' if secure else 'ws'}://{parts.netloc} {'https' if secure else 'http'}://{parts.netloc}"


def security_headers(path: str, livekit_url: str = "") -> list[tuple[bytes, bytes]]:
    if path in DOCS_PATHS:
        policy = DOCS_CONTENT_SECURITY_POLICY
    else:
        policy = CONTENT_SECURITY_POLICY.format(livekit=livekit_sources(livekit_url))
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]


class SecurityHeadersMiddleware:
    """Adds the headers to every HTTP answer (a header the route set itself is replaced)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = getattr(getattr(scope.get("app"), "state", None), "ringflow", None)  # set by create_app
        added = security_headers(scope["path"], context.settings.livekit_url if context is not None else "")
        names = {name for name, _ in added}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(name, value) for name, value in message.get("headers", []) if name.lower() not in names]
                message["headers"] = kept + added
            await send(message)

        await self.app(scope, receive, send_with_headers)
