"""Inbound calls end to end: signed Twilio webhooks → InboundCallWorkflow → LiveKit room with the agent.

The FastAPI app runs in process (httpx ASGITransport) against the dev server (update-with-start) and
the LiveKit stand-in; requests are signed as Twilio signs them (RequestValidator.compute_signature
over the public URL and the form fields). From assignment to completion, the Twilio stand-in itself sends
the webhooks Twilio would send (voice URL, the ``<Dial>``'s action, the number's status callback) to the URLs
configured on the number, through the app's ASGI transport.
"""

import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from livekit_standin import API_KEY, API_SECRET, LiveKitStandIn
from sqlalchemy import delete
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from twilio.request_validator import RequestValidator
from twilio_standin import TwilioStandIn

import api.routers.numbers
from api.main import create_app
from api.routers.twilio import ALL_LINES_BUSY_MESSAGE
from schemas.agent import AgentConfig, CallJob, TranscriptSegment
from schemas.capacity import OrgCapacity
from schemas.inbound import (
    INBOUND_CAMPAIGN_ID,
    MAX_INBOUND_CALL_LENGTH,
    NO_END_REPORTED,
    InboundCallInput,
    InboundCallState,
    inbound_workflow_id,
)
from schemas.settings import Settings
from schemas.workflow_io import ContactPhase, contact_workflow_id
from simulator.carrier import SimCarrier
from store import analyses, capacity, numbers, orgs, queries
from store.models import DEFAULT_ORG_ID, InboundCallRow
from telephony.twilio_voice import TwilioVoice
from voice_worker.bridge import BridgeError
from voice_worker.temporal_bridge import TemporalCallBridge
from worker.main import build_worker
from workflows.contact import ContactWorkflow
from workflows.inbound import InboundCallWorkflow

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://ringflow.example.com"
SIP_HOST = "standin.sip.livekit.test"
SIP_USER, SIP_PASSWORD = "twilio-inbound", "trunk-secret"
OUR_NUMBER = "+14155550100"
CALLER = "+14155550123"
INCOMING = "/twilio/voice/incoming"
STATUS = "/twilio/voice/status"
DIAL_ENDED = "/twilio/voice/dial-ended"


def sign(path: str, form: dict[str, str], url: str | None = None) -> str:
    return RequestValidator(TOKEN).compute_signature(url or PUBLIC + path, form)


class Stack:
    def __init__(
        self,
        client: Any,
        http: httpx.AsyncClient,
        standin: LiveKitStandIn,
        sessions: Any,
        twilio: TwilioStandIn,
        api_key: str,
    ) -> None:
        self.client = client
        self.http = http
        self.standin = standin
        self.sessions = sessions
        self.twilio = twilio
        self.api_key = api_key

    async def post(self, path: str, form: dict[str, str], signature: str | None = "sign") -> httpx.Response:
        headers = {}
        if signature == "sign":
            headers["X-Twilio-Signature"] = sign(path, form)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return await self.http.post(path, data=form, headers=headers)

    async def exists(self, workflow_id: str) -> bool:
        try:
            await self.client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            assert err.status == RPCStatusCode.NOT_FOUND
            return False
        return True


def call_form(call_sid: str, to: str = OUR_NUMBER) -> dict[str, str]:
    return {"CallSid": call_sid, "AccountSid": "AC123", "From": CALLER, "To": to, "CallStatus": "ringing"}


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


@pytest_asyncio.fixture
async def stack(dev_env, session_factory, db_url, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    with TwilioStandIn(auth_token=TOKEN) as twilio:
        async with LiveKitStandIn() as standin:
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                database_url=db_url,
                task_queue=f"tq-inbound-{uuid.uuid4().hex[:8]}",
                livekit_url=standin.url,
                livekit_api_key=API_KEY,
                livekit_api_secret=API_SECRET,
                livekit_sip_uri_host=SIP_HOST,
                livekit_sip_inbound_username=SIP_USER,
                livekit_sip_inbound_password=SIP_PASSWORD,
                agent_name="ringflow-test-agent",
                twilio_account_sid=twilio.account_sid,
                twilio_auth_token=TOKEN,
                public_base_url=PUBLIC,
            )
            monkeypatch.setattr(
                api.routers.numbers,
                "twilio_voice",
                lambda settings: TwilioVoice.from_settings(settings, api_base_url=twilio.base_url),
            )
            async with session_factory() as session:
                if await orgs.get_org(session, DEFAULT_ORG_ID) is None:  # the store is emptied between tests
                    await orgs.create_org(session, "Default", org_id=DEFAULT_ORG_ID)
                api_key = await orgs.create_api_key(session, DEFAULT_ORG_ID, "inbound tests")
                await queries.save_agent(
                    session,
                    AgentConfig(name="front-desk", instructions="Help callers.", transfer_number="+14155550199"),
                )
                await queries.save_agent(session, AgentConfig(name="retired", instructions="Gone.", active=False))
                await numbers.upsert_number(session, OUR_NUMBER, "PN1", "Front desk")
                await numbers.upsert_number(session, "+14155550101", "PN2", "Old line")
                await numbers.assign_agent(session, OUR_NUMBER, "front-desk")
                await numbers.assign_agent(session, "+14155550101", "retired")
                await session.commit()
            app = create_app(settings, dev_env.client, session_factory)
            twilio.webhook_transport = httpx.ASGITransport(app=app)
            worker = build_worker(
                dev_env.client, settings, sessions=session_factory, carrier=SimCarrier(time_scale=0.0)
            )
            async with worker, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as http:
                yield Stack(dev_env.client, http, standin, session_factory, twilio, api_key)


def sip_of(twiml: str) -> str:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    dial = root.find("Dial")
    assert dial is not None
    assert (dial.get("action"), dial.get("method")) == (PUBLIC + DIAL_ENDED, "POST"), "the Dial reports its end"
    sip = dial.find("Sip")
    assert sip is not None and sip.text
    assert (sip.get("username"), sip.get("password")) == (SIP_USER, SIP_PASSWORD), "the trunk's digest credentials"
    return sip.text


async def test_a_call_to_a_bound_number_reaches_the_agent_and_ends_on_the_status_callback(stack: Stack) -> None:
    sid = new_sid()
    response = await stack.post(INCOMING, call_form(sid))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    uri = sip_of(response.text)
    assert uri.startswith("sip:call-") and uri.endswith("@" + SIP_HOST)
    room = uri.removeprefix("sip:").split("@")[0]
    assert room in stack.standin.rooms

    dispatches = [r for r in stack.standin.calls("CreateDispatch") if r.message.room == room]
    assert len(dispatches) == 1
    assert dispatches[0].message.agent_name == "ringflow-test-agent"
    job = CallJob.model_validate_json(dispatches[0].message.metadata)
    assert job.workflow_id == inbound_workflow_id(sid)
    assert job.campaign_id == INBOUND_CAMPAIGN_ID and job.attempt == 1
    assert job.contact.external_id == sid and job.contact.phone == CALLER
    assert job.agent.name == "front-desk"

    # Twilio retrying the webhook gets the same room and starts nothing more.
    again = await stack.post(INCOMING, call_form(sid))
    assert sip_of(again.text) == uri
    assert len([r for r in stack.standin.calls("CreateDispatch") if r.message.room == room]) == 1

    # The agent's tools work on the inbound workflow as on a contact's.
    bridge = TemporalCallBridge(stack.client, inbound_workflow_id(sid), 1)
    await bridge.take_note("caller wants opening hours")
    await bridge.append_transcript(
        [TranscriptSegment(speaker="callee", text="When do you open on Saturdays?", started_at=datetime.now(UTC))]
    )
    context = await bridge.live_context()
    assert context.version == 0
    async with stack.sessions() as session:
        assert await queries.notes_for(session, INBOUND_CAMPAIGN_ID, sid) == ["caller wants opening hours"]
        row = await numbers.get_inbound_call(session, sid)
        assert row is not None and row.agent_name == "front-desk" and row.ended_at is None

    ringing = await stack.post(STATUS, {"CallSid": sid, "CallStatus": "in-progress"})
    assert ringing.status_code == 204
    done = await stack.post(STATUS, {"CallSid": sid, "CallStatus": "completed", "CallDuration": "42"})
    assert done.status_code == 204
    state = await stack.client.get_workflow_handle(inbound_workflow_id(sid), result_type=InboundCallState).result()
    assert state.status == "completed" and state.duration_seconds == 42 and state.notes_taken == 1
    assert room not in stack.standin.rooms
    async with stack.sessions() as session:
        row = await numbers.get_inbound_call(session, sid)
        assert row is not None
        assert row.status == "completed" and row.duration_seconds == 42 and row.ended_at is not None
        assert row.to_number == OUR_NUMBER and row.from_number == CALLER
        analysis = await analyses.analysis_of_call(session, INBOUND_CAMPAIGN_ID, sid, 1)
    assert analysis is not None and analysis.summary == "The callee said: When do you open on Saturdays?"


async def assign_through_the_api(stack: Stack, number: str, agent: str = "front-desk") -> str:
    """A number on the Twilio account, synced into the store, then given to ``agent`` with the REST API."""
    sid = stack.twilio.add_number(number, friendly_name="Sales line")
    async with stack.sessions() as session:
        await numbers.upsert_number(session, number, sid, "Sales line")
        await session.commit()
    response = await stack.http.put(
        f"/v1/numbers/{number}/agent",
        json={"agent_name": agent},
        headers={"Authorization": f"Bearer {stack.api_key}"},
    )
    assert response.status_code == 200, response.text
    return sid


async def test_an_assigned_number_reports_each_calls_end_and_the_workflow_ends_with_twilios_status(
    stack: Stack,
) -> None:
    number = "+14155550142"
    sid = await assign_through_the_api(stack, number)
    [update] = stack.twilio.requests_to("POST", f"/IncomingPhoneNumbers/{sid}.json")
    assert (update.one("VoiceUrl"), update.one("VoiceMethod")) == (PUBLIC + INCOMING, "POST")
    assert (update.one("StatusCallback"), update.one("StatusCallbackMethod")) == (PUBLIC + STATUS, "POST")

    call = await stack.twilio.place_inbound_call(number, CALLER)
    [voice] = call.sent("voice")
    assert voice.url == PUBLIC + INCOMING and voice.status_code == 200, voice.body
    assert call.dial_action == PUBLIC + DIAL_ENDED and call.sip_uri == sip_of(call.twiml)
    handle = stack.client.get_workflow_handle_for(InboundCallWorkflow.run, inbound_workflow_id(call.sid))
    state = await handle.query(InboundCallWorkflow.state)
    assert state.status == "in-progress" and state.room in stack.standin.rooms
    room = state.room
    await TemporalCallBridge(stack.client, inbound_workflow_id(call.sid), 1).take_note("wants a quote")

    # The caller hangs up after 42 s with the agent: Twilio reports the end twice, and nobody else does.
    await stack.twilio.end_inbound_call(call, talk_seconds=42, setup_seconds=3)
    [action] = call.sent("dial-action")
    assert action.status_code == 200 and [verb.tag for verb in ET.fromstring(action.body)] == ["Hangup"]
    assert (action.form["DialCallStatus"], action.form["DialCallDuration"]) == ("completed", "42")
    [callback] = call.sent("status-callback")
    assert callback.url == PUBLIC + STATUS and callback.status_code == 204
    assert (callback.form["CallStatus"], callback.form["CallDuration"]) == ("completed", "45")

    state = await handle.result()
    assert state.status == "completed" and state.duration_seconds == 42 and state.notes_taken == 1
    assert room not in stack.standin.rooms
    async with stack.sessions() as session:
        row = await numbers.get_inbound_call(session, call.sid)
    assert row is not None and row.status == "completed" and row.duration_seconds == 42
    assert row.ended_at is not None and row.to_number == number


async def test_a_number_assigned_before_status_callbacks_still_ends_its_calls_through_the_dials_action(
    stack: Stack,
) -> None:
    number = "+14155550143"
    stack.twilio.add_number(number, voice_url=PUBLIC + INCOMING)  # no status callback on the number
    async with stack.sessions() as session:
        await numbers.upsert_number(session, number, "PN-old", "Old setup")
        await numbers.assign_agent(session, number, "front-desk")
        await session.commit()
    call = await stack.twilio.place_inbound_call(number, CALLER)
    await stack.twilio.end_inbound_call(call, talk_seconds=7)
    assert not call.sent("status-callback")
    handle = stack.client.get_workflow_handle_for(InboundCallWorkflow.run, inbound_workflow_id(call.sid))
    state = await handle.result()
    assert state.status == "completed" and state.duration_seconds == 7


async def test_when_the_agents_room_never_answers_the_caller_hears_why_and_the_call_ends_failed(
    stack: Stack,
) -> None:
    number = "+14155550144"
    await assign_through_the_api(stack, number)
    call = await stack.twilio.place_inbound_call(number, CALLER)
    await stack.twilio.end_inbound_call(call, dial_status="failed", caller_hung_up=False)
    [action] = call.sent("dial-action")
    assert [verb.tag for verb in ET.fromstring(action.body)] == ["Say", "Hangup"]
    handle = stack.client.get_workflow_handle_for(InboundCallWorkflow.run, inbound_workflow_id(call.sid))
    state = await handle.result()
    assert state.status == "failed" and state.duration_seconds == 0
    [callback] = call.sent("status-callback")
    assert callback.status_code == 204, "a report after the workflow ended is accepted and changes nothing"
    async with stack.sessions() as session:
        row = await numbers.get_inbound_call(session, call.sid)
    assert row is not None and row.status == "failed"


async def test_a_duration_that_is_no_real_one_is_refused_and_never_stored(stack: Stack) -> None:
    sid = new_sid()
    assert (await stack.post(INCOMING, call_form(sid))).status_code == 200
    for duration in ("nan", "NaN", "1e400", "inf", "-5", "86401", "forty"):
        status = await stack.post(STATUS, {"CallSid": sid, "CallStatus": "completed", "CallDuration": duration})
        assert status.status_code == 400, duration
        dialed = {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": duration}
        assert (await stack.post(DIAL_ENDED, dialed)).status_code == 400, duration
    handle = stack.client.get_workflow_handle_for(InboundCallWorkflow.run, inbound_workflow_id(sid))
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    unknown = await stack.post(DIAL_ENDED, {"CallSid": sid, "DialCallStatus": "exploded"})
    assert unknown.status_code == 200, "an undocumented DialCallStatus is ignored"
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

    done = await stack.post(STATUS, {"CallSid": sid, "CallStatus": "completed", "CallDuration": "12"})
    assert done.status_code == 204
    state = await handle.result()
    assert state.status == "completed" and state.duration_seconds == 12
    async with stack.sessions() as session:
        row = await numbers.get_inbound_call(session, sid)
    assert row is not None and row.duration_seconds == 12


@pytest.mark.parametrize("how", ["tampered", "wrong_url", "missing", "garbage"])
async def test_a_badly_signed_webhook_is_refused_and_starts_nothing(stack: Stack, how: str) -> None:
    sid = new_sid()
    form = call_form(sid)
    if how == "tampered":
        signature = sign(INCOMING, form)
        form["To"] = "+14155550101"
    elif how == "wrong_url":
        signature = sign(INCOMING, form, url="https://elsewhere.example.com" + INCOMING)
    elif how == "missing":
        signature = None
    else:
        signature = "not-a-signature"
    response = await stack.post(INCOMING, form, signature=signature)
    assert response.status_code == 403
    assert not await stack.exists(inbound_workflow_id(sid))
    status = await stack.post(STATUS, {"CallSid": sid, "CallStatus": "completed"}, signature=signature)
    assert status.status_code == 403
    dialed = await stack.post(DIAL_ENDED, {"CallSid": sid, "DialCallStatus": "completed"}, signature=signature)
    assert dialed.status_code == 403


@pytest.mark.parametrize("number", ["+14155550177", "+14155550101"], ids=["unknown", "inactive_agent"])
async def test_a_number_without_an_active_agent_hangs_up_politely(stack: Stack, number: str) -> None:
    sid = new_sid()
    response = await stack.post(INCOMING, call_form(sid, to=number))
    assert response.status_code == 200
    root = ET.fromstring(response.text)
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert not await stack.exists(inbound_workflow_id(sid))
    assert not stack.standin.calls("CreateRoom")


async def test_the_inbound_reserve_answers_a_caller_while_campaigns_hold_every_outbound_line(stack: Stack) -> None:
    async with stack.sessions() as session:
        await capacity.set_capacity(session, DEFAULT_ORG_ID, OrgCapacity(max_concurrent_calls=2, inbound_reserve=1))
        held = await capacity.acquire_line(
            session,
            lease_key="a-dial-on-the-line",
            org_id=DEFAULT_ORG_ID,
            campaign_id="spring",
            lifetime=capacity.OUTBOUND_LEASE_LIFETIME,
        )
        await session.commit()
    assert held is None
    answered = new_sid()
    assert sip_of((await stack.post(INCOMING, call_form(answered))).text), "the reserved line takes the call"

    busy = new_sid()
    refused = await stack.post(INCOMING, call_form(busy))
    assert refused.status_code == 200
    assert [(verb.tag, verb.text) for verb in ET.fromstring(refused.text)] == [
        ("Say", ALL_LINES_BUSY_MESSAGE),
        ("Hangup", None),
    ]
    assert not await stack.exists(inbound_workflow_id(busy))

    await stack.post(STATUS, {"CallSid": answered, "CallStatus": "completed", "CallDuration": "42"})
    await stack.client.get_workflow_handle(inbound_workflow_id(answered)).result()
    async with stack.sessions() as session:
        lines = await capacity.lines_in_use(session, DEFAULT_ORG_ID)
    assert (lines.outbound, lines.inbound) == (1, 0), "the call's end freed its line"


async def test_malformed_webhooks_get_a_4xx(stack: Stack) -> None:
    missing = await stack.post(INCOMING, {"From": CALLER})
    assert missing.status_code == 400
    duration = await stack.post(STATUS, {"CallSid": new_sid(), "CallStatus": "completed", "CallDuration": "x"})
    assert duration.status_code == 400
    junk = await stack.http.post(
        INCOMING, content=b"\xff\xfe--", headers={"Content-Type": "multipart/form-data; boundary=zz"}
    )
    assert 400 <= junk.status_code < 500
    # An outbound call's status (no inbound workflow) is accepted and ignored.
    unknown = await stack.post(STATUS, {"CallSid": new_sid(), "CallStatus": "completed"})
    assert unknown.status_code == 204


async def test_a_callback_asked_on_an_inbound_call_becomes_a_contact_workflow_inside_calling_hours(
    stack: Stack,
) -> None:
    """Asked for at 23:30 the caller's time (San Francisco), it is booked for 08:00 the next morning."""
    sid = new_sid()
    response = await stack.post(INCOMING, call_form(sid))
    assert response.status_code == 200
    bridge = TemporalCallBridge(stack.client, inbound_workflow_id(sid), 1)
    info = await stack.client.get_workflow_handle(inbound_workflow_id(sid)).describe()
    caller_zone = ZoneInfo("America/Los_Angeles")
    at = (
        (info.start_time + timedelta(days=2))
        .astimezone(caller_zone)
        .replace(hour=23, minute=30, second=0, microsecond=0)
    )
    with pytest.raises(BridgeError):
        await bridge.schedule_callback(info.start_time + timedelta(days=20), "too far")
    with pytest.raises(BridgeError):
        await bridge.schedule_callback(info.start_time - timedelta(hours=1), "past")
    confirmation = await bridge.schedule_callback(at, "late tonight")
    morning = (at + timedelta(days=1)).replace(hour=8, minute=0)
    assert confirmation.scheduled_for == morning and confirmation.moved_into_window

    contact_handle = stack.client.get_workflow_handle_for(
        ContactWorkflow.run, contact_workflow_id(INBOUND_CAMPAIGN_ID, sid)
    )
    try:
        state = await contact_handle.query(ContactWorkflow.state)
        # ContactWorkflow leaves a contact booked before its first dial in phase "starting".
        assert state.phase in (ContactPhase.STARTING, ContactPhase.WAITING_CALLBACK)
        assert state.callback is not None and state.callback.at == at
        assert state.next_dial_at == morning and not state.attempts
        async with stack.sessions() as session:
            callbacks = await queries.callbacks_for(session, INBOUND_CAMPAIGN_ID, sid)
        assert [c.scheduled_for for c in callbacks] == [morning]
        described = await contact_handle.describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
    finally:
        await contact_handle.terminate("test over")

    await stack.post(STATUS, {"CallSid": sid, "CallStatus": "completed", "CallDuration": "7"})
    state = await stack.client.get_workflow_handle(inbound_workflow_id(sid), result_type=InboundCallState).result()
    assert state.callback_workflow_id == contact_workflow_id(INBOUND_CAMPAIGN_ID, sid)


def test_the_deployed_app_connects_to_temporal_when_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    import infra.client
    from api.main import app_from_env

    connected: list[str] = []

    async def fake_connect(settings: Settings) -> object:
        connected.append(settings.temporal_address)
        return object()

    monkeypatch.setattr(infra.client, "connect", fake_connect)
    app = app_from_env()
    assert connected == []
    with TestClient(app):
        assert connected and app.state.ringflow.client is not None


async def test_a_replayed_incoming_webhook_after_the_call_ended_starts_nothing_and_hands_out_no_sip(
    stack: Stack,
) -> None:
    sid = new_sid()
    form = call_form(sid)
    first = await stack.post(INCOMING, form)
    assert sip_of(first.text).startswith("sip:call-")
    assert (
        await stack.post(STATUS, {"CallSid": sid, "CallStatus": "completed", "CallDuration": "7"})
    ).status_code == 204
    handle = stack.client.get_workflow_handle(inbound_workflow_id(sid))
    await handle.result()
    run_id = (await handle.describe()).run_id
    rooms = len(stack.standin.calls("CreateRoom"))

    replay = await stack.post(INCOMING, form)
    assert replay.status_code == 200
    root = ET.fromstring(replay.text)
    assert [child.tag for child in root] == ["Say", "Hangup"] and "sip:" not in replay.text
    assert (await handle.describe()).run_id == run_id, "no second run"
    assert len(stack.standin.calls("CreateRoom")) == rooms, "no room held for a replay"

    # Without the store's record (lost, or erased), the workflow id's reuse policy still refuses a second run.
    async with stack.sessions() as session:
        await session.execute(delete(InboundCallRow).where(InboundCallRow.call_sid == sid))
        await session.commit()
    again = await stack.post(INCOMING, form)
    assert "sip:" not in again.text and "Hangup" in again.text
    assert (await handle.describe()).run_id == run_id


@pytest.mark.parametrize("status_value", ["exploded", "COMPLETED", "x" * 30])
async def test_a_status_twilio_never_sends_is_refused(stack: Stack, status_value: str) -> None:
    refused = await stack.post(STATUS, {"CallSid": new_sid(), "CallStatus": status_value, "CallDuration": "3"})
    assert refused.status_code == 400 and "not a call status" in refused.text


async def test_a_call_whose_end_twilio_never_reports_ends_as_timed_out_after_the_longest_call(
    time_env, run_worker, sim, session_factory
) -> None:
    """No status callback, no <Dial> action: after MAX_INBOUND_CALL_LENGTH the workflow records the end itself."""
    sid = new_sid()
    async with run_worker(sim) as task_queue:
        handle = await time_env.client.start_workflow(
            InboundCallWorkflow.run,
            InboundCallInput(
                call_sid=sid,
                from_number=CALLER,
                to_number=OUR_NUMBER,
                agent=AgentConfig(name="front-desk", instructions="Help callers."),
            ),
            id=inbound_workflow_id(sid),
            task_queue=task_queue,
        )
        await time_env.sleep(MAX_INBOUND_CALL_LENGTH + timedelta(minutes=1))
        state = await handle.result()
    assert state.status == NO_END_REPORTED
