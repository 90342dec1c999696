"""User-defined HTTP tools: the schema's rules, the SSRF guard, a real request against a local booking service
(mapped, capped, keyed), which failures are tried again, and an invocation recorded on a call."""

import asyncio
import json
import threading
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from api_helpers import eventually as eventually_answers
from api_helpers import phone
from conftest import server_clock
from cryptography.fernet import Fernet
from livekit.agents import AgentSession
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from tool_target import LONG_NOTE, BookingService
from typer.testing import CliRunner
from voice_fakes import FakeBridge, spoken
from webhook_receiver import Answer, free_port
from workflow_helpers import (
    AGENT,
    contact,
    contact_between_calls,
    new_campaign_id,
    seed,
    settings,
)

from activities.tools import ToolActivities
from cli.app import app
from infra.http_tools import call_http_tool, map_response, sealed_tool
from schemas.agent import CallJob
from schemas.settings import Settings, get_settings
from schemas.tools import (
    IDEMPOTENCY_HEADER,
    TOOL_ATTEMPTS,
    TOOL_NETWORK_ERROR,
    HttpTool,
    InvocationStatus,
    InvokeHttpTool,
    ToolInvocationRecord,
    ToolResult,
    failure_sentence,
)
from simulator.evaluation import evaluate_persona
from simulator.scripted_llm import ScriptedLLM
from store import tools as tool_store
from store.db import dispose_cached_engines, get_session_factory
from store.models import DEFAULT_ORG_ID, HttpToolRow
from store.queries import save_named_definition
from voice_worker.agent import RingflowAgent
from voice_worker.bridge import BridgeError
from voice_worker.temporal_bridge import TemporalCallBridge

SLOT_PARAMETERS = {
    "type": "object",
    "properties": {"day": {"type": "string", "description": "YYYY-MM-DD"}},
    "required": ["day"],
}


SEALING_KEY = Fernet.generate_key().decode()
TOOL_SETTINGS = Settings(_env_file=None, tool_allow_private_urls=True, oauth_token_key=SEALING_KEY)  # type: ignore[call-arg]
"""The deployment of the activity tests: it reaches the loopback booking service and seals with ``SEALING_KEY``."""


def slots_tool(base_url: str, **fields: Any) -> HttpTool:
    return HttpTool(
        name="find_slots",
        description="Free appointment slots on a day",
        parameters=SLOT_PARAMETERS,
        url=base_url + "/slots/{day}",
        response_fields=["data.slots", "data.day"],
        **fields,
    )


def booking_tool(base_url: str) -> HttpTool:
    return HttpTool(
        name="book_slot",
        description="Book a slot",
        parameters={
            "type": "object",
            "properties": {"day": {"type": "string"}, "time": {"type": "string"}, "seats": {"type": "integer"}},
            "required": ["day", "time"],
        },
        method="POST",
        url=base_url + "/bookings",
        body={"when": "{day} {time}", "seats": "{seats}", "source": "ringflow"},
        auth={"kind": "bearer", "secret": "tok_secret_123456"},
    )


@pytest.fixture
async def booking_service():
    service = BookingService()
    await service.start()
    yield service
    await service.stop()


# ---- the schema ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"name": "find slots"}, "name"),
        ({"name": "end_call"}, "built-in tool"),
        ({"parameters": {"type": "array"}}, '"type": "object"'),
        ({"parameters": {"type": "object", "properties": {}, "required": ["day"]}}, "undeclared properties: day"),
        ({"parameters": {"type": "nope"}}, "not a valid JSON schema"),
        ({"url": "http://example.com/slots/{when}"}, "undeclared parameters: when"),
        ({"url": "ftp://example.com/x"}, "http:// or https://"),
        ({"url": "http://{day}/x"}, "host is not a placeholder"),
        ({"body": {"a": "{nobody}"}}, "body: placeholders name undeclared parameters: nobody"),
        ({"method": "TRACE"}, "method"),
        ({"timeout_seconds": 31}, "less than or equal to 30"),
        ({"response_fields": ["data..slots"]}, "not a dotted path"),
        ({"headers": {"Idempotency-Key": "x"}}, "set by Ringflow"),
        ({"auth": {"kind": "none", "secret": "s"}}, "only an api_key or bearer auth"),
    ],
)
def test_a_tool_that_breaks_a_rule_is_refused_naming_it(fields: dict[str, Any], complaint: str) -> None:
    base = slots_tool("http://example.com").model_dump()
    with pytest.raises(ValidationError, match=complaint):
        HttpTool.model_validate({**base, **fields})


def test_a_tool_defaults_to_a_five_second_get_without_auth() -> None:
    tool = HttpTool(name="ping", description="Ping", url="https://example.com/ping")
    assert (tool.method, tool.timeout_seconds, tool.auth.kind) == ("GET", 5.0, "none")


def test_the_response_mapping_picks_dotted_paths_and_caps_the_size() -> None:
    answer = '{"data": {"items": [{"name": "A"}, {"name": "B"}], "long": "' + "y" * 500 + '"}}'
    assert map_response(answer, ["data.items.1.name", "data.missing"], 200) == (
        '{"data.items.1.name":"B","data.missing":null}'
    )
    capped = map_response(answer, [], 120)
    assert len(capped) == 120 and capped.endswith("…(truncated)")
    assert map_response("plain text", [], 100) == "plain text"


# ---- SSRF ----------------------------------------------------------------------------------------


async def test_a_loopback_url_is_refused_by_default_and_never_sent(booking_service: BookingService) -> None:
    result = await call_http_tool(
        slots_tool(booking_service.base_url), {"day": "2026-12-01"}, idempotency_key="k1", allow_private=False
    )
    assert result.status == InvocationStatus.REFUSED
    assert "private or reserved address (127.0.0.1)" in result.error
    assert "RINGFLOW_TOOL_ALLOW_PRIVATE_URLS" in result.error
    assert result.reply.startswith("I couldn't reach the find slots system just now.")
    assert booking_service.requests == []


# ---- a real request ------------------------------------------------------------------------------


async def test_a_get_is_rendered_sent_with_its_key_and_its_answer_mapped_and_capped(
    booking_service: BookingService,
) -> None:
    tool = slots_tool(booking_service.base_url, headers={"X-Team": "sales"})
    result = await call_http_tool(tool, {"day": "2026-12-01 am"}, idempotency_key="call-1#1#tool1", allow_private=True)

    assert result.status == InvocationStatus.OK and result.http_status == 200
    assert result.reply == '{"data.slots":["10:00","14:30"],"data.day":"2026-12-01 am"}'
    assert len(result.response) == 2000 and LONG_NOTE[:100] in result.response  # the record keeps 2 KB
    [request] = booking_service.requests
    assert request["path"] == "/slots/2026-12-01%20am"
    assert request["headers"][IDEMPOTENCY_HEADER] == "call-1#1#tool1"
    assert request["headers"]["X-Team"] == "sales"


async def test_a_post_sends_its_body_template_and_bearer_token(booking_service: BookingService) -> None:
    result = await call_http_tool(
        booking_tool(booking_service.base_url),
        {"day": "2026-12-01", "time": "10:00", "seats": 2},
        idempotency_key="k2",
        allow_private=True,
    )
    assert result.status == InvocationStatus.OK
    [request] = booking_service.requests
    assert request["json"] == {"when": "2026-12-01 10:00", "seats": 2, "source": "ringflow"}
    assert request["headers"]["Authorization"] == "Bearer tok_secret_123456"


async def test_arguments_that_do_not_fit_are_refused_before_sending(booking_service: BookingService) -> None:
    result = await call_http_tool(
        slots_tool(booking_service.base_url), {"day": 3}, idempotency_key="k3", allow_private=True
    )
    assert result.status == InvocationStatus.REFUSED and "is not of type" in result.error
    assert booking_service.requests == []


# ---- what is tried again -------------------------------------------------------------------------


async def _store_tool(session_factory, tool: HttpTool) -> None:
    """Store ``tool`` as the service does: its secret sealed with ``SEALING_KEY``."""
    async with session_factory() as session:
        await tool_store.save_tool(session, DEFAULT_ORG_ID, sealed_tool(TOOL_SETTINGS, tool))
        await session.commit()


async def _stored_auth(sessions, org_id: str, name: str) -> dict[str, Any]:
    """The tool's auth as its row holds it, read straight from the store."""
    async with sessions() as session:
        row = await session.get(HttpToolRow, (org_id, name))
        assert row is not None
        return row.definition["auth"]


def _on_attempt(attempt: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = replace(env.info, attempt=attempt)
    return env


def _activities(session_factory, settings: Settings = TOOL_SETTINGS) -> ToolActivities:
    return ToolActivities(settings, session_factory)


async def test_a_post_is_not_tried_again_on_a_5xx(session_factory, booking_service: BookingService) -> None:
    booking_service.plan = [Answer(503)]
    await _store_tool(session_factory, booking_tool(booking_service.base_url))
    request = InvokeHttpTool(
        org_id=DEFAULT_ORG_ID, name="book_slot", arguments={"day": "d", "time": "t"}, idempotency_key="k4"
    )
    result = await _on_attempt(1).run(_activities(session_factory).invoke_http_tool, request)
    assert (result.status, result.http_status) == (InvocationStatus.HTTP_ERROR, 503)
    assert len(booking_service.requests) == 1


async def test_a_post_is_not_tried_again_on_a_network_error(session_factory) -> None:
    await _store_tool(session_factory, booking_tool(f"http://127.0.0.1:{free_port()}"))
    request = InvokeHttpTool(
        org_id=DEFAULT_ORG_ID, name="book_slot", arguments={"day": "d", "time": "t"}, idempotency_key="k5"
    )
    result = await _on_attempt(1).run(_activities(session_factory).invoke_http_tool, request)
    assert result.status == InvocationStatus.UNREACHABLE and "ConnectError" in result.error


async def test_a_get_is_tried_again_on_a_network_error_until_its_last_try(session_factory) -> None:
    await _store_tool(session_factory, slots_tool(f"http://127.0.0.1:{free_port()}"))
    request = InvokeHttpTool(org_id=DEFAULT_ORG_ID, name="find_slots", arguments={"day": "d"}, idempotency_key="k6")
    activities = _activities(session_factory)
    with pytest.raises(ApplicationError) as raised:
        await _on_attempt(1).run(activities.invoke_http_tool, request)
    assert raised.value.type == TOOL_NETWORK_ERROR and not raised.value.non_retryable
    last = await _on_attempt(TOOL_ATTEMPTS).run(activities.invoke_http_tool, request)
    assert last.status == InvocationStatus.UNREACHABLE
    assert last.reply.startswith("I couldn't reach the find slots system just now.")


async def test_a_get_answered_with_a_5xx_is_not_tried_again(session_factory, booking_service: BookingService) -> None:
    booking_service.plan = [Answer(500)]
    await _store_tool(session_factory, slots_tool(booking_service.base_url))
    request = InvokeHttpTool(org_id=DEFAULT_ORG_ID, name="find_slots", arguments={"day": "d"}, idempotency_key="k7")
    result = await _on_attempt(1).run(_activities(session_factory).invoke_http_tool, request)
    assert result.status == InvocationStatus.HTTP_ERROR


# ---- on a call, through its workflow -------------------------------------------------------------


@asynccontextmanager
async def _call_using(
    time_env, session_factory, db_url, booking_service: BookingService, switched_on: str, **deployment: Any
):
    """A contact between calls whose agent may use the tool ``switched_on`` (the organization has ``find_slots``
    and ``book_slot``, sealed with ``SEALING_KEY``), a worker whose deployment allows the loopback booking service
    (and has ``deployment``'s settings), and a bridge to the call."""
    campaign_id = new_campaign_id()
    person = contact(31, "never_answers")
    campaign = settings(max_attempts=3, initial_backoff=timedelta(hours=6))
    await seed(session_factory, campaign_id, [person], campaign)
    await _store_tool(session_factory, slots_tool(booking_service.base_url))
    await _store_tool(session_factory, booking_tool(booking_service.base_url))
    agent = AGENT.model_copy(update={"http_tools": [switched_on]})
    async with contact_between_calls(
        time_env.client,
        session_factory,
        db_url,
        campaign_id=campaign_id,
        person=person,
        campaign=campaign,
        agent=agent,
        clock=server_clock,
        org_id=DEFAULT_ORG_ID,
        tool_allow_private_urls=True,
        **{"oauth_token_key": SEALING_KEY, **deployment},
    ) as handle:
        bridge = TemporalCallBridge(time_env.client, handle.id, attempt=1)
        yield bridge, handle, campaign_id, person, agent


@pytest.fixture
async def call_with_tools(time_env, session_factory, db_url, booking_service: BookingService):
    """A call whose agent may use ``find_slots`` (``book_slot`` is switched off): see :func:`_call_using`."""
    async with _call_using(time_env, session_factory, db_url, booking_service, "find_slots") as call:
        yield call


async def test_an_invocation_runs_through_the_calls_workflow_and_is_recorded_on_the_call(
    call_with_tools, session_factory, booking_service: BookingService
) -> None:
    bridge, handle, campaign_id, person, _ = call_with_tools
    assert [spec.name for spec in await bridge.http_tools()] == ["find_slots"]

    result = await bridge.call_http_tool("find_slots", {"day": "2026-12-01"})

    assert result.status == InvocationStatus.OK
    assert result.reply == '{"data.slots":["10:00","14:30"],"data.day":"2026-12-01"}'
    assert booking_service.requests[0]["headers"][IDEMPOTENCY_HEADER] == f"{handle.id}#1#tool1"
    async with session_factory() as session:
        [recorded] = await tool_store.invocations_for(session, campaign_id, person.external_id, attempt=1)
    assert (recorded.tool, recorded.arguments, recorded.status, recorded.http_status) == (
        "find_slots",
        {"day": "2026-12-01"},
        InvocationStatus.OK,
        200,
    )
    assert recorded.latency_ms >= 0 and len(recorded.response) == 2000


async def test_a_tool_the_agent_has_switched_off_is_refused_by_the_workflow(
    call_with_tools, session_factory, booking_service: BookingService
) -> None:
    bridge, _, campaign_id, person, _ = call_with_tools
    with pytest.raises(BridgeError, match="book_slot is not a tool this agent may use"):
        await bridge.call_http_tool("book_slot", {"day": "d", "time": "t"})
    assert booking_service.requests == []
    async with session_factory() as session:
        assert await tool_store.invocations_for(session, campaign_id, person.external_id) == []


async def test_a_failed_invocation_is_recorded_and_the_agent_says_a_sentence(
    call_with_tools, session_factory, booking_service: BookingService
) -> None:
    bridge, _, campaign_id, person, agent = call_with_tools
    booking_service.plan = [Answer(500)]
    job = CallJob(workflow_id="w", campaign_id=campaign_id, attempt=1, contact=person, agent=agent)
    model = ScriptedLLM()
    speaker = RingflowAgent(job, bridge)
    async with AgentSession(llm=model) as session:
        await session.start(speaker)
        await speaker.wait_greeted(10)
        assert "find_slots" in speaker.tool_names and "book_slot" not in speaker.tool_names
        failed = await session.run(user_input="Any free slots? The day is 2026-12-01.")
        found = await session.run(user_input="Could you try again? The day is 2026-12-01.")
        await speaker.stop_polling()

    assert spoken(failed) == ["I couldn't reach the find slots system just now."]
    assert spoken(found)[0].startswith('Here is what I found: {"data.slots":["10:00","14:30"]')
    async with session_factory() as session:
        recorded = await tool_store.invocations_for(session, campaign_id, person.external_id)
    assert [(r.status, r.http_status, r.arguments) for r in recorded] == [
        (InvocationStatus.HTTP_ERROR, 500, {"day": "2026-12-01"}),
        (InvocationStatus.OK, 200, {"day": "2026-12-01"}),
    ]
    assert recorded[0].error == "the service answered 500"


# ---- the API -------------------------------------------------------------------------------------


async def test_the_api_creates_shows_tests_replaces_and_deletes_a_tool_never_showing_its_secret(
    api_stack, booking_service: BookingService
) -> None:
    http = api_stack.org_a.http
    tool = booking_tool(booking_service.base_url).model_dump(mode="json")
    created = await http.post("/v1/tools", json=tool)
    assert created.status_code == 201, created.text
    assert created.json()["auth"] == {
        "kind": "bearer",
        "header": "X-API-Key",
        "connection": "",
        "secret_hint": "…3456",
    }
    assert "tok_secret_123456" not in created.text
    sealed = await _stored_auth(api_stack.sessions, api_stack.org_a.id, "book_slot")
    assert sealed["secret"] == "" and "tok_secret_123456" not in json.dumps(sealed)
    assert (await http.post("/v1/tools", json=tool)).status_code == 409
    assert [t["name"] for t in (await http.get("/v1/tools")).json()] == ["book_slot"]
    assert (await api_stack.org_b.http.get("/v1/tools/book_slot")).status_code == 404

    tested = await http.post("/v1/tools/book_slot/test", json={"arguments": {"day": "2026-12-01", "time": "10:00"}})
    assert tested.status_code == 200, tested.text
    assert tested.json()["status"] == "ok" and '"id":"b-1"' in tested.json()["reply"]
    assert booking_service.requests[-1]["headers"]["Authorization"] == "Bearer tok_secret_123456"

    replaced = await http.put(
        "/v1/tools/book_slot", json={**tool, "auth": {"kind": "bearer"}, "response_fields": ["booking.id"]}
    )
    assert replaced.status_code == 200, replaced.text
    tested = await http.post("/v1/tools/book_slot/test", json={"arguments": {"day": "2026-12-01", "time": "10:00"}})
    assert tested.json()["reply"] == '{"booking.id":"b-1"}'
    assert booking_service.requests[-1]["headers"]["Authorization"] == "Bearer tok_secret_123456"  # kept
    assert await _stored_auth(api_stack.sessions, api_stack.org_a.id, "book_slot") == sealed  # kept sealed

    assert (await http.delete("/v1/tools/book_slot")).status_code == 204
    assert (await http.get("/v1/tools/book_slot")).status_code == 404


async def test_the_api_refuses_a_bad_tool_in_one_line(api_stack) -> None:
    http = api_stack.org_a.http
    bad = slots_tool("http://example.com").model_dump(mode="json") | {"url": "http://example.com/{when}"}
    refused = await http.post("/v1/tools", json=bad)
    assert refused.status_code == 422
    no_secret = booking_tool("http://example.com").model_dump(mode="json") | {"auth": {"kind": "api_key"}}
    refused = await http.post("/v1/tools", json=no_secret)
    assert refused.status_code == 422 and refused.json()["detail"] == "auth.secret: a api_key auth needs its secret"


async def test_an_agent_switches_on_only_tools_its_organization_has(api_stack, booking_service) -> None:
    http = api_stack.org_a.http
    await http.post("/v1/tools", json=slots_tool(booking_service.base_url).model_dump(mode="json"))
    agent = {"name": "booker", "instructions": "Book appointments."}
    refused = await http.post("/v1/agents", json={**agent, "http_tools": ["find_slots", "nope"]})
    assert refused.status_code == 422 and "no tool named 'nope'" in refused.json()["detail"]
    created = await http.post("/v1/agents", json={**agent, "http_tools": ["find_slots"]})
    assert created.status_code == 201 and created.json()["http_tools"] == ["find_slots"]
    assert (await http.delete("/v1/tools/find_slots")).status_code == 409  # still switched on
    switched_off = await http.put("/v1/agents/booker", json={"http_tools": []})
    assert switched_off.json()["http_tools"] == []
    assert (await http.delete("/v1/tools/find_slots")).status_code == 204
    other_org = await api_stack.org_b.http.post("/v1/agents", json={**agent, "http_tools": ["find_slots"]})
    assert other_org.status_code == 422


# ---- the CLI -------------------------------------------------------------------------------------


def test_the_cli_creates_lists_tests_and_deletes_a_tool(cli_store_url: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RINGFLOW_TOOL_ALLOW_PRIVATE_URLS", "true")
    service = BookingService()
    definition = tmp_path / "tool.json"
    definition.write_text(json.dumps(slots_tool(service.base_url).model_dump(mode="json")))

    code, out = ringflow("tool", "create", str(definition))
    assert code == 0 and f"tool find_slots: GET {service.base_url}/slots/{{day}}" in out, out
    code, out = ringflow("tool", "list")
    assert code == 0 and "find_slots  GET" in out and "auth=none" in out

    code, out = ringflow("tool", "test", "find_slots", "--arguments", '{"day": "2026-12-01"}')
    assert code == 1 and "unreachable" in out and "I couldn't reach the find slots system just now." in out

    loop = asyncio.new_event_loop()  # the service answers from a thread of its own while the command runs
    server = threading.Thread(target=loop.run_forever, daemon=True)
    server.start()
    asyncio.run_coroutine_threadsafe(service.start(), loop).result(10)
    try:
        code, out = ringflow("tool", "test", "find_slots", "--arguments", '{"day": "2026-12-01"}')
    finally:
        asyncio.run_coroutine_threadsafe(service.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
    assert code == 0 and out.startswith("ok 200 in ") and '"data.slots":["10:00","14:30"]' in out, out

    code, out = ringflow("tool", "delete", "find_slots")
    assert code == 0 and "tool find_slots deleted" in out
    code, out = ringflow("tool", "delete", "find_slots")
    assert code == 1 and "no tool named 'find_slots'" in out


def ringflow(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


async def test_the_call_detail_lists_the_invocations_recorded_on_that_call(api_stack) -> None:
    http = api_stack.org_a.http
    assert (await http.post("/v1/agents", json={"name": "finder", "instructions": "Help."})).status_code == 201
    started = await http.post("/v1/agents/finder/calls", json={"phone": phone(9), "persona": "answers"})
    assert started.status_code == 201, started.text
    campaign_id = started.json()["campaign"]["id"]
    await eventually_answers(
        lambda: http.get(f"/v1/campaigns/{campaign_id}"), lambda campaign: campaign["status"] == "completed"
    )
    call = (await http.get("/v1/calls", params={"campaign_id": campaign_id})).json()["items"][0]
    result = ToolResult(status=InvocationStatus.OK, reply="{}", http_status=200, latency_ms=42, response="{}")
    async with api_stack.sessions() as session:
        for attempt, key in ((call["attempt"], "k-this-call"), (call["attempt"] + 1, "k-a-later-call")):
            record = ToolInvocationRecord(
                idempotency_key=key,
                org_id=api_stack.org_a.id,
                campaign_id=campaign_id,
                external_id=call["external_id"],
                attempt=attempt,
                tool="find_slots",
                arguments={"day": "2026-12-01"},
                result=result,
            )
            await tool_store.record_invocation(session, record)
            await tool_store.record_invocation(session, record)  # a retried write adds nothing
        await session.commit()

    detail = (await http.get(f"/v1/calls/{call['id']}")).json()
    assert [(i["tool"], i["arguments"], i["status"], i["latency_ms"]) for i in detail["tool_invocations"]] == [
        ("find_slots", {"day": "2026-12-01"}, "ok", 42)
    ]


# ---- secrets sealed at rest ----------------------------------------------------------------------


async def test_a_stored_secret_is_sealed_and_opened_only_for_the_request(
    session_factory, booking_service: BookingService
) -> None:
    await _store_tool(session_factory, booking_tool(booking_service.base_url))
    auth = await _stored_auth(session_factory, DEFAULT_ORG_ID, "book_slot")
    assert "tok_secret_123456" not in json.dumps(auth)
    assert (auth["secret"], auth["secret_hint"]) == ("", "…3456")
    assert Fernet(SEALING_KEY).decrypt(auth["sealed_secret"].encode()) == b"tok_secret_123456"

    request = InvokeHttpTool(
        org_id=DEFAULT_ORG_ID, name="book_slot", arguments={"day": "d", "time": "t"}, idempotency_key="k8"
    )
    result = await _on_attempt(1).run(_activities(session_factory).invoke_http_tool, request)
    assert result.status == InvocationStatus.OK, result.error
    assert booking_service.requests[-1]["headers"]["Authorization"] == "Bearer tok_secret_123456"

    new_key_first = f"{Fernet.generate_key().decode()},{SEALING_KEY}"  # a rotation keeps the old key after the new
    rotated = TOOL_SETTINGS.model_copy(update={"oauth_token_key": new_key_first})
    result = await _on_attempt(1).run(_activities(session_factory, rotated).invoke_http_tool, request)
    assert result.status == InvocationStatus.OK, result.error


async def test_a_secret_the_keys_do_not_open_is_refused_recorded_on_the_call_and_the_agent_says_a_sentence(
    time_env, session_factory, db_url, booking_service: BookingService
) -> None:
    changed_key = Fernet.generate_key().decode()  # the deployment's key was replaced, not rotated
    async with _call_using(
        time_env, session_factory, db_url, booking_service, "book_slot", oauth_token_key=changed_key
    ) as (bridge, _, campaign_id, person, _):
        result = await bridge.call_http_tool("book_slot", {"day": "2026-12-01", "time": "10:00"})

    assert result.status == InvocationStatus.REFUSED
    assert result.reply == failure_sentence("book_slot") == "I couldn't reach the book slot system just now."
    assert booking_service.requests == []
    async with session_factory() as session:
        [recorded] = await tool_store.invocations_for(session, campaign_id, person.external_id)
    assert recorded.status == InvocationStatus.REFUSED
    assert recorded.error.startswith("the tool's secret cannot be unsealed: a sealed secret does not open with ")
    assert "RINGFLOW_OAUTH_TOKEN_KEY" in recorded.error


async def test_saving_a_tool_with_a_secret_without_a_sealing_key_is_refused_in_one_line(api_stack, tmp_path) -> None:
    api_stack.settings.oauth_token_key = None
    api_stack.settings.data_dir = tmp_path  # and no dev stack's key file either
    http = api_stack.org_a.http
    refused = await http.post("/v1/tools", json=booking_tool("http://127.0.0.1:9").model_dump(mode="json"))
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail.startswith("auth.secret: cannot be sealed: no key to seal secrets with: set RINGFLOW_OAUTH_TOKEN_KEY")
    assert "\n" not in detail
    without_secret = await http.post("/v1/tools", json=slots_tool("http://127.0.0.1:9").model_dump(mode="json"))
    assert without_secret.status_code == 201, without_secret.text


async def test_a_tool_saved_with_a_plain_secret_before_sealing_still_works_and_is_sealed_when_saved_again(
    api_stack, booking_service: BookingService
) -> None:
    http, org_id = api_stack.org_a.http, api_stack.org_a.id
    legacy = booking_tool(booking_service.base_url).model_dump(mode="json")
    async with api_stack.sessions() as session:  # a row as it was stored before secrets were sealed
        await save_named_definition(session, HttpToolRow, org_id, "book_slot", legacy)
        await session.commit()
    sample = {"arguments": {"day": "2026-12-01", "time": "10:00"}}

    assert (await http.get("/v1/tools/book_slot")).json()["auth"]["secret_hint"] == "…3456"
    tested = await http.post("/v1/tools/book_slot/test", json=sample)
    assert tested.json()["status"] == "ok", tested.text
    assert booking_service.requests[-1]["headers"]["Authorization"] == "Bearer tok_secret_123456"

    saved = await http.put("/v1/tools/book_slot", json={**legacy, "auth": {"kind": "bearer"}})
    assert saved.status_code == 200 and saved.json()["auth"]["secret_hint"] == "…3456", saved.text
    auth = await _stored_auth(api_stack.sessions, org_id, "book_slot")
    assert auth["secret"] == "" and "tok_secret_123456" not in json.dumps(auth)
    tested = await http.post("/v1/tools/book_slot/test", json=sample)
    assert tested.json()["status"] == "ok", tested.text
    assert booking_service.requests[-1]["headers"]["Authorization"] == "Bearer tok_secret_123456"


def test_the_cli_seals_a_tool_secret_and_without_a_key_refuses_it_in_one_line(
    cli_store_url: str, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("RINGFLOW_TOOL_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.delenv("RINGFLOW_OAUTH_TOKEN_KEY", raising=False)
    definition = tmp_path / "tool.json"
    definition.write_text(json.dumps(booking_tool("http://127.0.0.1:9").model_dump(mode="json")))

    code, out = ringflow("tool", "create", str(definition))
    assert code == 1 and len(out.strip().splitlines()) == 1 and "set RINGFLOW_OAUTH_TOKEN_KEY" in out, out

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("RINGFLOW_OAUTH_TOKEN_KEY", key)
    get_settings.cache_clear()
    code, out = ringflow("tool", "create", str(definition))
    assert code == 0 and "tool book_slot: POST" in out, out

    async def stored_auth() -> dict[str, Any]:
        try:
            return await _stored_auth(get_session_factory(cli_store_url), DEFAULT_ORG_ID, "book_slot")
        finally:
            await dispose_cached_engines()

    auth = asyncio.run(stored_auth())
    assert Fernet(key).decrypt(auth["sealed_secret"].encode()) == b"tok_secret_123456" and auth["secret"] == ""


# ---- the agent, against a fake bridge ------------------------------------------------------------


def _job_with_tools() -> CallJob:
    agent = AGENT.model_copy(update={"http_tools": ["find_slots"]})
    return CallJob(workflow_id="w", campaign_id="c", attempt=1, contact=contact(1, "answers"), agent=agent)


async def test_the_agent_offers_the_tools_its_call_has_and_says_their_answer() -> None:
    bridge = FakeBridge(
        http_specs=[slots_tool("https://booking.example.com").spec],
        tool_results=[ToolResult(status=InvocationStatus.OK, reply='{"data.slots":["09:00"]}')],
    )
    model = ScriptedLLM()
    speaker = RingflowAgent(_job_with_tools(), bridge)
    async with AgentSession(llm=model) as session:
        await session.start(speaker)
        await speaker.wait_greeted(5)
        answered = await session.run(user_input="The day is 2026-12-01, anything free?")
        await speaker.stop_polling()
    assert "find_slots" in model.requests[-1].tool_names
    assert ("call_http_tool", ("find_slots", {"day": "2026-12-01"})) in bridge.calls
    assert spoken(answered) == ['Here is what I found: {"data.slots":["09:00"]}']


async def test_a_call_whose_workflow_cannot_list_its_tools_goes_on_without_them() -> None:
    bridge = FakeBridge(fail="the workflow is unreachable", http_specs=[slots_tool("https://x.example").spec])
    speaker = RingflowAgent(_job_with_tools(), bridge)
    async with AgentSession(llm=ScriptedLLM()) as session:
        await session.start(speaker)
        await speaker.wait_greeted(5)
        await speaker.stop_polling()
    assert "find_slots" not in speaker.tool_names and "take_note" in speaker.tool_names


async def test_an_agent_with_http_tools_is_evaluated_without_reaching_any_service() -> None:
    verdict = await evaluate_persona(AGENT.model_copy(update={"http_tools": ["find_slots"]}), "qualifies")
    assert verdict.passed, verdict.reason
