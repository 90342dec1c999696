"""A real HTTP service on 127.0.0.1 for HTTP tool tests: a booking system that answers from a plan (status
codes) and then normally, and keeps every request it got (method, path, headers, JSON body)."""

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from webhook_receiver import Answer, free_port, serve_locally

LONG_NOTE = "x" * 5000
"""Part of every slots answer: a tool that hands back the whole answer must cap it."""


@dataclass
class BookingService:
    plan: list[Answer] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    requests: list[dict[str, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _keep(self, request: web.Request) -> web.Response | None:
        body = await request.read()
        self.requests.append(
            {
                "method": request.method,
                "path": request.path_qs,
                "headers": dict(request.headers),
                "json": json.loads(body) if body else None,
            }
        )
        if self.plan:
            answer = self.plan.pop(0)
            return web.Response(status=answer.status, text=f"planned {answer.status}")
        return None

    async def _slots(self, request: web.Request) -> web.Response:
        planned = await self._keep(request)
        day = request.match_info["day"]
        return planned or web.json_response(
            {"data": {"day": day, "slots": ["10:00", "14:30"], "note": LONG_NOTE}, "server": "booking"}
        )

    async def _book(self, request: web.Request) -> web.Response:
        planned = await self._keep(request)
        return planned or web.json_response({"booking": {"id": "b-1", "at": self.requests[-1]["json"]}})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/slots/{day}", self._slots)
        app.router.add_post("/bookings", self._book)
        self._runner = await serve_locally(app, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
