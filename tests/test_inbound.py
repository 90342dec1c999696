"""Inbound calls end to end: signed Twilio webhooks → InboundCallWorkflow → LiveKit room with the agent.

The FastAPI app runs in process (httpx ASGITransport) against the dev server (update-with-start) and
the LiveKit stand-in; requests are signed as Twilio signs them (RequestValidator.compute_signature
over the public URL and the form fields).
"""

import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from livekit_standin import API_KEY, API_SECRET, LiveKitStandIn
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from twilio.request_validator import RequestValidator

from api.main import create_app
from schemas.agent import AgentConfig, CallJob
from schemas.inbound import INBOUND_CAMPAIGN_ID, InboundCallState, inbound_workflow_id
from schemas.settings import Settings
from schemas.workflow_io import ContactPhase, ContactState, contact_workflow_id
from simulator.carrier import SimCarrier
from store import numbers, queries
from voice_worker.bridge import BridgeError
from voice_worker.temporal_bridge import TemporalCallBridge
from worker.main import build_worker

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://ringflow.example.com"
SIP_HOST = "standin.sip.livekit.test"
SIP_USER, SIP_PASSWORD = "twilio-inbound", "trunk-secret"
OUR_NUMBER = "+14155550100"
CALLER = "+14155550123"
INCOMING = "/twilio/voice/incoming"
STATUS = "/twilio/voice/status"


def sign(path: str, form: dict[str, str], url: str | None = None) -> str:
    return RequestValidator(TOKEN).compute_signature(url or PUBLIC + path, form)


class Stack:
    def __init__(self, client: Any, http: httpx.AsyncClient, standin: LiveKitStandIn, sessions: Any) -> None:
        self.client = client
        self.http = http
        self.standin = standin
        self.sessions = sessions

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
async def stack(dev_env, session_factory, db_url) -> AsyncIterator[Stack]:
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
            twilio_account_sid="AC123",
            twilio_auth_token=TOKEN,
            public_base_url=PUBLIC,
        )
        async with session_factory() as session:
            await queries.save_agent(
                session, AgentConfig(name="front-desk", instructions="Help callers.", transfer_number="+14155550199")
            )
            await queries.save_agent(session, AgentConfig(name="retired", instructions="Gone.", active=False))
            await numbers.upsert_number(session, OUR_NUMBER, "PN1", "Front desk")
            await numbers.upsert_number(session, "+14155550101", "PN2", "Old line")
            await numbers.assign_agent(session, OUR_NUMBER, "front-desk")
            await numbers.assign_agent(session, "+14155550101", "retired")
            await session.commit()
        app = create_app(settings, dev_env.client, session_factory)
        worker = build_worker(dev_env.client, settings, sessions=session_factory, carrier=SimCarrier(time_scale=0.0))
        async with worker, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as http:
            yield Stack(dev_env.client, http, standin, session_factory)


def sip_of(twiml: str) -> str:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    dial = root.find("Dial")
    assert dial is not None
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


@pytest.mark.parametrize("number", ["+14155550177", "+14155550101"], ids=["unknown", "inactive_agent"])
async def test_a_number_without_an_active_agent_hangs_up_politely(stack: Stack, number: str) -> None:
    sid = new_sid()
    response = await stack.post(INCOMING, call_form(sid, to=number))
    assert response.status_code == 200
    root = ET.fromstring(response.text)
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert not await stack.exists(inbound_workflow_id(sid))
    assert not stack.standin.calls("CreateRoom")


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


async def test_a_callback_asked_on_an_inbound_call_becomes_a_contact_workflow(stack: Stack) -> None:
    sid = new_sid()
    response = await stack.post(INCOMING, call_form(sid))
    assert response.status_code == 200
    bridge = TemporalCallBridge(stack.client, inbound_workflow_id(sid), 1)
    info = await stack.client.get_workflow_handle(inbound_workflow_id(sid)).describe()
    at = (info.start_time + timedelta(days=2)).replace(microsecond=0)
    with pytest.raises(BridgeError):
        await bridge.schedule_callback(info.start_time + timedelta(days=20), "too far")
    with pytest.raises(BridgeError):
        await bridge.schedule_callback(info.start_time - timedelta(hours=1), "past")
    confirmation = await bridge.schedule_callback(at, "after lunch on Monday")
    assert confirmation.scheduled_for == at

    contact_handle = stack.client.get_workflow_handle(contact_workflow_id(INBOUND_CAMPAIGN_ID, sid))
    try:
        state = await contact_handle.query("state", result_type=ContactState)
        # ContactWorkflow leaves a contact booked before its first dial in phase "starting".
        assert state.phase in (ContactPhase.STARTING, ContactPhase.WAITING_CALLBACK)
        assert state.callback is not None and state.callback.at == at
        assert state.next_dial_at == at and not state.attempts
        async with stack.sessions() as session:
            callbacks = await queries.callbacks_for(session, INBOUND_CAMPAIGN_ID, sid)
        assert [c.scheduled_for for c in callbacks] == [at]
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
