"""Departments: business hours in their own zone, routing an inbound caller, the fallback, the record.

The hours logic is pure (closing time, a DST change); routing runs on the time-skipping server through the
inbound call's workflow, as the voice worker's bridge drives it.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import server_clock
from pydantic import ValidationError
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from typer.testing import CliRunner
from voice_fakes import FakeBridge
from workflow_helpers import zone_where_it_is

from cli.app import app
from schemas.agent import AgentConfig, AgentTool, CallJob
from schemas.campaign import ALL_WEEKDAYS, CallingWindow
from schemas.contact import Contact
from schemas.departments import (
    Department,
    DepartmentFallback,
    RouteAction,
    RouteAnswer,
    TransferReport,
    TransferResult,
)
from schemas.inbound import INBOUND_CAMPAIGN_ID, InboundCallInput, inbound_workflow_id
from schemas.settings import Settings
from schemas.workflow_io import contact_workflow_id
from simulator.carrier import SimCarrier
from store import departments, queries
from store.models import DEFAULT_ORG_ID
from voice_worker.agent import CallTools
from voice_worker.bridge import BridgeError
from voice_worker.temporal_bridge import TemporalCallBridge
from worker.main import build_worker
from workflows.call_records import TRANSFER_REPORT_MARGIN
from workflows.departments import callback_time, is_open, next_opening
from workflows.inbound import InboundCallWorkflow

CALLER = "+14155550123"
WEEKDAYS = frozenset(ALL_WEEKDAYS[:5])


def department(**overrides) -> Department:
    base = {
        "name": "support",
        "description": "Problems with an order, a delivery or the app",
        "timezone": "America/New_York",
        "hours": [CallingWindow(start=time(9), end=time(17), weekdays=WEEKDAYS)],
        "transfer_target": "+1 (212) 555-0142",
    }
    return Department(**{**base, **overrides})


# ---- the hours, pure -------------------------------------------------------------------------------------


def test_a_department_is_open_until_its_closing_time_in_its_own_zone_and_then_opens_next_morning() -> None:
    support = department()
    new_york = ZoneInfo("America/New_York")
    before_close = datetime(2026, 12, 2, 16, 59, tzinfo=new_york)  # a Wednesday
    at_close = datetime(2026, 12, 2, 17, 0, tzinfo=new_york)
    assert is_open(support, before_close)
    assert not is_open(support, at_close)
    assert next_opening(support, at_close) == datetime(2026, 12, 3, 9, 0, tzinfo=new_york)
    friday_evening = datetime(2026, 12, 4, 18, 0, tzinfo=new_york)
    assert next_opening(support, friday_evening) == datetime(2026, 12, 7, 9, 0, tzinfo=new_york)


def test_the_next_opening_across_a_dst_change_is_nine_on_the_new_clock() -> None:
    support = department()
    # Friday 6 March 2026, 17:30 EST; clocks go forward on Sunday 8 March; Monday 09:00 is EDT (UTC-4).
    closed = datetime(2026, 3, 6, 17, 30, tzinfo=ZoneInfo("America/New_York"))
    opening = next_opening(support, closed)
    assert opening == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert opening.astimezone(ZoneInfo("America/New_York")).hour == 9


def test_several_windows_open_at_the_earliest_one() -> None:
    saturday = CallingWindow(start=time(10), end=time(14), weekdays=frozenset({5}))
    support = department(hours=[CallingWindow(start=time(9), end=time(17), weekdays=WEEKDAYS), saturday])
    friday_night = datetime(2026, 12, 4, 22, 0, tzinfo=ZoneInfo("America/New_York"))
    assert next_opening(support, friday_night) == datetime(2026, 12, 5, 10, 0, tzinfo=ZoneInfo("America/New_York"))


def test_a_callback_after_an_unanswered_transfer_comes_later_in_the_hours_or_at_the_next_opening() -> None:
    support = department()
    new_york = ZoneInfo("America/New_York")
    midday = datetime(2026, 12, 2, 12, 0, tzinfo=new_york)
    assert callback_time(support, midday) == datetime(2026, 12, 2, 12, 30, tzinfo=new_york)
    near_close = datetime(2026, 12, 2, 16, 45, tzinfo=new_york)
    assert callback_time(support, near_close) == datetime(2026, 12, 3, 9, 0, tzinfo=new_york)


def test_a_transfer_target_is_a_normalised_number_or_a_sip_uri() -> None:
    assert department().transfer_target == "+12125550142"
    assert department(transfer_target="sip:billing@pbx.example.com").transfer_target == "sip:billing@pbx.example.com"
    for bad in ("sip:nohost", "+1 212 555 0142 ext 9", "not a number"):
        with pytest.raises(ValidationError):
            department(transfer_target=bad)
    with pytest.raises(ValidationError, match="IANA"):
        department(timezone="Mars/Olympus")


def test_the_route_tool_is_usable_only_for_an_agent_with_departments() -> None:
    agent = AgentConfig(name="desk", instructions="Answer the phone")
    assert AgentTool.ROUTE_TO_DEPARTMENT not in agent.enabled_tools()
    assert AgentTool.ROUTE_TO_DEPARTMENT in agent.model_copy(update={"departments": ["sales"]}).enabled_tools()


# ---- routing a call, on the time-skipping server ---------------------------------------------------------


@dataclass
class Call:
    client: Client
    handle: WorkflowHandle
    bridge: TemporalCallBridge
    sid: str


async def _save(session_factory, *saved: Department) -> None:
    async with session_factory() as session:
        for one in saved:
            await departments.save_department(session, DEFAULT_ORG_ID, one)
        await session.commit()


@pytest.fixture
async def inbound_call(time_env, session_factory, db_url) -> AsyncIterator:
    """``async with inbound_call(*departments) as call``: an inbound call, answered by an agent that routes to
    the given departments (saved for the default organization), on a worker of its own."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def _call(*routed: Department) -> AsyncIterator[Call]:
        await _save(session_factory, *routed)
        agent = AgentConfig(
            name="front-desk", instructions="Answer the phone", departments=[one.name for one in routed]
        )
        task_queue = f"tq-dept-{uuid.uuid4().hex[:8]}"
        sid = "CA" + uuid.uuid4().hex
        deployment = Settings(_env_file=None, database_url=db_url, task_queue=task_queue)  # type: ignore[call-arg]
        carrier = SimCarrier(time_scale=0.0, clock=server_clock)
        async with build_worker(time_env.client, deployment, sessions=session_factory, carrier=carrier):
            handle = await time_env.client.start_workflow(
                InboundCallWorkflow.run,
                InboundCallInput(
                    call_sid=sid, from_number=CALLER, to_number="+14155550100", agent=agent, org_id=DEFAULT_ORG_ID
                ),
                id=inbound_workflow_id(sid),
                task_queue=task_queue,
            )
            yield Call(time_env.client, handle, TemporalCallBridge(time_env.client, handle.id, 1), sid)
            await handle.terminate("test over")
            callback = time_env.client.get_workflow_handle(contact_workflow_id(INBOUND_CAMPAIGN_ID, sid))
            try:
                await callback.terminate("test over")
            except RPCError:  # no callback was booked on this call
                pass

    return _call


EVERY_DAY_NINE_TO_FIVE = CallingWindow(start=time(9), end=time(17), weekdays=frozenset(ALL_WEEKDAYS))
CLOSES_IN = timedelta(minutes=5)
CLOSED_AFTER = timedelta(minutes=10)
"""Well inside the longest an inbound call may last (an hour)."""


def closing_soon(now: datetime, *, hour: int = 16, **overrides) -> Department:
    """A department open every day from 09:00 until five minutes from now, in a zone where it is ``hour``
    o'clock now."""
    zone = zone_where_it_is(hour, now)
    closes = (now + CLOSES_IN).astimezone(ZoneInfo(zone)).time().replace(second=0, microsecond=0)
    every_day = CallingWindow(start=time(9), end=closes, weekdays=frozenset(ALL_WEEKDAYS))
    return department(timezone=zone, hours=[every_day], **overrides)


async def routes_of(session_factory, sid: str):
    async with session_factory() as session:
        return await departments.routes_for(session, INBOUND_CAMPAIGN_ID, sid)


async def test_a_caller_routed_while_the_department_is_open_is_transferred_and_the_route_recorded(
    inbound_call, session_factory
) -> None:
    support = closing_soon(datetime.now(UTC), transfer_target="sip:support@pbx.example.com")
    async with inbound_call(support) as call:
        assert [listed.name for listed in await call.bridge.departments()] == ["support"]
        answer = await call.bridge.route_to_department("support", "parcel never arrived")
        assert answer.action == RouteAction.TRANSFER
        assert (answer.target, answer.ring_timeout_seconds) == ("sip:support@pbx.example.com", 30)

        done = await call.bridge.report_department_transfer(
            TransferReport(route_id=answer.route_id, result=TransferResult.ANSWERED)
        )
        assert done.action == RouteAction.TRANSFER
    routes = await routes_of(session_factory, call.sid)
    assert [(r.department, r.action, r.status, r.was_open) for r in routes] == [
        ("support", RouteAction.TRANSFER, "transferring", True),
        ("support", RouteAction.TRANSFER, "transferred", True),
    ]
    assert routes[0].reason == "parcel never arrived" and routes[0].target == "sip:support@pbx.example.com"


async def test_a_caller_routed_after_closing_time_gets_a_callback_at_the_next_opening(
    inbound_call, time_env, session_factory
) -> None:
    now = datetime.now(UTC)
    support = closing_soon(now)
    async with inbound_call(support) as call:
        await time_env.sleep(CLOSED_AFTER)  # across closing time in the department's zone
        answer = await call.bridge.route_to_department("support", "refund question")
        assert answer.action == RouteAction.CALLBACK
        opening = next_opening(support, now + CLOSED_AFTER)
        local_opening = opening.astimezone(ZoneInfo(support.timezone))
        assert (local_opening.hour, local_opening.minute) == (9, 0) and opening - now < timedelta(hours=18)
        assert answer.callback_at is not None and answer.callback_at >= opening
        assert "call you back" in answer.say
        state = await call.handle.query(InboundCallWorkflow.state)
        assert state.callback_workflow_id == contact_workflow_id(INBOUND_CAMPAIGN_ID, call.sid)
    [route] = await routes_of(session_factory, call.sid)
    assert (route.action, route.status, route.was_open, route.callback_at) == (
        RouteAction.CALLBACK,
        "callback_booked",
        False,
        answer.callback_at,
    )
    if answer.callback_at != opening:  # the caller's own calling hours (the legal floor) start later
        assert route.detail.startswith(f"asked for {opening.isoformat()}")


async def test_a_transfer_nobody_answers_falls_back_to_a_callback_later_in_the_hours(
    inbound_call, session_factory
) -> None:
    support = department(timezone=zone_where_it_is(12, datetime.now(UTC)), hours=[EVERY_DAY_NINE_TO_FIVE])
    async with inbound_call(support) as call:
        answer = await call.bridge.route_to_department("support", "broken app")
        assert answer.action == RouteAction.TRANSFER
        fallback = await call.bridge.report_department_transfer(
            TransferReport(route_id=answer.route_id, result=TransferResult.NO_ANSWER, detail="rang 30 s")
        )
        assert fallback.action == RouteAction.CALLBACK and fallback.callback_at is not None
        assert "not answering right now" in fallback.say
        with pytest.raises(BridgeError, match="no department transfer"):
            await call.bridge.report_department_transfer(
                TransferReport(route_id=answer.route_id, result=TransferResult.ANSWERED)
            )
    routes = await routes_of(session_factory, call.sid)
    assert [(r.action, r.status) for r in routes] == [
        (RouteAction.TRANSFER, "transferring"),
        (RouteAction.TRANSFER, "no_answer"),
        (RouteAction.CALLBACK, "callback_booked"),
    ]
    assert routes[1].detail == "rang 30 s"
    later = routes[2].callback_at - routes[0].created_at
    assert timedelta(minutes=29) < later < timedelta(minutes=32), "half an hour on, still inside the hours"


async def test_a_transfer_whose_result_never_comes_falls_back_after_the_ring_timeout_and_its_margin(
    inbound_call, time_env, session_factory
) -> None:
    support = department(
        timezone=zone_where_it_is(12, datetime.now(UTC)), hours=[EVERY_DAY_NINE_TO_FIVE], ring_timeout_seconds=20
    )
    async with inbound_call(support) as call:
        answer = await call.bridge.route_to_department("support", "broken app")
        assert answer.action == RouteAction.TRANSFER
        # The voice worker never reports: the workflow's own timer (20 s ringing + the margin) decides.
        await time_env.sleep(timedelta(seconds=20) + TRANSFER_REPORT_MARGIN + timedelta(seconds=5))
        with pytest.raises(BridgeError, match="no department transfer"):
            await call.bridge.report_department_transfer(
                TransferReport(route_id=answer.route_id, result=TransferResult.ANSWERED)
            )
        state = await call.handle.query(InboundCallWorkflow.state)
        assert state.callback_workflow_id == contact_workflow_id(INBOUND_CAMPAIGN_ID, call.sid)
    routes = await routes_of(session_factory, call.sid)
    assert [(r.action, r.status) for r in routes] == [
        (RouteAction.TRANSFER, "transferring"),
        (RouteAction.TRANSFER, "no_answer"),
        (RouteAction.CALLBACK, "callback_booked"),
    ]
    assert routes[1].detail == "no result reported within 50 s"
    assert all(r.route_id == answer.route_id for r in routes)


async def test_a_transfer_reported_in_time_is_not_fallen_back_on_when_its_timer_would_have_run_out(
    inbound_call, time_env, session_factory
) -> None:
    billing = department(
        name="billing", timezone=zone_where_it_is(12, datetime.now(UTC)), hours=[EVERY_DAY_NINE_TO_FIVE],
        fallback=DepartmentFallback.MESSAGE,
    )  # fmt: skip
    async with inbound_call(billing) as call:
        answer = await call.bridge.route_to_department("billing", "invoice question")
        await call.bridge.report_department_transfer(
            TransferReport(route_id=answer.route_id, result=TransferResult.ANSWERED)
        )
        await time_env.sleep(timedelta(seconds=30) + TRANSFER_REPORT_MARGIN + timedelta(seconds=5))
    async with session_factory() as session:
        assert await queries.notes_for(session, INBOUND_CAMPAIGN_ID, call.sid) == []
    routes = await routes_of(session_factory, call.sid)
    assert [r.status for r in routes] == ["transferring", "transferred"]


async def test_a_closed_department_whose_fallback_is_a_message_takes_a_note_tagged_with_it(
    inbound_call, time_env, session_factory
) -> None:
    billing = closing_soon(datetime.now(UTC), name="billing", fallback=DepartmentFallback.MESSAGE)
    async with inbound_call(billing) as call:
        await time_env.sleep(CLOSED_AFTER)
        answer = await call.bridge.route_to_department("billing", "invoice 4471 is wrong")
        assert answer.action == RouteAction.MESSAGE
        assert "the billing team will get it" in answer.say
    async with session_factory() as session:
        assert await queries.notes_for(session, INBOUND_CAMPAIGN_ID, call.sid) == [
            "[billing] message: invoice 4471 is wrong"
        ]
    [route] = await routes_of(session_factory, call.sid)
    assert (route.action, route.status, route.was_open) == (RouteAction.MESSAGE, "message_taken", False)


async def test_a_department_the_agent_does_not_route_to_is_refused_and_nothing_recorded(
    inbound_call, session_factory
) -> None:
    support = closing_soon(datetime.now(UTC))
    await _save(session_factory, closing_soon(datetime.now(UTC), name="sales"))
    async with inbound_call(support) as call:
        with pytest.raises(BridgeError, match="sales is not a department this agent routes to"):
            await call.bridge.route_to_department("sales", "wants a quote")
    assert await routes_of(session_factory, call.sid) == []


# ---- the API and the CLI ---------------------------------------------------------------------------------


async def test_the_api_creates_lists_replaces_and_deletes_a_department_per_organization(api_stack) -> None:
    http = api_stack.org_a.http
    sales = department(name="sales", description="Prices, quotes and new orders").model_dump(mode="json")
    created = await http.post("/v1/departments", json={**sales, "transfer_target": "+1 212 555 0142"})
    assert created.status_code == 201, created.text
    assert created.json()["transfer_target"] == "+12125550142" and created.json()["ring_timeout_seconds"] == 30
    assert (await http.post("/v1/departments", json=sales)).status_code == 409
    assert [d["name"] for d in (await http.get("/v1/departments")).json()] == ["sales"]
    assert (await api_stack.org_b.http.get("/v1/departments/sales")).status_code == 404

    replaced = await http.put("/v1/departments/sales", json={**sales, "fallback": "message"})
    assert replaced.status_code == 200 and replaced.json()["fallback"] == "message"
    refused = await http.post("/v1/departments", json={**sales, "name": "billing", "timezone": "Nowhere/Land"})
    assert refused.status_code == 422 and "IANA" in refused.text

    assert (await http.delete("/v1/departments/sales")).status_code == 204
    assert (await http.get("/v1/departments/sales")).status_code == 404


async def test_an_agent_naming_a_department_its_organization_lacks_is_refused(api_stack) -> None:
    http = api_stack.org_a.http
    await http.post("/v1/departments", json=department(name="support").model_dump(mode="json"))
    agent = {"name": "desk", "instructions": "Answer the phone."}
    refused = await http.post("/v1/agents", json={**agent, "departments": ["support", "nope"]})
    assert refused.status_code == 422 and "no department named 'nope'" in refused.json()["detail"]
    created = await http.post("/v1/agents", json={**agent, "departments": ["support"]})
    assert created.status_code == 201 and created.json()["departments"] == ["support"]
    assert "route_to_department" in created.json()["enabled_tools"]
    assert (await http.delete("/v1/departments/support")).status_code == 409  # still routed to
    other_org = await api_stack.org_b.http.post("/v1/agents", json={**agent, "departments": ["support"]})
    assert other_org.status_code == 422


def test_the_cli_adds_lists_and_removes_a_department(cli_store_url: str) -> None:
    code, out = ringflow(
        "department", "add", "billing",
        "--description", "Invoices and refunds",
        "--timezone", "Europe/London",
        "--hours", "mon-fri 09:00-17:30",
        "--hours", "sat 10:00-13:00",
        "--target", "sip:billing@pbx.example.com",
        "--fallback", "message",
    )  # fmt: skip
    assert code == 0 and "department billing: sip:billing@pbx.example.com, Europe/London" in out, out
    code, out = ringflow("department", "list")
    assert code == 0 and "mon,tue,wed,thu,fri 09:00-17:30; sat 10:00-13:00" in out and "then message" in out
    code, out = ringflow("department", "add", "x", "--description", "d", "--timezone", "UTC",
                         "--hours", "someday 09:00-10:00", "--target", "+12125550142")  # fmt: skip
    assert code == 2 and "someday" in out
    code, out = ringflow("department", "remove", "billing")
    assert code == 0 and "department billing removed" in out
    code, out = ringflow("department", "remove", "billing")
    assert code == 1 and "no department named 'billing'" in out


def ringflow(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


# ---- the voice agent's tool --------------------------------------------------------------------------------


class SipRefused(Exception):
    """As livekit-api's ``SipCallError``: the transfer's SIP answer in ``sip_status_code``."""

    def __init__(self, code: int) -> None:
        super().__init__(f"SIP {code}")
        self.sip_status_code = code


def route_tools(bridge: FakeBridge, transfer) -> CallTools:
    agent = AgentConfig(name="desk", instructions="Answer the phone", departments=["support"])
    job = CallJob(
        workflow_id="w", campaign_id=INBOUND_CAMPAIGN_ID, attempt=1,
        contact=Contact(external_id="CA1", phone=CALLER), agent=agent,
    )  # fmt: skip
    return CallTools(job, bridge, lambda: datetime.now(UTC), transfer)


def transfer_answer(**overrides) -> RouteAnswer:
    base = {"route_id": "r1", "department": "support", "action": RouteAction.TRANSFER, "say": "Transferring you."}
    return RouteAnswer(**{**base, "target": "sip:support@pbx.example.com", "ring_timeout_seconds": 25, **overrides})


async def test_the_route_tool_lists_the_departments_and_rings_the_target_for_its_ring_timeout() -> None:
    rung: list[tuple[str, timedelta | None]] = []

    async def transfer(target: str, ringing_timeout: timedelta | None = None) -> None:
        rung.append((target, ringing_timeout))

    bridge = FakeBridge(route_answers=[transfer_answer(), transfer_answer(say="")])
    tool = route_tools(bridge, transfer).route_tool([department()])
    assert "- support: Problems with an order, a delivery or the app" in tool.info.raw_schema["description"]
    assert tool.info.raw_schema["parameters"]["properties"]["department"]["enum"] == ["support"]

    said = await tool({"department": "support", "reason": "late parcel"})

    assert said == "Transferring you."
    assert rung == [("sip:support@pbx.example.com", timedelta(seconds=25))]
    assert [r.result for r in bridge.transfer_reports] == [TransferResult.ANSWERED]


async def test_a_transfer_nobody_answers_is_reported_and_the_agent_says_the_fallback() -> None:
    async def transfer(target: str, ringing_timeout: timedelta | None = None) -> None:
        raise SipRefused(480)

    fallback = RouteAnswer(route_id="r1", department="support", action=RouteAction.MESSAGE, say="I've taken a message.")
    bridge = FakeBridge(route_answers=[transfer_answer(), fallback])

    said = await route_tools(bridge, transfer).route_tool([department()])({"department": "support", "reason": "x"})

    assert said == "I've taken a message."
    [report] = bridge.transfer_reports
    assert (report.route_id, report.result, report.sip_status_code) == ("r1", TransferResult.NO_ANSWER, 480)


async def test_a_closed_department_is_never_rung_and_its_fallback_is_said() -> None:
    async def transfer(target: str, ringing_timeout: timedelta | None = None) -> None:
        raise AssertionError("a closed department is not rung")

    closed = RouteAnswer(route_id="r1", department="support", action=RouteAction.CALLBACK, say="They'll call you.")
    bridge = FakeBridge(route_answers=[closed])
    said = await route_tools(bridge, transfer).route_tool([department()])({"department": "support", "reason": "x"})
    assert said == "They'll call you." and bridge.transfer_reports == []
