"""Twilio Programmable Voice: TwiML for bridging calls into LiveKit over SIP, webhook signatures, and a thin
async wrapper over the official SDK (``twilio.rest.Client``) for placing and inspecting calls.

The LiveKit room side (dispatching the agent into the room the SIP leg lands in) lives elsewhere; this module
only speaks to Twilio.

Idempotency: Twilio's Calls API has **no idempotency key**. A ``POST .../Calls.json`` that is sent twice rings the
person twice. So :meth:`TwilioVoice.create_call` must be called at most once per dial attempt, and the caller must
record the attempt (durably) *before* calling it. The SDK's default HTTP client does not retry (``requests``'
adapter defaults to zero retries, and :class:`TwilioVoice` never passes ``max_retries``), so one call to
``create_call`` is at most one POST. A timeout or a 5xx on that POST is ambiguous: the call may exist anyway, so
a retry must first look for it (e.g. :meth:`TwilioVoice.fetch_call` with a recorded CallSid) rather than dial.

Errors: a ``TwilioRestException`` (or the SDK's RFC 9457 ``TwilioServiceException``) whose code says the
destination number is invalid becomes :class:`InvalidNumberError` (a ``ValueError``; the dial activity turns it
into a non-retryable error and outcome ``invalid_number``). Everything else is re-raised unchanged: 5xx and
429 are transient (see :func:`is_retryable_error`), other 4xx are configuration problems (bad credentials,
unverified caller id, geo permissions) that retrying will not fix.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.base.version import Version
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from schemas.inbound import MAX_CALL_DURATION_SECONDS, MAX_INBOUND_CALL_LENGTH
from schemas.outcomes import CallOutcome

__all__ = [
    "DIAL_ENDED_WEBHOOK_PATH",
    "FINAL_STATUSES",
    "INCOMING_WEBHOOK_PATH",
    "INVALID_NUMBER_ERROR_CODES",
    "MAX_CALL_DURATION_SECONDS",
    "STATUS_CALLBACK_EVENTS",
    "STATUS_WEBHOOK_PATH",
    "CallStatus",
    "IncomingNumber",
    "InvalidNumberError",
    "NumberWebhooks",
    "TwilioVoice",
    "call_duration_seconds",
    "dial_sip_twiml",
    "final_dial_status",
    "hangup_twiml",
    "is_final",
    "is_retryable_error",
    "livekit_sip_uri",
    "number_webhooks",
    "outcome_for",
    "polite_hangup_twiml",
    "validate_signature",
]

TWILIO_API_BASE_URL = "https://api.twilio.com"

#: Twilio error codes meaning "this destination number cannot be called, ever":
#: 21211 invalid 'To' phone number, 21214 'To' number cannot be reached, 21217 number does not appear valid,
#: 13224 Dial: invalid phone number.
INVALID_NUMBER_ERROR_CODES: frozenset[int] = frozenset({21211, 21214, 21217, 13224})

#: Call progress events requested on every outbound call.
STATUS_CALLBACK_EVENTS: tuple[str, ...] = ("initiated", "ringing", "answered", "completed")

#: Statuses after which a Twilio call never changes again.
FINAL_STATUSES: frozenset[str] = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})

#: The API's Twilio webhook routes (api/routers/twilio.py), under ``RINGFLOW_PUBLIC_BASE_URL``.
INCOMING_WEBHOOK_PATH = "/twilio/voice/incoming"
STATUS_WEBHOOK_PATH = "/twilio/voice/status"
DIAL_ENDED_WEBHOOK_PATH = "/twilio/voice/dial-ended"

#: ``DialCallStatus`` (the ``<Dial>`` action's report on the dialled leg) as the final status of the call.
#: ``answered`` is what Twilio reports for a dialled conference that connected: the call went through.
_DIAL_FINAL_STATUSES: dict[str, str] = {
    "completed": "completed",
    "answered": "completed",
    "busy": "busy",
    "no-answer": "no-answer",
    "failed": "failed",
    "canceled": "canceled",
}

# Standard SIP headers Twilio passes through on <Dial><Sip> without the x- prefix (error 13252 otherwise).
_STANDARD_SIP_HEADERS = frozenset({"user-to-user", "remote-party-id", "p-preferred-identity", "p-called-party-id"})
_SIP_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]*$")


class InvalidNumberError(ValueError):
    """Twilio refused the destination number (see :data:`INVALID_NUMBER_ERROR_CODES`). Do not retry."""

    def __init__(self, message: str, *, code: int, number: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.number = number


@dataclass(frozen=True, slots=True)
class CallStatus:
    sid: str
    status: str
    duration_seconds: int | None = None
    answered_by: str | None = None
    to: str | None = None
    from_: str | None = None

    @property
    def final(self) -> bool:
        return is_final(self.status)


@dataclass(frozen=True, slots=True)
class IncomingNumber:
    sid: str
    phone_number: str
    friendly_name: str
    voice_url: str | None
    status_callback: str | None = None


@dataclass(frozen=True, slots=True)
class NumberWebhooks:
    """What a number bound to an agent must have at Twilio: its incoming calls go to ``voice_url`` and their
    end (final status, duration) is posted to ``status_callback``, both POST. Without the status callback an
    inbound call's workflow would only learn the call ended from the ``<Dial>`` action, or never."""

    voice_url: str
    status_callback: str

    def applied_to(self, number: IncomingNumber) -> bool:
        return number.voice_url == self.voice_url and number.status_callback == self.status_callback


def number_webhooks(public_base_url: str) -> NumberWebhooks:
    """The webhooks of a number answered by Ringflow's API at ``public_base_url`` (the URL Twilio reaches)."""
    base = public_base_url.strip().rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ValueError(f"the public base URL {public_base_url!r} must be an http(s):// URL")
    return NumberWebhooks(voice_url=base + INCOMING_WEBHOOK_PATH, status_callback=base + STATUS_WEBHOOK_PATH)


# ---- TwiML ------------------------------------------------------------------------------------------


def livekit_sip_uri(room_name: str, sip_host: str) -> str:
    """``sip:<room>@<host>`` for LiveKit's project SIP URI host (e.g. ``abc123.sip.livekit.cloud``).

    The room name is percent-escaped for the SIP user part; a ``sip:`` prefix on ``sip_host`` is tolerated.
    """
    room = room_name.strip()
    host = sip_host.strip().removeprefix("sip:").strip("/")
    if not room:
        raise ValueError("room_name is empty")
    if not host or "@" in host or any(c.isspace() for c in host):
        raise ValueError(f"invalid SIP host: {sip_host!r}")
    user = quote(room, safe="-_.!~*'()+")
    return f"sip:{user}@{host}"


def dial_sip_twiml(
    sip_uri: str,
    *,
    caller_id: str | None = None,
    headers: dict[str, str] | None = None,
    username: str | None = None,
    password: str | None = None,
    action: str | None = None,
) -> str:
    """``<Response><Dial callerId=… action=… method=POST><Sip username=… password=…>uri?x-a=1&amp;x-b=2</Sip>
    </Dial></Response>``.

    ``action``: Twilio POSTs the dialled leg's end there (``DialCallStatus``, ``DialCallDuration``) and
    continues the call with the TwiML it answers, so the call's end is reported even for a number whose
    status callback is not set.

    ``username``/``password`` answer the SIP digest challenge of a LiveKit inbound trunk that has
    credentials, so the trunk need not rely on an allowlist of Twilio's signalling addresses.

    Custom SIP headers travel as query parameters on the SIP URI (Twilio's documented mechanism). Names must
    start with ``x-`` (but not ``x-twilio``) or be one of Twilio's supported standard headers; values are
    percent-escaped.
    """
    if not sip_uri.startswith(("sip:", "sips:")):
        raise ValueError(f"not a SIP URI: {sip_uri!r}")
    uri = sip_uri
    if headers:
        parts = []
        for name, value in headers.items():
            lowered = name.lower()
            if not _SIP_HEADER_NAME.match(name) or lowered.startswith("x-twilio"):
                raise ValueError(f"SIP header name not allowed: {name!r}")
            if not lowered.startswith("x-") and lowered not in _STANDARD_SIP_HEADERS:
                raise ValueError(f"custom SIP header {name!r} must start with 'x-'")
            parts.append(f"{name}={quote(str(value), safe='')}")
        uri += ("&" if "?" in uri else "?") + "&".join(parts)
    response = VoiceResponse()
    if (username is None) != (password is None):
        raise ValueError("SIP credentials need both a username and a password")
    time_limit = int(MAX_INBOUND_CALL_LENGTH.total_seconds())
    if action is not None:
        dial = response.dial(caller_id=caller_id, action=action, method="POST", time_limit=time_limit)
    else:
        dial = response.dial(caller_id=caller_id, time_limit=time_limit)
    dial.sip(uri, username=username, password=password)
    return response.to_xml()


def hangup_twiml() -> str:
    """``<Response><Hangup/></Response>``: end the call (the answer to a ``<Dial>`` action once the agent's
    leg is over, so Twilio does not go on with the rest of a document)."""
    response = VoiceResponse()
    response.hangup()
    return response.to_xml()


def polite_hangup_twiml(message: str, language: str = "en-US") -> str:
    """``<Response><Say language=…>message</Say><Hangup/></Response>`` (e.g. an unknown number, after hours)."""
    response = VoiceResponse()
    response.say(message, language=language)
    response.hangup()
    return response.to_xml()


# ---- Webhook signatures -------------------------------------------------------------------------------


def validate_signature(
    auth_token: str,
    url: str,
    params: Mapping[str, str],
    signature: str | None,
    *,
    signature_settings: str | None = None,
) -> bool:
    """Check Twilio's ``X-Twilio-Signature`` for a webhook.

    ``url`` must be the full URL Twilio requested (scheme, host, path, query) as Twilio saw it, i.e. the public
    URL behind any proxy, not the one the local server sees. ``params`` are the POST form fields (a Starlette
    ``FormData`` works as is, repeated fields included). ``signature_settings`` is the optional
    ``X-Twilio-Webhooks-Signature-Settings`` header (SharedKey signing, which picks the HMAC algorithm; then
    ``auth_token`` is that key's secret). A missing or empty signature is invalid.
    """
    if not signature:
        return False
    algorithm = get_signature_algorithm(signature_settings)
    return bool(RequestValidator(auth_token).validate(url, params, signature, algorithm))


# ---- Outcomes -----------------------------------------------------------------------------------------


def is_final(status: str) -> bool:
    return status in FINAL_STATUSES


def final_dial_status(dial_call_status: str) -> str | None:
    """The call's final status for a ``<Dial>`` action's ``DialCallStatus``; None for a value Twilio does
    not document (the caller then ignores the report rather than guess)."""
    return _DIAL_FINAL_STATUSES.get(dial_call_status.strip())


def call_duration_seconds(raw: str | None) -> int | None:
    """A webhook's ``CallDuration``/``DialCallDuration`` (whole seconds as text) as an int; None when absent.

    Raises ``ValueError`` for anything that is not a real duration: not a number, ``nan``, ``inf`` (``1e400``
    overflows to it), negative, or longer than Twilio lets a call last. Such a value must never be stored.
    """
    text = (raw or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"call duration {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or value > MAX_CALL_DURATION_SECONDS:
        raise ValueError(f"call duration {text!r} is not between 0 and {MAX_CALL_DURATION_SECONDS} seconds")
    return round(value)


def outcome_for(status: str, answered_by: str | None) -> CallOutcome:
    """Map a final Twilio call status (and AMD's ``AnsweredBy``) to a call outcome.

    ``completed`` answered by ``machine_*`` is voicemail, by ``fax`` a failure; ``canceled`` (we hung up before
    it connected) counts as failed. Raises ``ValueError`` for a status that is not final.
    """
    if status == "completed":
        if answered_by and answered_by.startswith("machine"):
            return CallOutcome.VOICEMAIL
        if answered_by == "fax":
            return CallOutcome.FAILED
        return CallOutcome.COMPLETED
    mapping = {
        "busy": CallOutcome.BUSY,
        "no-answer": CallOutcome.NO_ANSWER,
        "failed": CallOutcome.FAILED,
        "canceled": CallOutcome.FAILED,
    }
    try:
        return mapping[status]
    except KeyError:
        raise ValueError(f"Twilio call status {status!r} is not final") from None


# ---- Errors -------------------------------------------------------------------------------------------


def _error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None


def is_retryable_error(exc: BaseException) -> bool:
    """True for Twilio errors worth retrying: HTTP 5xx and 429. Network errors (``requests`` exceptions) are
    not Twilio errors and are left to the caller, who knows whether the request may have been applied."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status = int(exc.status or 0)
        return status >= 500 or status == 429
    return False


def _raise_mapped(exc: TwilioRestException | TwilioServiceException, number: str) -> None:
    code = _error_code(exc)
    if code in INVALID_NUMBER_ERROR_CODES:
        raise InvalidNumberError(f"Twilio refused number {number!r}: {exc}", code=code, number=number) from exc
    raise exc


# ---- REST client --------------------------------------------------------------------------------------


class TwilioVoice:
    """The few Twilio REST calls Ringflow needs, on the official SDK, awaitable.

    The SDK is synchronous (``requests``); each call runs in a worker thread via ``asyncio.to_thread``.

    ``http_client`` replaces the SDK's ``TwilioHttpClient`` (any ``twilio.http.HttpClient``).
    ``api_base_url`` points the ``api.twilio.com`` domain elsewhere (a local stand-in in tests) by setting the
    SDK's ``Domain.base_url``, which every v2010 URL, paging links included, is built from.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        http_client: HttpClient | None = None,
        api_base_url: str | None = None,
        timeout_seconds: float = 15.0,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("Twilio account sid and auth token are required")
        self.account_sid = account_sid
        self.client = Client(
            account_sid, auth_token, http_client=http_client or TwilioHttpClient(timeout=timeout_seconds)
        )
        if api_base_url:
            self.client.api.base_url = api_base_url.rstrip("/")
            # TWILIO_EDGE / TWILIO_REGION in the environment would rewrite the host of every URL.
            self.client.edge = None
            self.client.region = None

    @classmethod
    def from_settings(cls, settings, **kwargs) -> TwilioVoice:  # settings: schemas.settings.Settings
        if not settings.twilio_configured:
            raise ValueError("Twilio is not configured: set RINGFLOW_TWILIO_ACCOUNT_SID and RINGFLOW_TWILIO_AUTH_TOKEN")
        return cls(settings.twilio_account_sid, settings.twilio_auth_token, **kwargs)

    @property
    def _account(self):
        return self.client.api.v2010.accounts(self.account_sid)

    async def create_call(
        self,
        to: str,
        from_: str,
        twiml: str,
        status_callback: str,
        *,
        timeout_seconds: int,
        machine_detection: bool = True,
        send_digits: str = "",
    ) -> str:
        """Place an outbound call that runs ``twiml`` once answered; return its CallSid.

        NOT idempotent: Twilio has no idempotency key, so record the attempt before calling and never call
        twice for one attempt. Progress (initiated, ringing, answered, completed) is POSTed to
        ``status_callback``. With ``machine_detection`` Twilio runs answering machine detection
        (``DetectMessageEnd``: for a machine the TwiML starts after the greeting's beep) and reports
        ``AnsweredBy``. ``send_digits`` (an extension) are played as DTMF once the call connects
        (Twilio's ``SendDigits``). Raises :class:`InvalidNumberError` for a refused destination; other Twilio errors
        propagate (see :func:`is_retryable_error`).
        """
        kwargs: dict[str, object] = {
            "to": to,
            "from_": from_,
            "twiml": twiml,
            "status_callback": status_callback,
            "status_callback_event": list(STATUS_CALLBACK_EVENTS),
            "status_callback_method": "POST",
            "timeout": int(timeout_seconds),
        }
        if machine_detection:
            kwargs["machine_detection"] = "DetectMessageEnd"
        if send_digits:
            kwargs["send_digits"] = send_digits

        def _create() -> str:
            try:
                call = self._account.calls.create(**kwargs)
            except (TwilioRestException, TwilioServiceException) as exc:
                _raise_mapped(exc, to)
                raise  # unreachable: _raise_mapped always raises
            if not call.sid:
                raise RuntimeError("Twilio created a call without a sid")
            return call.sid

        return await asyncio.to_thread(_create)

    async def fetch_call(self, sid: str) -> CallStatus:
        def _fetch() -> CallStatus:
            call = self._account.calls(sid).fetch()
            return _call_status(call)

        return await asyncio.to_thread(_fetch)

    async def end_call(self, sid: str) -> str:
        """End the call whatever its stage: cancel it while it is queued or ringing, hang it up once in
        progress. Returns the status it had (a call already over is left as it is)."""

        def _end() -> str:
            status = _call_status(self._account.calls(sid).fetch()).status
            if status in ("queued", "ringing"):
                self._account.calls(sid).update(status="canceled")
            elif status == "in-progress":
                self._account.calls(sid).update(status="completed")
            return status

        return await asyncio.to_thread(_end)

    async def list_incoming_numbers(self, *, page_size: int = 50) -> list[IncomingNumber]:
        """Every phone number on the account (all pages)."""

        def _list() -> list[IncomingNumber]:
            try:
                numbers = self._account.incoming_phone_numbers.list(page_size=page_size)
            except TwilioException as exc:
                mapped = _page_error(exc)
                if mapped is exc:
                    raise
                raise mapped from exc
            return [
                IncomingNumber(
                    sid=n.sid or "",
                    phone_number=n.phone_number or "",
                    friendly_name=n.friendly_name or "",
                    voice_url=n.voice_url or None,
                    status_callback=n.status_callback or None,
                )
                for n in numbers
            ]

        return await asyncio.to_thread(_list)

    async def set_number_webhooks(self, number_sid: str, webhooks: NumberWebhooks) -> None:
        """Point the number's incoming calls (``VoiceUrl``) and their end (``StatusCallback``) at the API, both
        POST, in one update. Twilio then posts each inbound call's final status and ``CallDuration``."""

        def _update() -> None:
            self._account.incoming_phone_numbers(number_sid).update(
                voice_url=webhooks.voice_url,
                voice_method="POST",
                status_callback=webhooks.status_callback,
                status_callback_method="POST",
            )

        await asyncio.to_thread(_update)


def _page_error(exc: TwilioException) -> TwilioException:
    """The SDK's paging raises a bare ``TwilioException("Unable to fetch page", response)`` on a non-200 page;
    turn it into the ``TwilioRestException`` (status, code) every other call raises."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        return exc
    response = exc.args[1] if len(exc.args) > 1 else None
    if not isinstance(response, Response):
        return exc
    return Version.exception("GET", "", response, "Unable to fetch page")


def _call_status(call) -> CallStatus:
    duration: int | None
    try:
        duration = int(call.duration) if call.duration not in (None, "") else None
    except (TypeError, ValueError):
        duration = None
    return CallStatus(
        sid=call.sid or "",
        status=str(call.status or ""),
        duration_seconds=duration,
        answered_by=call.answered_by or None,
        to=call.to,
        from_=getattr(call, "_from", None),
    )
