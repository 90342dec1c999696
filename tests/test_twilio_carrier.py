"""The Twilio carrier, through the real twilio and livekit-api clients, against both local stand-ins."""

import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from livekit import api
from livekit_standin import API_KEY, API_SECRET, LiveKitStandIn
from twilio_standin import TwilioStandIn

from schemas.agent import AgentConfig, CallJob
from schemas.calls import DialRequest
from schemas.contact import Contact
from schemas.outcomes import CallOutcome
from schemas.settings import Settings
from telephony import CALL_LOST_DETAIL
from telephony.livekit_sip import room_name_for
from telephony.twilio_carrier import TwilioCarrier
from telephony.twilio_voice import TwilioVoice, livekit_sip_uri
from worker.carriers import make_carrier

PHONE = "+14155550123"
FROM = "+14155550100"
BASE_URL = "https://ringflow.example.com"
SIP_HOST = "abc123.sip.livekit.cloud"
BRIDGED = "sip_+14155550100"  # the identity LiveKit gives Twilio's inbound SIP leg


def settings_for(livekit_url: str = "https://example.livekit.cloud", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "carrier": "twilio",
        "livekit_url": livekit_url,
        "livekit_api_key": API_KEY,
        "livekit_api_secret": API_SECRET,
        "livekit_sip_uri_host": SIP_HOST,
        "agent_name": "ringflow-test-agent",
        "twilio_account_sid": "AC" + "0" * 32,
        "twilio_auth_token": "token",
        "twilio_from_number": FROM,
        "public_base_url": BASE_URL + "/",
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
        "agent": AgentConfig(name="sam", instructions="Help the caller."),
        "context": {"debt": 120},
    }
    values.update(overrides)
    return DialRequest(**values)


@pytest.fixture
def twilio() -> Iterator[TwilioStandIn]:
    with TwilioStandIn() as server:
        yield server


@pytest_asyncio.fixture
async def livekit() -> AsyncIterator[LiveKitStandIn]:
    async with LiveKitStandIn() as server:
        yield server


@pytest_asyncio.fixture
async def carrier(twilio: TwilioStandIn, livekit: LiveKitStandIn) -> AsyncIterator[TwilioCarrier]:
    voice = TwilioVoice(twilio.account_sid, twilio.auth_token, api_base_url=twilio.base_url)
    twilio_carrier = TwilioCarrier(
        settings_for(livekit.url), voice=voice, poll_interval=0.05, answer_grace=timedelta(seconds=0.2)
    )
    yield twilio_carrier
    await twilio_carrier.aclose()


async def created_call(twilio: TwilioStandIn) -> str:
    """The CallSid of the call the carrier created, once it has."""
    deadline = time.monotonic() + 5
    while not twilio.calls:
        assert time.monotonic() < deadline, "no call was created"
        await asyncio.sleep(0.01)
    [sid] = twilio.calls
    return sid


def creates(twilio: TwilioStandIn) -> list[Any]:
    return twilio.requests_to("POST", "/Calls.json")


def fetches(twilio: TwilioStandIn) -> list[Any]:
    return twilio.requests_to("GET", "/Calls/")


async def test_answered_call_bridges_into_the_agents_room_and_reports_twilios_end(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    request = dial_request()
    room = room_name_for(request.idempotency_key)
    task = asyncio.create_task(carrier.dial(request))
    sid = await created_call(twilio)

    # The room and the agent's dispatch exist before Twilio is asked to dial.
    assert [r.method for r in livekit.requests][:2] == ["CreateRoom", "CreateDispatch"]
    expected_job = CallJob(
        workflow_id="contact-wf-1",
        campaign_id="camp-1",
        attempt=1,
        contact=request.contact,
        agent=request.agent,  # type: ignore[arg-type]
        context={"debt": 120},
    )
    create_room = livekit.calls("CreateRoom")[0].message
    assert create_room.name == room
    assert CallJob.model_validate_json(create_room.metadata) == expected_job
    dispatch = livekit.calls("CreateDispatch")[0].message
    assert (dispatch.agent_name, dispatch.room) == ("ringflow-test-agent", room)
    assert CallJob.model_validate_json(dispatch.metadata) == expected_job

    [create] = creates(twilio)
    assert create.one("To") == PHONE
    assert create.one("From") == FROM
    assert create.one("StatusCallback") == f"{BASE_URL}/twilio/voice/status"
    assert create.one("MachineDetection") == "DetectMessageEnd"
    assert create.one("Timeout") == "20"
    assert create.one("SendDigits") is None  # no extension, no digits
    twiml = ET.fromstring(create.one("Twiml") or "")
    assert twiml.tag == "Response"
    assert twiml.findtext("Dial/Sip") == livekit_sip_uri(room, SIP_HOST) == f"sip:{room}@{SIP_HOST}"

    # The callee answers: Twilio's SIP leg lands in the room; the call goes on until Twilio says it ended.
    livekit.add_participant(room, BRIDGED)
    twilio.set_call(sid, status="in-progress", answered_by="human")
    await asyncio.sleep(0.2)
    assert not task.done()
    assert room in livekit.rooms
    twilio.set_call(sid, status="completed", duration="42")
    livekit.hang_up(room, BRIDGED)

    result = await asyncio.wait_for(task, 5)
    assert result.outcome == CallOutcome.COMPLETED
    assert result.answered
    assert result.duration_seconds == 42
    assert result.carrier == "twilio"
    assert result.carrier_call_id == sid
    assert room not in livekit.rooms
    assert livekit.requests[-1].method == "DeleteRoom"
    assert len(creates(twilio)) == 1


async def test_an_extension_is_sent_as_digits_once_twilio_connects_the_call(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    """Twilio's SendDigits plays the extension as DTMF after the call connects: the main line is only the way in."""
    request = dial_request(contact=Contact(external_id="c1", name="Dana", phone=f"{PHONE} ext. 12"))
    task = asyncio.create_task(carrier.dial(request))
    sid = await created_call(twilio)
    [create] = creates(twilio)
    assert (create.one("To"), create.one("SendDigits")) == (PHONE, "12")
    twilio.set_call(sid, status="completed", answered_by="human", duration="5")
    result = await asyncio.wait_for(task, 5)
    assert result.outcome == CallOutcome.COMPLETED and result.answered


async def test_a_caller_id_from_a_pool_is_the_calls_from_number(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    task = asyncio.create_task(carrier.dial(dial_request(caller_id="+14155550142")))
    sid = await created_call(twilio)
    [create] = creates(twilio)
    assert create.one("From") == "+14155550142"
    twilio.set_call(sid, status="completed", answered_by="human", duration="5")
    assert (await asyncio.wait_for(task, 5)).answered


@pytest.mark.parametrize(
    ("status", "answered_by", "outcome", "answered"),
    [
        ("completed", "machine_end_beep", CallOutcome.VOICEMAIL, True),
        ("busy", None, CallOutcome.BUSY, False),
        ("no-answer", None, CallOutcome.NO_ANSWER, False),
        ("failed", None, CallOutcome.FAILED, False),
    ],
)
async def test_final_status_maps_to_outcome(
    twilio: TwilioStandIn,
    livekit: LiveKitStandIn,
    carrier: TwilioCarrier,
    status: str,
    answered_by: str | None,
    outcome: CallOutcome,
    answered: bool,
) -> None:
    request = dial_request()
    task = asyncio.create_task(carrier.dial(request))
    sid = await created_call(twilio)
    twilio.set_call(sid, status=status, answered_by=answered_by, duration="7" if answered else "0")

    result = await asyncio.wait_for(task, 5)
    assert result.outcome == outcome
    assert result.answered is answered
    assert result.carrier_call_id == sid
    assert room_name_for(request.idempotency_key) not in livekit.rooms
    assert len(creates(twilio)) == 1


@pytest.mark.parametrize(
    ("stage", "sent", "ends_as"), [("ringing", "canceled", "canceled"), ("in-progress", "completed", "completed")]
)
async def test_a_cancelled_dial_ends_the_call_at_twilio_and_closes_the_room(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier, stage: str, sent: str, ends_as: str
) -> None:
    request = dial_request()
    task = asyncio.create_task(carrier.dial(request))
    sid = await created_call(twilio)
    twilio.set_call(sid, status=stage)
    await asyncio.sleep(0.15)  # a few polls: the call is being followed
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [update] = twilio.requests_to("POST", f"/Calls/{sid}.json")
    assert update.one("Status") == sent
    assert twilio.calls[sid]["status"] == ends_as
    assert room_name_for(request.idempotency_key) not in livekit.rooms


async def test_invalid_number_is_reported_without_polling(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    twilio.fail_next(400, 21211, "The 'To' number is not a valid phone number.", method="POST")
    request = dial_request()
    result = await carrier.dial(request)
    assert result.outcome == CallOutcome.INVALID_NUMBER
    assert "21211" in result.detail
    assert len(creates(twilio)) == 1
    assert fetches(twilio) == []
    assert room_name_for(request.idempotency_key) not in livekit.rooms


async def test_other_refusal_is_failed_at_once(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    twilio.fail_next(400, 21219, "The 'From' number is not verified.", method="POST")
    request = dial_request()
    result = await carrier.dial(request)
    assert result.outcome == CallOutcome.FAILED
    assert "21219" in result.detail or "not verified" in result.detail
    assert len(creates(twilio)) == 1
    assert fetches(twilio) == []
    assert room_name_for(request.idempotency_key) not in livekit.rooms


async def test_server_error_on_create_is_failed_and_never_recreated(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    twilio.fail_next(500, 20500, "Internal Server Error", method="POST")
    request = dial_request(ring_timeout=1)
    result = await asyncio.wait_for(carrier.dial(request), 5)
    assert result.outcome == CallOutcome.FAILED
    assert "500" in result.detail and "not re-created" in result.detail
    assert len(creates(twilio)) == 1
    assert room_name_for(request.idempotency_key) not in livekit.rooms


async def test_server_error_on_create_but_the_call_bridges_anyway_is_followed(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    twilio.fail_next(503, None, "Service Unavailable", method="POST")
    request = dial_request(ring_timeout=1)
    room = room_name_for(request.idempotency_key)
    task = asyncio.create_task(carrier.dial(request))
    await livekit.wait_for("CreateDispatch")
    deadline = time.monotonic() + 5
    while not creates(twilio):
        assert time.monotonic() < deadline, "no create request"
        await asyncio.sleep(0.01)
    livekit.add_participant(room, BRIDGED, hang_up_after=0.3)

    result = await asyncio.wait_for(task, 5)
    assert result.outcome == CallOutcome.COMPLETED
    assert result.answered
    assert result.carrier_call_id.startswith("SCL_")
    assert len(creates(twilio)) == 1
    assert room not in livekit.rooms


async def test_livekit_error_before_the_call_raises_for_a_retry(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    livekit.fail_next("CreateDispatch")
    with pytest.raises(api.TwirpError):
        await carrier.dial(dial_request())
    assert creates(twilio) == []


async def test_call_without_an_agent_is_not_dialled(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    result = await carrier.dial(dial_request(agent=None))
    assert result.outcome == CallOutcome.FAILED
    assert livekit.requests == [] and twilio.requests == []


async def test_recover_waits_for_a_live_call_in_the_room(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    request = dial_request(attempt=2)
    room = room_name_for(request.idempotency_key)
    livekit.add_participant(room, "agent-1", kind=api.ParticipantInfo.Kind.AGENT, joined_seconds_ago=6)
    livekit.add_participant(room, BRIDGED, hang_up_after=0.3, joined_seconds_ago=5)

    started = time.monotonic()
    result = await asyncio.wait_for(carrier.recover(request), 5)

    assert time.monotonic() - started >= 0.25  # waited for the hang-up
    assert result.outcome == CallOutcome.COMPLETED
    assert result.answered
    assert 5 <= result.duration_seconds < 8
    assert result.carrier == "twilio"
    assert twilio.requests == []
    assert {r.method for r in livekit.requests} <= {"ListParticipants", "DeleteRoom"}
    assert room not in livekit.rooms


async def test_dial_reports_the_callsid_as_soon_as_twilio_has_the_call(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    reported: list[str] = []

    async def placed(call_id: str) -> None:
        reported.append(call_id)

    task = asyncio.create_task(carrier.dial(dial_request(), placed))
    sid = await created_call(twilio)
    await asyncio.sleep(0.1)
    assert reported == [sid], "reported while the call is still on"
    twilio.set_call(sid, status="no-answer")
    assert (await asyncio.wait_for(task, 5)).carrier_call_id == sid


async def test_recover_by_callsid_follows_the_call_at_twilio_for_its_exact_outcome(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    request = dial_request(attempt=2)
    room = room_name_for(request.idempotency_key)
    sid = await carrier.voice.create_call(
        to=PHONE, from_=FROM, twiml="<Response/>", status_callback=f"{BASE_URL}/status", timeout_seconds=20
    )
    twilio.set_call(sid, status="in-progress", answered_by="human")

    task = asyncio.create_task(carrier.recover(request, sid))
    await asyncio.sleep(0.15)
    assert not task.done(), "it follows the call until Twilio says it ended"
    twilio.set_call(sid, status="completed", duration="31")
    result = await asyncio.wait_for(task, 5)

    assert (result.outcome, result.answered, result.duration_seconds) == (CallOutcome.COMPLETED, True, 31)
    assert result.carrier_call_id == sid
    assert len(creates(twilio)) == 1, "never dialled again"
    assert "ListParticipants" not in {r.method for r in livekit.requests}
    assert room not in livekit.rooms


async def test_recover_without_a_room_is_lost(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    result = await carrier.recover(dial_request())
    assert result.outcome == CallOutcome.FAILED
    assert result.detail == CALL_LOST_DETAIL
    assert twilio.requests == []
    assert [r.method for r in livekit.requests] == ["ListParticipants"]


async def test_recover_with_only_the_agent_long_after_the_ring_is_lost(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    request = dial_request(ring_timeout=20)
    room = room_name_for(request.idempotency_key)
    livekit.add_participant(room, "agent-1", kind=api.ParticipantInfo.Kind.AGENT, joined_seconds_ago=120)
    started = time.monotonic()
    result = await carrier.recover(request)
    assert time.monotonic() - started < 1
    assert result.outcome == CallOutcome.FAILED
    assert result.detail == CALL_LOST_DETAIL
    assert twilio.requests == []
    assert room not in livekit.rooms


async def test_recover_waits_for_a_call_that_may_still_be_ringing(
    twilio: TwilioStandIn, livekit: LiveKitStandIn, carrier: TwilioCarrier
) -> None:
    request = dial_request(ring_timeout=1)
    room = room_name_for(request.idempotency_key)
    livekit.add_participant(room, "agent-1", kind=api.ParticipantInfo.Kind.AGENT)
    task = asyncio.create_task(carrier.recover(request))
    await asyncio.sleep(0.3)
    assert not task.done()
    livekit.add_participant(room, BRIDGED, hang_up_after=0.2)

    result = await asyncio.wait_for(task, 5)
    assert result.outcome == CallOutcome.COMPLETED
    assert twilio.requests == []
    assert room not in livekit.rooms


def test_make_carrier_twilio() -> None:
    carrier = make_carrier(settings_for())
    assert isinstance(carrier, TwilioCarrier)
    assert carrier.name == "twilio"
    assert carrier.status_callback == f"{BASE_URL}/twilio/voice/status"


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        ({"twilio_from_number": None}, ["RINGFLOW_TWILIO_FROM_NUMBER"]),
        (
            {"public_base_url": None, "livekit_sip_uri_host": None},
            ["RINGFLOW_PUBLIC_BASE_URL", "RINGFLOW_LIVEKIT_SIP_URI_HOST"],
        ),
        ({"twilio_auth_token": None}, ["RINGFLOW_TWILIO_AUTH_TOKEN"]),
        ({"livekit_url": None, "livekit_api_secret": None}, ["RINGFLOW_LIVEKIT_URL", "RINGFLOW_LIVEKIT_API_SECRET"]),
    ],
)
def test_make_carrier_twilio_names_missing_settings(unset: dict[str, Any], named: list[str]) -> None:
    with pytest.raises(ValueError) as raised:
        make_carrier(settings_for(**unset))
    message = str(raised.value)
    assert "twilio" in message
    for env in named:
        assert env in message
    all_envs = {
        "RINGFLOW_TWILIO_ACCOUNT_SID",
        "RINGFLOW_TWILIO_AUTH_TOKEN",
        "RINGFLOW_TWILIO_FROM_NUMBER",
        "RINGFLOW_PUBLIC_BASE_URL",
        "RINGFLOW_LIVEKIT_URL",
        "RINGFLOW_LIVEKIT_API_KEY",
        "RINGFLOW_LIVEKIT_API_SECRET",
        "RINGFLOW_LIVEKIT_SIP_URI_HOST",
    }
    for env in all_envs - set(named):
        assert env not in message


def test_constructor_checks_settings_too() -> None:
    with pytest.raises(ValueError, match="RINGFLOW_TWILIO_FROM_NUMBER"):
        TwilioCarrier(settings_for(twilio_from_number=None))
