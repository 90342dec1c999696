"""A real HTTP receiver of webhooks on 127.0.0.1, for the tests: it answers from a plan (status codes, with a
``Retry-After`` if asked) and then 200, can be taken down and brought back on the same port, verifies every
signature with ``standardwebhooks`` and deduplicates by event id, as a careful receiver would."""

import json
import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook
from workflow_helpers import eventually


@dataclass
class Answer:
    status: int
    retry_after: str | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serve_locally(app: web.Application, port: int) -> web.AppRunner:
    """Serve ``app`` on 127.0.0.1:``port`` (again after a stop: the port is reused); clean the runner up to stop."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
    return runner


@dataclass
class Receiver:
    secret: str = ""
    plan: list[Answer] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    requests: int = 0
    processed: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def processed_ids(self) -> list[str]:
        return [event["id"] for event in self.processed]

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        try:
            Webhook(self.secret).verify(body, dict(request.headers))
        except Exception:  # any verification failure is a bad signature here
            self.bad_signatures += 1
            return web.Response(status=400, text="bad signature")
        if self.plan:
            answer = self.plan.pop(0)
            headers = {"Retry-After": answer.retry_after} if answer.retry_after else {}
            return web.Response(status=answer.status, text=f"planned {answer.status}", headers=headers)
        event_id = request.headers["webhook-id"]
        if event_id in self.processed_ids():
            self.duplicates.append(event_id)
        else:
            self.processed.append({"id": event_id, **json.loads(body)})
        return web.Response(status=200, text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = await serve_locally(app, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, count: int, within: float = 60.0) -> None:
        await eventually(lambda: len(self.processed) >= count, within=within)
