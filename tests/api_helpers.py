"""Small helpers for the HTTP tests of the REST API (see api_stack.py for the stack itself)."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

ALL_HOURS = {"start": "00:00", "end": "00:00", "weekdays": [0, 1, 2, 3, 4, 5, 6]}
FAST = {"window": ALL_HOURS, "calls_per_second": 50, "retry": {"max_attempts": 1}}
"""Campaign settings under which every contact is dialled at once, once."""
ENDED = ("completed", "cancelled")


def phone(index: int) -> str:
    """+44 20 7946 0xxx: Ofcom's range for drama, valid and never a real line."""
    return f"+44207946{index:04d}"


def person(index: int, persona: str = "answers", **fields: Any) -> dict[str, Any]:
    return {"external_id": f"p{index}", "name": f"Person {index}", "phone": phone(index), "persona": persona, **fields}


async def eventually(
    probe: Callable[[], Awaitable[httpx.Response]], check: Callable[[Any], bool], within: float = 20.0
) -> Any:
    """Poll ``probe`` until ``check`` holds for its JSON body; return that body."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await probe()
        assert response.status_code == 200, response.text
        body = response.json()
        if check(body):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not there after {within} s: {body}")
        await asyncio.sleep(0.2)


async def finished_campaign(http: httpx.AsyncClient, campaign_id: str) -> dict[str, Any]:
    """The campaign once its workflow has completed (or been cancelled)."""
    return await eventually(
        lambda: http.get(f"/v1/campaigns/{campaign_id}"),
        lambda body: body["status"] in ENDED and body["progress"] is not None and body["progress"]["status"] in ENDED,
    )
