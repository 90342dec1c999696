"""The pre-call lookup: the user's system adds to a call's context, or says not to call (issue 16, item 3)."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from webhook_receiver import free_port
from workflow_helpers import contact, new_campaign_id, seed, settings, start_contact

from schemas.campaign import PreCallLookup
from schemas.compliance import DialVerdict, SkipCause
from schemas.outcomes import FinalOutcome
from store import compliance
from workflows.contact import ContactWorkflow


@dataclass
class LookupServer:
    """A real HTTP lookup on 127.0.0.1: answers by the contact's external id from ``answers`` (a status code,
    or a JSON body), in order, then 200 ``{}``; keeps every request it got."""

    answers: dict[str, list[int | dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/lookup"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append((dict(request.headers), body))
        planned = self.answers.get(body["external_id"], [])
        answer = planned.pop(0) if planned else {}
        if isinstance(answer, int):
            return web.Response(status=answer, text=f"planned {answer}")
        return web.json_response(answer)


@pytest_asyncio.fixture
async def lookup_server() -> AsyncIterator[LookupServer]:
    server = LookupServer()
    app = web.Application()
    app.router.add_post("/lookup", server._handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", server.port).start()
    try:
        yield server
    finally:
        await runner.cleanup()


async def run_contact(time_env, run_worker, sim, session_factory, person, lookup: PreCallLookup, *, allow=True):
    campaign_id = new_campaign_id()
    campaign = settings(max_attempts=1, pre_call_lookup=lookup)
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(sim, tool_allow_private_urls=allow) as tq:
        handle = await start_contact(time_env.client, tq, campaign_id, person, campaign)
        state = await handle.result()
        context = await handle.query(ContactWorkflow.live_context)
    return campaign_id, state, context


async def test_the_lookups_context_joins_the_calls_before_it_is_dialled(
    time_env, run_worker, sim, session_factory, lookup_server
):
    person = contact(1, "answers", attributes={"plan": "pro"})
    lookup_server.answers = {person.external_id: [{"context": {"balance": "42.10", "tier": "gold"}}]}
    lookup = PreCallLookup(url=lookup_server.url, headers={"Authorization": "Bearer s3cret"})
    _, state, context = await run_contact(time_env, run_worker, sim, session_factory, person, lookup)

    assert state.final_outcome == FinalOutcome.COMPLETED and len(sim.dials) == 1
    assert context.data == {"plan": "pro", "persona": "answers", "balance": "42.10", "tier": "gold"}
    [(headers, body)] = lookup_server.requests
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["Idempotency-Key"].endswith("#1/lookup")
    assert (body["external_id"], body["phone"], body["attempt"], body["attributes"]) == (
        person.external_id,
        person.phone,
        1,
        {"plan": "pro", "persona": "answers"},
    )


async def test_a_skip_from_the_lookup_is_honoured_and_recorded_with_its_reason(
    time_env, run_worker, sim, session_factory, lookup_server
):
    person = contact(2, "answers")
    lookup_server.answers = {person.external_id: [{"skip": True, "reason": "the customer churned last week"}]}
    campaign_id, state, _ = await run_contact(
        time_env, run_worker, sim, session_factory, person, PreCallLookup(url=lookup_server.url)
    )

    assert sim.dials == []
    assert state.final_outcome == FinalOutcome.SKIPPED
    assert state.final_reason == "pre-call lookup: the customer churned last week"
    async with session_factory() as session:
        decisions = await compliance.decisions_for(session, None, campaign_id, person.external_id)
    assert [(d.verdict, d.skip_cause, d.reason) for d in decisions] == [
        (DialVerdict.SKIP, SkipCause.LOOKUP, "pre-call lookup: the customer churned last week")
    ]


async def test_a_lookup_that_is_down_for_a_moment_is_asked_again_with_the_same_key(
    time_env, run_worker, sim, session_factory, lookup_server
):
    person = contact(3, "answers")
    lookup_server.answers = {person.external_id: [503, {"context": {"ok": True}}]}
    _, state, context = await run_contact(
        time_env, run_worker, sim, session_factory, person, PreCallLookup(url=lookup_server.url)
    )

    assert state.final_outcome == FinalOutcome.COMPLETED
    assert context.data["ok"] is True
    keys = [headers["Idempotency-Key"] for headers, _ in lookup_server.requests]
    assert len(keys) == 2 and keys[0] == keys[1]


@pytest.mark.parametrize(("on_failure", "dialled"), [("dial", True), ("skip", False)])
async def test_a_lookup_that_cannot_answer_follows_the_campaigns_choice(
    time_env, run_worker, sim, session_factory, lookup_server, on_failure, dialled
):
    person = contact(4, "answers")
    lookup_server.answers = {person.external_id: [404]}
    _, state, _ = await run_contact(
        time_env, run_worker, sim, session_factory, person, PreCallLookup(url=lookup_server.url, on_failure=on_failure)
    )

    assert bool(sim.dials) is dialled
    if dialled:
        assert state.final_outcome == FinalOutcome.COMPLETED
    else:
        assert (state.final_outcome, state.final_reason) == (
            FinalOutcome.SKIPPED,
            "pre-call lookup failed: the lookup answered 404",
        )


async def test_a_lookup_on_a_private_address_is_refused_unless_the_deployment_allows_it(
    time_env, run_worker, sim, session_factory, lookup_server
):
    person = contact(5, "answers")
    lookup = PreCallLookup(url=lookup_server.url, on_failure="skip")
    _, state, _ = await run_contact(time_env, run_worker, sim, session_factory, person, lookup, allow=False)

    assert lookup_server.requests == [] and sim.dials == []
    assert state.final_outcome == FinalOutcome.SKIPPED
    assert "resolves to a private or reserved address" in state.final_reason


def test_a_lookup_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="url"):
        PreCallLookup(url="file:///etc/passwd")
    assert json.loads(PreCallLookup(url="https://crm.example.com/lookup").model_dump_json())["method"] == "POST"
