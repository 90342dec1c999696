"""A small appointment-slot service on 127.0.0.1, reached over real HTTP by an HTTP tool: the demo agent's
``find_slots`` and the evaluation's ``asks_for_slots`` persona call it as they would a booking system.

Its answers are a fixed function of the day (weekdays have three free slots, weekends none), so offline
runs stay deterministic.
"""

from datetime import date
from types import TracebackType

from aiohttp import web

from schemas.tools import HttpTool

SLOT_TOOL = "find_slots"
WEEKDAY_SLOTS = ("10:00", "14:30", "16:00")


def slots_on(day: date) -> list[str]:
    return [] if day.weekday() >= 5 else list(WEEKDAY_SLOTS)


def slot_tool(base_url: str) -> HttpTool:
    """The HTTP tool that asks the service at ``base_url`` for a day's free slots."""
    return HttpTool(
        name=SLOT_TOOL,
        description="Find the free appointment slots on a day. Use it when the caller asks when they could book.",
        parameters={
            "type": "object",
            "properties": {"day": {"type": "string", "description": "The day, as YYYY-MM-DD"}},
            "required": ["day"],
        },
        url=f"{base_url}/slots/{{day}}",
        response_fields=["day", "slots"],
    )


class SlotService:
    """``async with SlotService() as service:`` serves ``GET /slots/YYYY-MM-DD`` on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.port = 0
        self.requests = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _slots(self, request: web.Request) -> web.Response:
        self.requests += 1
        try:
            day = date.fromisoformat(request.match_info["day"])
        except ValueError:
            return web.json_response({"error": "the day must be YYYY-MM-DD"}, status=400)
        return web.json_response({"day": day.isoformat(), "slots": slots_on(day)})

    async def __aenter__(self) -> "SlotService":
        app = web.Application()
        app.router.add_get("/slots/{day}", self._slots)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
