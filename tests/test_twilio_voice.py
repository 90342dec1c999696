"""Twilio voice: TwiML, webhook signatures, outcome mapping, and the SDK wrapper against a local stand-in."""

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio_standin import TwilioStandIn

from schemas.inbound import MAX_INBOUND_CALL_LENGTH
from schemas.outcomes import CallOutcome
from schemas.settings import Settings
from telephony.twilio_voice import (
    CallStatus,
    InvalidNumberError,
    NumberWebhooks,
    TwilioVoice,
    call_duration_seconds,
    dial_sip_twiml,
    final_dial_status,
    hangup_twiml,
    is_final,
    is_retryable_error,
    livekit_sip_uri,
    number_webhooks,
    outcome_for,
    polite_hangup_twiml,
    validate_signature,
)

# ---- TwiML -------------------------------------------------------------------------------------------


def test_livekit_sip_uri() -> None:
    assert livekit_sip_uri("call-123", "abc123.sip.livekit.cloud") == "sip:call-123@abc123.sip.livekit.cloud"
    assert livekit_sip_uri("a b", "sip:host.example") == "sip:a%20b@host.example"
    with pytest.raises(ValueError):
        livekit_sip_uri("", "host")
    with pytest.raises(ValueError):
        livekit_sip_uri("room", "user@host")


def test_dial_sip_twiml() -> None:
    uri = livekit_sip_uri("inbound-42", "abc.sip.livekit.cloud")
    xml = dial_sip_twiml(uri, caller_id="+15550001111", headers={"X-Ringflow-Call": "c 1&2", "x-campaign": "k"})
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    [dial] = list(root)
    assert dial.tag == "Dial"
    assert dial.get("callerId") == "+15550001111"
    [sip] = list(dial)
    assert sip.tag == "Sip"
    parts = urlsplit(sip.text)
    assert f"{parts.scheme}:{parts.path}" == uri
    assert parse_qs(parts.query) == {"X-Ringflow-Call": ["c 1&2"], "x-campaign": ["k"]}


def test_dial_sip_twiml_plain_and_refusals() -> None:
    root = ET.fromstring(dial_sip_twiml("sip:room@host"))
    dial = root.find("Dial")
    assert dial is not None and dial.get("callerId") is None
    assert root.findtext("Dial/Sip") == "sip:room@host"
    with pytest.raises(ValueError):
        dial_sip_twiml("tel:+15550001111")
    with pytest.raises(ValueError):
        dial_sip_twiml("sip:room@host", headers={"Customer": "x"})
    with pytest.raises(ValueError):
        dial_sip_twiml("sip:room@host", headers={"X-Twilio-Foo": "x"})
    assert "User-to-User=" in dial_sip_twiml("sip:room@host", headers={"User-to-User": "abc"})


def test_the_dial_asks_twilio_to_post_its_end_to_the_action_url() -> None:
    action = "https://ringflow.example.com/twilio/voice/dial-ended"
    dial = ET.fromstring(dial_sip_twiml("sip:room@host", action=action)).find("Dial")
    assert dial is not None and (dial.get("action"), dial.get("method")) == (action, "POST")
    assert [verb.tag for verb in ET.fromstring(hangup_twiml())] == ["Hangup"]


def test_twilio_ends_the_dial_when_the_inbound_workflow_stops_waiting_for_it() -> None:
    dial = ET.fromstring(dial_sip_twiml("sip:room@host")).find("Dial")
    assert dial is not None and dial.get("timeLimit") == str(int(MAX_INBOUND_CALL_LENGTH.total_seconds()))


def test_polite_hangup_twiml() -> None:
    root = ET.fromstring(polite_hangup_twiml("Sorry, we cannot take your call. Goodbye <3", language="de-DE"))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    say = root.find("Say")
    assert say is not None
    assert say.text == "Sorry, we cannot take your call. Goodbye <3"
    assert say.get("language") == "de-DE"


# ---- Signatures ---------------------------------------------------------------------------------------

TOKEN = "12345678901234567890123456789012"
URL = "https://ringflow.example.com/twilio/voice?tenant=a"
PARAMS = {"CallSid": "CA123", "From": "+15550001111", "To": "+15550002222", "CallStatus": "ringing"}


def _sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def test_signature_valid() -> None:
    assert validate_signature(TOKEN, URL, PARAMS, _sign(URL, PARAMS))
    # Twilio may have signed the URL with an explicit port; both forms are accepted.
    with_port = "https://ringflow.example.com:443/twilio/voice?tenant=a"
    assert validate_signature(TOKEN, URL, PARAMS, _sign(with_port, PARAMS))


def test_signature_tampered_param() -> None:
    signature = _sign(URL, PARAMS)
    assert not validate_signature(TOKEN, URL, {**PARAMS, "To": "+15559999999"}, signature)
    assert not validate_signature(TOKEN, URL, {**PARAMS, "Extra": "1"}, signature)


def test_signature_wrong_url_or_token() -> None:
    signature = _sign(URL, PARAMS)
    assert not validate_signature(TOKEN, "https://ringflow.example.com/twilio/voice", PARAMS, signature)
    assert not validate_signature(TOKEN, "http://ringflow.example.com/twilio/voice?tenant=a", PARAMS, signature)
    assert not validate_signature("0" * 32, URL, PARAMS, signature)


def test_signature_missing() -> None:
    assert not validate_signature(TOKEN, URL, PARAMS, None)
    assert not validate_signature(TOKEN, URL, PARAMS, "")


def test_signature_shared_key_sha256() -> None:
    settings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    signature = RequestValidator(TOKEN).compute_signature(URL, PARAMS, "HMAC_SHA256")
    assert validate_signature(TOKEN, URL, PARAMS, signature, signature_settings=settings)
    assert not validate_signature(TOKEN, URL, PARAMS, signature)


# ---- Outcomes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "answered_by", "outcome"),
    [
        ("completed", None, CallOutcome.COMPLETED),
        ("completed", "human", CallOutcome.COMPLETED),
        ("completed", "unknown", CallOutcome.COMPLETED),
        ("completed", "machine_start", CallOutcome.VOICEMAIL),
        ("completed", "machine_end_beep", CallOutcome.VOICEMAIL),
        ("completed", "machine_end_silence", CallOutcome.VOICEMAIL),
        ("completed", "machine_end_other", CallOutcome.VOICEMAIL),
        ("completed", "fax", CallOutcome.FAILED),
        ("busy", None, CallOutcome.BUSY),
        ("no-answer", None, CallOutcome.NO_ANSWER),
        ("failed", None, CallOutcome.FAILED),
        ("canceled", None, CallOutcome.FAILED),
    ],
)
def test_outcome_for(status: str, answered_by: str | None, outcome: CallOutcome) -> None:
    assert is_final(status)
    assert outcome_for(status, answered_by) is outcome


@pytest.mark.parametrize(
    ("dial_call_status", "final"),
    [
        ("completed", "completed"),
        ("answered", "completed"),
        ("busy", "busy"),
        ("no-answer", "no-answer"),
        ("failed", "failed"),
        ("canceled", "canceled"),
        ("in-progress", None),
        ("exploded", None),
    ],
)
def test_a_dials_status_is_the_calls_final_status(dial_call_status: str, final: str | None) -> None:
    assert final_dial_status(dial_call_status) == final


@pytest.mark.parametrize(("raw", "seconds"), [("42", 42), (" 0 ", 0), ("", None), (None, None), ("86400", 86400)])
def test_a_real_call_duration_is_read_in_whole_seconds(raw: str | None, seconds: int | None) -> None:
    assert call_duration_seconds(raw) == seconds


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "1e400", "-1", "86401", "forty", "0x10"])
def test_a_call_duration_that_is_no_real_one_is_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        call_duration_seconds(raw)


def test_a_numbers_webhooks_live_under_the_public_base_url() -> None:
    webhooks = number_webhooks("https://ringflow.example.com/ ")
    assert webhooks == NumberWebhooks(
        voice_url="https://ringflow.example.com/twilio/voice/incoming",
        status_callback="https://ringflow.example.com/twilio/voice/status",
    )
    with pytest.raises(ValueError):
        number_webhooks("ringflow.example.com")


@pytest.mark.parametrize("status", ["queued", "initiated", "ringing", "in-progress"])
def test_non_final_statuses(status: str) -> None:
    assert not is_final(status)
    with pytest.raises(ValueError):
        outcome_for(status, None)


# ---- REST wrapper against the stand-in ----------------------------------------------------------------


@pytest.fixture(scope="module")
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn() as server:
        yield server


@pytest.fixture
def twilio(standin: TwilioStandIn) -> Iterator[TwilioStandIn]:
    standin.requests.clear()
    standin.errors.clear()
    standin.numbers.clear()
    yield standin


@pytest.fixture
def voice(twilio: TwilioStandIn) -> TwilioVoice:
    return TwilioVoice(twilio.account_sid, twilio.auth_token, api_base_url=twilio.base_url, timeout_seconds=5)


async def test_create_and_fetch_call(twilio: TwilioStandIn, voice: TwilioVoice) -> None:
    twiml = dial_sip_twiml(livekit_sip_uri("out-1", "abc.sip.livekit.cloud"))
    sid = await voice.create_call(
        "+15550002222", "+15550001111", twiml, "https://ringflow.example.com/twilio/status", timeout_seconds=25
    )
    assert sid.startswith("CA") and sid in twilio.calls
    [req] = twilio.requests_to("POST", "/Calls.json")
    assert req.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Calls.json"
    assert req.one("To") == "+15550002222"
    assert req.one("From") == "+15550001111"
    assert req.one("Twiml") == twiml
    assert req.one("StatusCallback") == "https://ringflow.example.com/twilio/status"
    assert req.one("StatusCallbackMethod") == "POST"
    assert req.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert req.one("Timeout") == "25"
    assert req.one("MachineDetection") == "DetectMessageEnd"
    assert req.one("Url") is None

    status = await voice.fetch_call(sid)
    assert status == CallStatus(sid=sid, status="queued", to="+15550002222", from_="+15550001111")
    assert not status.final

    twilio.set_call(sid, status="completed", duration="42", answered_by="machine_end_beep")
    status = await voice.fetch_call(sid)
    assert status.final and status.duration_seconds == 42 and status.answered_by == "machine_end_beep"
    assert outcome_for(status.status, status.answered_by) is CallOutcome.VOICEMAIL


async def test_create_call_without_machine_detection(twilio: TwilioStandIn, voice: TwilioVoice) -> None:
    await voice.create_call(
        "+15550002222", "+15550001111", "<Response/>", "https://x/s", timeout_seconds=10, machine_detection=False
    )
    [req] = twilio.requests_to("POST", "/Calls.json")
    assert "MachineDetection" not in req.form


async def test_numbers_list_paged_and_set_webhooks(twilio: TwilioStandIn, voice: TwilioVoice) -> None:
    sids = [twilio.add_number(f"+1555000100{i}", friendly_name=f"line {i}") for i in range(5)]
    numbers = await voice.list_incoming_numbers(page_size=2)
    assert sorted(n.sid for n in numbers) == sorted(sids)
    assert {n.phone_number for n in numbers} == {f"+1555000100{i}" for i in range(5)}
    assert all(n.voice_url is None for n in numbers)
    assert len(twilio.requests_to("GET", "/IncomingPhoneNumbers.json")) == 3  # 2 + 2 + 1

    webhooks = number_webhooks("https://ringflow.example.com")
    await voice.set_number_webhooks(sids[0], webhooks)
    [req] = twilio.requests_to("POST", f"/IncomingPhoneNumbers/{sids[0]}.json")
    assert req.one("VoiceUrl") == webhooks.voice_url and req.one("VoiceMethod") == "POST"
    assert req.one("StatusCallback") == webhooks.status_callback and req.one("StatusCallbackMethod") == "POST"
    by_sid = {n.sid: n for n in await voice.list_incoming_numbers()}
    assert by_sid[sids[0]].voice_url == webhooks.voice_url
    assert by_sid[sids[0]].status_callback == webhooks.status_callback and webhooks.applied_to(by_sid[sids[0]])
    assert by_sid[sids[1]].voice_url is None and by_sid[sids[1]].status_callback is None
    assert not webhooks.applied_to(by_sid[sids[1]])


@pytest.mark.parametrize("code", [21211, 21214, 21217, 13224])
async def test_invalid_number(twilio: TwilioStandIn, voice: TwilioVoice, code: int) -> None:
    twilio.fail_next(400, code, "Invalid 'To' Phone Number: +1555", method="POST", path_contains="/Calls.json")
    with pytest.raises(InvalidNumberError) as info:
        await voice.create_call("+1555", "+15550001111", "<Response/>", "https://x/s", timeout_seconds=10)
    assert info.value.code == code and info.value.number == "+1555"
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value.__cause__, TwilioRestException)


async def test_other_client_error_is_not_invalid_number(twilio: TwilioStandIn, voice: TwilioVoice) -> None:
    twilio.fail_next(400, 21210, "'From' phone number not verified", path_contains="/Calls.json")
    with pytest.raises(TwilioRestException) as info:
        await voice.create_call("+15550002222", "+15550009999", "<Response/>", "https://x/s", timeout_seconds=10)
    assert info.value.code == 21210 and not is_retryable_error(info.value)


async def test_server_error_raises_retryable(twilio: TwilioStandIn, voice: TwilioVoice) -> None:
    twilio.fail_next(500, 20500, "Internal Server Error", path_contains="/Calls.json")
    with pytest.raises(TwilioRestException) as info:
        await voice.create_call("+15550002222", "+15550001111", "<Response/>", "https://x/s", timeout_seconds=10)
    assert info.value.status == 500 and is_retryable_error(info.value)
    assert len(twilio.requests_to("POST", "/Calls.json")) == 1  # the SDK did not retry the POST


async def test_bad_credentials(twilio: TwilioStandIn) -> None:
    voice = TwilioVoice(twilio.account_sid, "wrong-token", api_base_url=twilio.base_url, timeout_seconds=5)
    with pytest.raises(TwilioRestException) as info:
        await voice.list_incoming_numbers()
    assert info.value.status == 401 and info.value.code == 20003


async def test_fetch_unknown_call(voice: TwilioVoice) -> None:
    with pytest.raises(TwilioRestException) as info:
        await voice.fetch_call("CA" + "0" * 32)
    assert info.value.status == 404


async def test_paged_list_server_error_is_retryable(twilio: TwilioStandIn, voice: TwilioVoice) -> None:
    twilio.fail_next(503, None, "Service Unavailable", path_contains="/IncomingPhoneNumbers.json")
    with pytest.raises(TwilioRestException) as info:
        await voice.list_incoming_numbers()
    assert info.value.status == 503 and is_retryable_error(info.value)


async def test_invalid_number_problem_details(twilio: TwilioStandIn, voice: TwilioVoice) -> None:
    twilio.fail_next(400, 21211, "Invalid 'To' Phone Number", path_contains="/Calls.json", rfc9457=True)
    with pytest.raises(InvalidNumberError) as info:
        await voice.create_call("+1555", "+15550001111", "<Response/>", "https://x/s", timeout_seconds=10)
    assert isinstance(info.value.__cause__, TwilioServiceException)


async def test_injected_http_client(twilio: TwilioStandIn) -> None:
    http_client = TwilioHttpClient(timeout=5)
    voice = TwilioVoice(twilio.account_sid, twilio.auth_token, http_client=http_client, api_base_url=twilio.base_url)
    assert voice.client.http_client is http_client
    sid = twilio.add_number("+15550003333")
    await voice.set_number_webhooks(sid, number_webhooks("https://ringflow.example.com"))
    last = http_client._test_only_last_request
    path = f"/2010-04-01/Accounts/{twilio.account_sid}/IncomingPhoneNumbers/{sid}.json"
    assert last is not None and last.url == twilio.base_url + path


def test_dial_sip_twiml_answers_the_trunks_digest_challenge_with_its_credentials() -> None:
    sip = ET.fromstring(dial_sip_twiml("sip:room@host", username="twilio-in", password="s3cret")).find("Dial/Sip")
    assert sip is not None and (sip.get("username"), sip.get("password")) == ("twilio-in", "s3cret")
    plain = ET.fromstring(dial_sip_twiml("sip:room@host")).find("Dial/Sip")
    assert plain is not None and plain.get("username") is None and plain.get("password") is None
    with pytest.raises(ValueError, match="both a username and a password"):
        dial_sip_twiml("sip:room@host", username="twilio-in")


def test_sip_credentials_come_from_the_settings_only_as_a_pair() -> None:
    both = Settings(_env_file=None, livekit_sip_inbound_username="u", livekit_sip_inbound_password="p")
    assert both.livekit_sip_credentials == {"username": "u", "password": "p"}
    assert Settings(_env_file=None, livekit_sip_inbound_username="u").livekit_sip_credentials == {}
