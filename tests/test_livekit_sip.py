"""The LiveKit SIP carrier, through the real livekit-api client, against a local Twirp stand-in."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from livekit import api
from livekit_standin import (
    API_KEY,
    API_SECRET,
    Answer,
    LiveKitStandIn,
    ServerFailure,
    SipReject,
    decoded,
)
from workflow_helpers import AGENT, contact, new_campaign_id, seed, settings, start_contact

from schemas.agent import AgentConfig, CallJob
from schemas.calls import DialRequest
from schemas.contact import Contact
from schemas.outcomes import CallOutcome, FinalOutcome
from schemas.settings import Settings
from simulator.conversation import run_text_call
from store import queries
from telephony import CALL_LOST_DETAIL
from telephony.livekit_sip import LiveKitSipCarrier, callee_identity, room_name_for, transfer_uri
from voice_worker.temporal_bridge import TemporalCallBridge
from worker.carriers import make_carrier

TRUNK = "ST_outbound_twilio"
PHONE = "+14155550123"


def settings_for(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "carrier": "livekit_sip",
        "livekit_url": url,
        "livekit_api_key": API_KEY,
        "livekit_api_secret": API_SECRET,
        "livekit_sip_outbound_trunk_id": TRUNK,
        "agent_name": "ringflow-test-agent",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def dial_request(attempt: int = 1, ring_timeout: float = 20, **overrides: Any) -> DialRequest:
    values: dict[str, Any] = {
        "idempotency_key": f"contact-wf-1:{attempt}",
        "campaign_id": "camp-1",
        "contact": Contact(external_id="c1", name="Dana", phone=PHONE),
        "attempt": attempt,
        "calls_per_second": 1.0,
        "ring_timeout": timedelta(seconds=ring_timeout),
        "workflow_id": "contact-wf-1",
        "agent": AgentConfig(name="sam", instructions="Help the caller.", transfer_number="+14155550999"),
        "context": {"debt": 120},
    }
    values.update(overrides)
    return DialRequest(**values)


@pytest_asyncio.fixture
async def standin() -> AsyncIterator[LiveKitStandIn]:
    async with LiveKitStandIn() as server:
        yield server


@pytest_asyncio.fixture
async def carrier(standin: LiveKitStandIn) -> AsyncIterator[LiveKitSipCarrier]:
    sip = LiveKitSipCarrier(settings_for(standin.url), poll_interval=0.05)
    yield sip
    await sip.aclose()


async def test_answered_call_creates_room_dispatch_and_sip_participant_and_waits_for_the_end(
    standin: LiveKitStandIn, carrier: LiveKitSipCarrier
) -> None:
    standin.default_sip = Answer(ring=0.1, talk=0.4)
    request = dial_request()
    room = room_name_for(request.idempotency_key)

    result = await carrier.dial(request)

    assert result.outcome == CallOutcome.COMPLETED
    assert result.answered
    assert 0.3 <= result.duration_seconds < 2
    assert result.carrier == "livekit_sip"
    assert result.carrier_call_id.startswith("SCL_")
    assert "hung up" in result.detail

    methods = [r.method for r in standin.requests]
    assert methods[:3] == ["CreateRoom", "CreateDispatch", "CreateSIPParticipant"]
    assert "ListParticipants" in methods
    assert methods[-1] == "DeleteRoom"
    assert all(r.authorization.startswith("Bearer ") and r.claims is not None for r in standin.requests)

    expected_job = CallJob(
        workflow_id="contact-wf-1",
        campaign_id="camp-1",
        attempt=1,
        contact=request.contact,
        agent=request.agent,  # type: ignore[arg-type]
        context={"debt": 120},
    )
    create_room = standin.calls("CreateRoom")[0].message
    assert create_room.name == room
    assert create_room.empty_timeout == 300
    assert CallJob.model_validate_json(create_room.metadata) == expected_job

    dispatch = standin.calls("CreateDispatch")[0].message
    assert dispatch.agent_name == "ringflow-test-agent"
    assert dispatch.room == room
    assert CallJob.model_validate_json(dispatch.metadata) == expected_job

    sip_call = standin.calls("CreateSIPParticipant")[0]
    assert decoded(sip_call.message) | {"max_call_duration": None} == {
        "sip_trunk_id": TRUNK,
        "sip_call_to": PHONE,
        "room_name": room,
        "participant_identity": "callee-1",
        "participant_name": "Dana",
        "wait_until_answered": True,
        "ringing_timeout": "20s",
        "max_call_duration": None,
    }
    assert sip_call.message.play_dialtone is False
    assert sip_call.claims is not None and sip_call.claims.sip is not None and sip_call.claims.sip.call

    assert room not in standin.rooms  # closed once the callee left


async def test_an_extension_is_sent_as_dtmf_once_the_callee_answers(
    standin: LiveKitStandIn, carrier: LiveKitSipCarrier
) -> None:
    """LiveKit sends CreateSIPParticipant's ``dtmf`` after the callee picks up: the extension, never dropped."""
    standin.default_sip = Answer(ring=0.05, talk=0.1)
    request = dial_request(contact=Contact(external_id="c1", name="Dana", phone=PHONE, extension="12"))

    result = await carrier.dial(request)

    assert result.outcome == CallOutcome.COMPLETED and result.answered
    [sip_call] = standin.calls("CreateSIPParticipant")
    assert (sip_call.message.sip_call_to, sip_call.message.dtmf) == (PHONE, "12")
    assert sip_call.message.wait_until_answered


async def test_a_caller_id_from_a_pool_is_the_sip_number_shown(
    standin: LiveKitStandIn, carrier: LiveKitSipCarrier
) -> None:
    standin.default_sip = Answer(ring=0.05, talk=0.1)
    await carrier.dial(dial_request(caller_id="+14155550142"))
    await carrier.dial(dial_request(attempt=2))
    shown = [call.message.sip_number for call in standin.calls("CreateSIPParticipant")]
    assert shown == ["+14155550142", ""]  # without one, the outbound trunk's own number


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (486, CallOutcome.BUSY),
        (600, CallOutcome.BUSY),
        (480, CallOutcome.NO_ANSWER),
        (408, CallOutcome.NO_ANSWER),
        (487, CallOutcome.NO_ANSWER),
        (404, CallOutcome.INVALID_NUMBER),
        (484, CallOutcome.INVALID_NUMBER),
        (604, CallOutcome.INVALID_NUMBER),
        (603, CallOutcome.BUSY),
        (503, CallOutcome.FAILED),
        (403, CallOutcome.FAILED),
    ],
)
async def test_sip_status_maps_to_outcome(
    standin: LiveKitStandIn, carrier: LiveKitSipCarrier, code: int, outcome: CallOutcome
) -> None:
    standin.sip_script[PHONE] = SipReject(code)
    request = dial_request()

    result = await carrier.dial(request)

    assert result.outcome == outcome
    assert not result.answered
    assert f"SIP {code}" in result.detail
    assert len(standin.calls("CreateSIPParticipant")) == 1
    assert room_name_for(request.idempotency_key) not in standin.rooms


async def test_the_stand_in_error_is_the_clients_sip_call_error(standin: LiveKitStandIn) -> None:
    """The error shape the stand-in sends makes livekit-api raise SipCallError with the status."""
    standin.default_sip = SipReject(486)
    async with api.LiveKitAPI(standin.url, API_KEY, API_SECRET) as lk:
        with pytest.raises(api.SipCallError) as raised:
            await lk.sip.create_sip_participant(
                api.CreateSIPParticipantRequest(sip_trunk_id=TRUNK, sip_call_to=PHONE, room_name="r")
            )
    assert raised.value.sip_status_code == 486
    assert raised.value.sip_status == "Busy Here"
    assert raised.value.code == "resource_exhausted"
    assert raised.value.status == 429


async def test_ring_timeout_is_no_answer(standin: LiveKitStandIn, carrier: LiveKitSipCarrier) -> None:
    standin.default_sip = Answer(ring=5)
    result = await carrier.dial(dial_request(ring_timeout=1))
    assert result.outcome == CallOutcome.NO_ANSWER
    assert standin.calls("CreateSIPParticipant")[0].message.ringing_timeout.seconds == 1


@pytest.mark.parametrize("method", ["CreateRoom", "CreateDispatch"])
async def test_server_error_before_the_sip_request_raises_for_a_retry(
    standin: LiveKitStandIn, carrier: LiveKitSipCarrier, method: str
) -> None:
    standin.fail_next(method)
    with pytest.raises(api.TwirpError) as raised:
        await carrier.dial(dial_request())
    assert raised.value.status == 503
    assert standin.calls("CreateSIPParticipant") == []


async def test_server_error_on_the_sip_request_is_failed_and_never_resent(
    standin: LiveKitStandIn, carrier: LiveKitSipCarrier
) -> None:
    standin.default_sip = ServerFailure("unavailable", "sip service overloaded")
    request = dial_request()

    result = await carrier.dial(request)

    assert result.outcome == CallOutcome.FAILED
    assert "sip service overloaded" in result.detail
    assert len(standin.calls("CreateSIPParticipant")) == 1
    assert room_name_for(request.idempotency_key) not in standin.rooms


def test_sip_requests_never_fail_over_to_another_region(standin: LiveKitStandIn) -> None:
    """livekit-api replays 5xx requests against other Cloud regions; a replayed dial rings twice."""

    async def clients() -> tuple[api.LiveKitAPI, api.LiveKitAPI]:
        return carrier._clients()

    carrier = LiveKitSipCarrier(settings_for("https://example.livekit.cloud"))
    loop = asyncio.new_event_loop()
    try:
        rooms, sip = loop.run_until_complete(clients())
        assert sip.sip._client._failover is False
        assert rooms.room._client._failover is True
        loop.run_until_complete(carrier.aclose())
    finally:
        loop.close()


async def test_call_without_an_agent_is_not_dialled(standin: LiveKitStandIn, carrier: LiveKitSipCarrier) -> None:
    result = await carrier.dial(dial_request(agent=None))
    assert result.outcome == CallOutcome.FAILED
    assert standin.requests == []


async def test_recover_watches_a_live_callee_without_dialling(
    standin: LiveKitStandIn, carrier: LiveKitSipCarrier
) -> None:
    request = dial_request(attempt=2)
    room = room_name_for(request.idempotency_key)
    standin.add_participant(room, callee_identity(2), hang_up_after=0.3, joined_seconds_ago=5)

    started = time.monotonic()
    result = await carrier.recover(request)

    assert time.monotonic() - started >= 0.25  # waited for the hang-up
    assert result.outcome == CallOutcome.COMPLETED
    assert result.answered
    assert 5 <= result.duration_seconds < 8
    assert result.carrier_call_id.startswith("SCL_")
    assert {r.method for r in standin.requests} <= {"ListParticipants", "DeleteRoom"}
    assert room not in standin.rooms


async def test_recover_sees_a_callee_still_ringing_as_no_answer_when_it_goes(
    standin: LiveKitStandIn, carrier: LiveKitSipCarrier
) -> None:
    request = dial_request()
    standin.add_participant(
        room_name_for(request.idempotency_key), "callee-1", call_status="ringing", hang_up_after=0.2
    )
    result = await carrier.recover(request)
    assert result.outcome == CallOutcome.NO_ANSWER
    assert standin.calls("CreateSIPParticipant") == []


async def test_recover_without_a_room_is_lost(standin: LiveKitStandIn, carrier: LiveKitSipCarrier) -> None:
    result = await carrier.recover(dial_request())
    assert result.outcome == CallOutcome.FAILED
    assert result.detail == CALL_LOST_DETAIL
    assert [r.method for r in standin.requests] == ["ListParticipants", "DeleteRoom"]


async def test_recover_with_the_callee_gone_is_lost(standin: LiveKitStandIn, carrier: LiveKitSipCarrier) -> None:
    request = dial_request()
    room = room_name_for(request.idempotency_key)
    standin.add_room(room)
    standin.add_participant(room, "agent-1", kind=api.ParticipantInfo.Kind.AGENT)
    result = await carrier.recover(request)
    assert result.outcome == CallOutcome.FAILED
    assert result.detail == CALL_LOST_DETAIL
    assert standin.calls("CreateSIPParticipant") == []
    assert room not in standin.rooms


async def test_a_callee_left_in_the_room_with_status_hangup_has_hung_up(
    standin: LiveKitStandIn, carrier: LiveKitSipCarrier
) -> None:
    standin.default_sip = Answer(talk=None)
    request = dial_request()
    room = room_name_for(request.idempotency_key)
    task = asyncio.create_task(carrier.dial(request))
    await asyncio.wait_for(standin.wait_for("ListParticipants"), 5)
    standin.rooms[room].participants["callee-1"].attributes["sip.callStatus"] = "hangup"
    result = await asyncio.wait_for(task, 5)
    assert result.outcome == CallOutcome.COMPLETED
    assert room not in standin.rooms


async def test_cancelled_dial_hangs_up(standin: LiveKitStandIn, carrier: LiveKitSipCarrier) -> None:
    standin.default_sip = Answer(talk=None)
    request = dial_request()
    room = room_name_for(request.idempotency_key)
    task = asyncio.create_task(carrier.dial(request))
    await asyncio.wait_for(standin.wait_for("ListParticipants"), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert room not in standin.rooms
    assert standin.requests[-1].method == "DeleteRoom"


async def test_transfer_call_sends_a_tel_uri(standin: LiveKitStandIn, carrier: LiveKitSipCarrier) -> None:
    standin.add_participant("call-room", "callee-1")
    response = await carrier.transfer_call("call-room", "callee-1", "+14155550999")
    (transfer,) = standin.calls("TransferSIPParticipant")
    assert transfer.message.room_name == "call-room"
    assert transfer.message.participant_identity == "callee-1"
    assert transfer.message.transfer_to == "tel:+14155550999"
    assert response.status == api.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL


def test_transfer_uri() -> None:
    assert transfer_uri(" +14155550999 ") == "tel:+14155550999"
    assert transfer_uri("tel:+14155550999") == "tel:+14155550999"
    assert transfer_uri("sip:desk@example.com") == "sip:desk@example.com"
    with pytest.raises(ValueError):
        transfer_uri("")


def test_room_names_are_deterministic_and_safe() -> None:
    name = room_name_for("contact-wf/ü 1:3")
    assert name == room_name_for("contact-wf/ü 1:3")
    assert name != room_name_for("contact-wf/ü 1:4")
    assert name.startswith("call-") and len(name) == 29 and name[5:].isalnum()


def test_make_carrier_livekit_sip() -> None:
    carrier = make_carrier(settings_for("https://example.livekit.cloud"))
    assert isinstance(carrier, LiveKitSipCarrier)
    assert carrier.name == "livekit_sip"
    with pytest.raises(ValueError, match="RINGFLOW_LIVEKIT_SIP_OUTBOUND_TRUNK_ID"):
        make_carrier(settings_for("https://example.livekit.cloud", livekit_sip_outbound_trunk_id=None))
    with pytest.raises(ValueError, match="RINGFLOW_LIVEKIT_URL, RINGFLOW_LIVEKIT_API_KEY"):
        make_carrier(settings_for("", livekit_api_key=None))


# ---- one path for sim and live: the agent's disposition decides ----------------------------------


async def test_a_call_through_livekit_sip_ends_qualified_by_the_agents_disposition_like_the_sim(
    standin: LiveKitStandIn, time_env, run_worker, agent_sim, session_factory
) -> None:
    """The LiveKit carrier reports an answered call as ``completed``; the agent, reaching the contact
    workflow over the real TemporalCallBridge, records ``qualified``; the workflow decides ``qualified``.
    The same persona through the sim carrier comes to the same outcome and disposition."""
    standin.default_sip = Answer(ring=0.05, talk=None)  # the callee stays until the agent hangs up
    agents: list[asyncio.Task[None]] = []

    async def agent_takes_the_call(metadata: str, room: str) -> None:
        job = CallJob.model_validate_json(metadata)
        callee = callee_identity(job.attempt)
        # The agent talks once the callee picked up (the stand-in has no event for it).
        while callee not in standin.rooms[room].participants:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        bridge = TemporalCallBridge(time_env.client, job.workflow_id, job.attempt)
        await run_text_call(job, "qualifies", bridge)
        standin.hang_up(room, callee)  # end_call deletes the room: the callee's leg is gone

    standin.on_dispatch = lambda req: agents.append(asyncio.create_task(agent_takes_the_call(req.metadata, req.room)))
    live = LiveKitSipCarrier(settings_for(standin.url), poll_interval=0.05)
    campaign = settings()
    results = {}
    try:
        for name, carrier in (("livekit_sip", live), ("sim", agent_sim)):
            campaign_id = new_campaign_id()
            person = contact(1, "qualifies", phone=PHONE)
            await seed(session_factory, campaign_id, [person], campaign)
            async with run_worker(carrier) as tq:
                handle = await start_contact(time_env.client, tq, campaign_id, person, campaign, AGENT)
                state = await handle.result()
            async with session_factory() as session:
                [attempt] = await queries.attempts_for(session, campaign_id, person.external_id)
            results[name] = (state, attempt)
    finally:
        await live.aclose()
    await asyncio.gather(*agents)

    for name, (state, attempt) in results.items():
        assert state.final_outcome == FinalOutcome.QUALIFIED, name
        assert state.attempts[0].disposition == "qualified", name
        assert (attempt.network_outcome, attempt.call_outcome, attempt.disposition) == (
            "completed",
            "qualified",
            "qualified",
        ), name
        assert attempt.carrier == name
    live_attempt = results["livekit_sip"][1]
    assert (live_attempt.network_status, live_attempt.status_code, live_attempt.answered_by) == (
        "completed",
        200,
        "unknown",
    )
    assert len(standin.calls("CreateSIPParticipant")) == 1
