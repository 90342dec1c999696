"""A local stand-in for the few Twilio REST API v2010 endpoints Ringflow uses, and for the webhooks Twilio
sends when someone calls one of the account's numbers.

Runs a tiny Starlette app under uvicorn on 127.0.0.1 (a free port) in a background thread, answers in
Twilio's shapes (form-encoded requests, JSON call/number resources, v2010 paging, Twilio's error JSON), checks
HTTP basic auth, records every request, and can be scripted to fail the next matching request.

    with TwilioStandIn() as twilio:
        voice = TwilioVoice(twilio.account_sid, twilio.auth_token, api_base_url=twilio.base_url)

Inbound calls: :meth:`TwilioStandIn.place_inbound_call` does what Twilio does when a caller dials a number:
it requests the number's configured voice URL (signed with the auth token, as Twilio signs), follows the
TwiML it gets (``<Dial><Sip>`` bridges the caller; ``<Say>``/``<Hangup>`` ends the call), and
:meth:`TwilioStandIn.end_inbound_call` ends it: the ``<Dial>``'s action URL gets ``DialCallStatus`` and
``DialCallDuration``, then the status callback configured on the number gets the final ``CallStatus`` and
``CallDuration``. Webhooks go over HTTP to the URLs configured on the number; ``webhook_transport`` (an httpx
transport, e.g. the app's ``ASGITransport``) stands in for the network between Twilio and the public URL.
"""

from __future__ import annotations

import base64
import math
import secrets
import socket
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _now_rfc2822() -> str:
    return format_datetime(datetime.now(UTC), usegmt=True)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]

    def one(self, name: str) -> str | None:
        """The single value of a form field (None if absent)."""
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class ScriptedError:
    status: int
    code: int | None
    message: str
    method: str | None = None
    path_contains: str | None = None
    rfc9457: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


@dataclass
class SentWebhook:
    """One request the stand-in sent to the application, as Twilio would, and what it answered."""

    kind: str  # "voice", "dial-action" or "status-callback"
    method: str
    url: str
    form: dict[str, str]
    signature: str
    status_code: int
    body: str


@dataclass
class InboundCall:
    """A call the stand-in placed to one of the account's numbers, as Twilio runs it."""

    sid: str
    number_sid: str
    from_: str
    to: str
    twiml: str = ""
    sip_uri: str | None = None
    dial_action: str | None = None
    dial_method: str = "POST"
    dial_sid: str | None = None
    ended: bool = False
    webhooks: list[SentWebhook] = field(default_factory=list)

    def sent(self, kind: str) -> list[SentWebhook]:
        return [webhook for webhook in self.webhooks if webhook.kind == kind]


@dataclass
class TwilioStandIn:
    account_sid: str = field(default_factory=lambda: _sid("AC"))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    errors: list[ScriptedError] = field(default_factory=list)
    webhook_transport: httpx.AsyncBaseTransport | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ---- lifecycle ----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TwilioStandIn:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app(), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("Twilio stand-in did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> TwilioStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- scripting ----------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        code: int | None = None,
        message: str = "",
        *,
        method: str | None = None,
        path_contains: str | None = None,
        rfc9457: bool = False,
    ) -> None:
        """Answer the next request matching ``method``/``path_contains`` with Twilio's error JSON (the v2010
        shape, or with ``rfc9457`` the problem-details shape newer Twilio APIs answer with)."""
        with self._lock:
            self.errors.append(
                ScriptedError(status, code, message or f"Error {status}", method, path_contains, rfc9457)
            )

    def add_number(self, phone_number: str, *, friendly_name: str = "", voice_url: str = "") -> str:
        sid = _sid("PN")
        with self._lock:
            self.numbers[sid] = {
                "account_sid": self.account_sid,
                "address_requirements": "none",
                "api_version": API_VERSION,
                "beta": False,
                "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
                "date_created": _now_rfc2822(),
                "date_updated": _now_rfc2822(),
                "friendly_name": friendly_name or phone_number,
                "phone_number": phone_number,
                "origin": "twilio",
                "sid": sid,
                "sms_url": "",
                "status_callback": "",
                "status_callback_method": "POST",
                "voice_method": "POST",
                "voice_url": voice_url,
                "voice_fallback_url": None,
                "status": "in-use",
                "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers/{sid}.json",
            }
        return sid

    def set_call(self, sid: str, **fields: Any) -> None:
        """Move a call along, e.g. ``set_call(sid, status="completed", duration="42", answered_by="human")``."""
        with self._lock:
            self.calls[sid].update(fields, date_updated=_now_rfc2822())

    def requests_to(self, method: str, path_contains: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and path_contains in r.path]

    # ---- the app ------------------------------------------------------------------------------------

    def app(self) -> Starlette:
        prefix = f"/{API_VERSION}/Accounts/{{account_sid}}"
        return Starlette(
            routes=[
                Route(prefix + "/Calls.json", self._create_call, methods=["POST"]),
                Route(prefix + "/Calls/{call_sid}.json", self._fetch_call, methods=["GET"]),
                Route(prefix + "/Calls/{call_sid}.json", self._update_call, methods=["POST"]),
                Route(prefix + "/IncomingPhoneNumbers.json", self._list_numbers, methods=["GET"]),
                Route(prefix + "/IncomingPhoneNumbers/{number_sid}.json", self._fetch_number, methods=["GET"]),
                Route(prefix + "/IncomingPhoneNumbers/{number_sid}.json", self._update_number, methods=["POST"]),
            ]
        )

    @staticmethod
    def _error(status: int, code: int | None, message: str) -> JSONResponse:
        body: dict[str, Any] = {"code": code, "message": message, "status": status}
        if code is not None:
            body["more_info"] = f"https://www.twilio.com/docs/errors/{code}"
        return JSONResponse(body, status_code=status)

    async def _preamble(self, request: Request) -> tuple[JSONResponse | None, RecordedRequest]:
        form: dict[str, list[str]] = {}
        if request.method == "POST":
            for key, value in (await request.form()).multi_items():
                form.setdefault(key, []).append(str(value))
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        recorded = RecordedRequest(request.method, request.url.path, query, form)
        with self._lock:
            self.requests.append(recorded)
            scripted = next((e for e in self.errors if e.matches(request.method, request.url.path)), None)
            if scripted is not None:
                self.errors.remove(scripted)
        if not self._authorized(request):
            return self._error(401, 20003, "Authenticate"), recorded
        if request.path_params.get("account_sid") != self.account_sid:
            return self._error(404, 20404, "The requested resource was not found"), recorded
        if scripted is not None and scripted.rfc9457:
            problem = {
                "type": f"https://www.twilio.com/docs/errors/{scripted.code}",
                "title": scripted.message,
                "status": scripted.status,
                "code": scripted.code,
                "detail": scripted.message,
            }
            return JSONResponse(problem, status_code=scripted.status, media_type="application/problem+json"), recorded
        if scripted is not None:
            return self._error(scripted.status, scripted.code, scripted.message), recorded
        return None, recorded

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(password, self.auth_token)

    async def _create_call(self, request: Request) -> JSONResponse:
        error, rec = await self._preamble(request)
        if error is not None:
            return error
        to, from_ = rec.one("To"), rec.one("From")
        if not to:
            return self._error(400, 21201, "No 'To' number is specified")
        if not from_:
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not (rec.one("Url") or rec.one("Twiml") or rec.one("ApplicationSid")):
            return self._error(400, 21205, "Url parameter is required.")
        sid = _sid("CA")
        now = _now_rfc2822()
        call = {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": from_,
            "from_formatted": from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {},
            "to": to,
            "to_formatted": to,
            "trunk_sid": None,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}.json",
        }
        with self._lock:
            self.calls[sid] = call
        return JSONResponse(call, status_code=201)

    async def _fetch_call(self, request: Request) -> JSONResponse:
        error, _ = await self._preamble(request)
        if error is not None:
            return error
        with self._lock:
            call = self.calls.get(request.path_params["call_sid"])
            body = dict(call) if call else None
        if body is None:
            return self._error(404, 20404, "The requested resource was not found")
        return JSONResponse(body)

    async def _update_call(self, request: Request) -> JSONResponse:
        """``Status=canceled`` ends a queued or ringing call; ``Status=completed`` one in progress (as Twilio)."""
        error, rec = await self._preamble(request)
        if error is not None:
            return error
        wanted = rec.one("Status")
        with self._lock:
            call = self.calls.get(request.path_params["call_sid"])
            if call is None:
                return self._error(404, 20404, "The requested resource was not found")
            if wanted == "canceled" and call["status"] in ("queued", "ringing"):
                call["status"] = "canceled"
            elif wanted == "completed" and call["status"] == "in-progress":
                call["status"] = "completed"
            elif wanted not in ("canceled", "completed"):
                return self._error(400, 21218, f"Invalid Status: {wanted!r}")
            body = dict(call)
        return JSONResponse(body)

    async def _list_numbers(self, request: Request) -> JSONResponse:
        error, _ = await self._preamble(request)
        if error is not None:
            return error
        page_size = max(1, min(1000, int(request.query_params.get("PageSize", "50"))))
        page = max(0, int(request.query_params.get("Page", "0")))
        with self._lock:
            numbers = sorted(self.numbers.values(), key=lambda n: n["sid"])
        start = page * page_size
        chunk = [dict(n) for n in numbers[start : start + page_size]]
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers.json"

        def page_uri(p: int) -> str:
            params = {"PageSize": page_size, "Page": p}
            if p > 0 and start < len(numbers):
                params["PageToken"] = "PA" + numbers[min(len(numbers), p * page_size) - 1]["sid"]
            return f"{base}?{urlencode(params)}"

        has_next = start + page_size < len(numbers)
        return JSONResponse(
            {
                "end": start + len(chunk) - 1 if chunk else start,
                "first_page_uri": page_uri(0),
                "incoming_phone_numbers": chunk,
                "next_page_uri": page_uri(page + 1) if has_next else None,
                "page": page,
                "page_size": page_size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": start,
                "uri": page_uri(page),
            }
        )

    async def _fetch_number(self, request: Request) -> JSONResponse:
        error, _ = await self._preamble(request)
        if error is not None:
            return error
        with self._lock:
            number = self.numbers.get(request.path_params["number_sid"])
            body = dict(number) if number else None
        if body is None:
            return self._error(404, 20404, "The requested resource was not found")
        return JSONResponse(body)

    async def _update_number(self, request: Request) -> JSONResponse:
        error, rec = await self._preamble(request)
        if error is not None:
            return error
        with self._lock:
            number = self.numbers.get(request.path_params["number_sid"])
            if number is not None:
                for form_name, key in (
                    ("VoiceUrl", "voice_url"),
                    ("VoiceMethod", "voice_method"),
                    ("StatusCallback", "status_callback"),
                    ("StatusCallbackMethod", "status_callback_method"),
                ):
                    value = rec.one(form_name)
                    if value is not None:
                        number[key] = value
                number["date_updated"] = _now_rfc2822()
            body = dict(number) if number else None
        if body is None:
            return self._error(404, 20404, "The requested resource was not found")
        return JSONResponse(body)

    # ---- inbound calls: the webhooks Twilio sends -----------------------------------------------------

    async def place_inbound_call(self, to: str, from_: str) -> InboundCall:
        """``from_`` dials the account's number ``to``: request its voice URL (``CallStatus=ringing``) and
        follow the TwiML. With ``<Dial><Sip>`` the caller is bridged and the call stays up until
        :meth:`end_inbound_call`; otherwise (``<Say>``, ``<Hangup>``, an error) the call ends at once."""
        with self._lock:
            number = next((dict(n) for n in self.numbers.values() if n["phone_number"] == to), None)
        if number is None:
            raise LookupError(f"{to} is not a number of the stand-in's account")
        if not number["voice_url"]:
            raise LookupError(f"{to} has no voice URL: Twilio would answer with its own error message")
        call = InboundCall(sid=_sid("CA"), number_sid=number["sid"], from_=from_, to=to)
        now = _now_rfc2822()
        with self._lock:
            self.calls[call.sid] = {
                "account_sid": self.account_sid,
                "answered_by": None,
                "api_version": API_VERSION,
                "date_created": now,
                "date_updated": now,
                "direction": "inbound",
                "duration": None,
                "from": from_,
                "parent_call_sid": None,
                "phone_number_sid": number["sid"],
                "sid": call.sid,
                "start_time": now,
                "status": "ringing",
                "to": to,
                "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{call.sid}.json",
            }
        voice = await self._send(
            call, "voice", number["voice_url"], number["voice_method"], self._call_params(call, "ringing")
        )
        call.twiml = voice.body if voice.status_code == 200 else ""
        dial = self._dial_of(call.twiml)
        if dial is None:
            # <Say>/<Hangup>, or a failed webhook (Twilio says "an application error has occurred"): over.
            await self._finish(call, number, duration=2)
            return call
        sip, dial_attributes = dial
        call.sip_uri = (sip.text or "").strip()
        if dial_attributes.get("action"):
            call.dial_action = urljoin(number["voice_url"], dial_attributes["action"])
            call.dial_method = dial_attributes.get("method", "POST").upper()
        call.dial_sid = _sid("CA")
        self.set_call(call.sid, status="in-progress")
        return call

    async def end_inbound_call(
        self,
        call: InboundCall,
        *,
        dial_status: str = "completed",
        talk_seconds: int = 0,
        setup_seconds: int = 1,
        caller_hung_up: bool = True,
    ) -> InboundCall:
        """End a bridged call as Twilio reports it: the dialled leg ended with ``dial_status`` after
        ``talk_seconds`` of conversation (``caller_hung_up``: the caller hung up first, so the call is over
        before the action URL is requested and its TwiML is ignored). The ``<Dial>``'s action URL, if any,
        gets ``DialCallStatus``/``DialCallDuration``; then the number's status callback gets the call's
        ``CallStatus=completed`` and ``CallDuration`` (setup plus conversation)."""
        if call.ended:
            raise RuntimeError(f"call {call.sid} already ended")
        with self._lock:
            number = dict(self.numbers[call.number_sid])
        duration = setup_seconds + talk_seconds
        after_dial = 0
        if call.dial_action:
            params = self._call_params(call, "completed" if caller_hung_up else "in-progress")
            params.update(
                DialCallSid=call.dial_sid or "",
                DialCallStatus=dial_status,
                DialCallDuration=str(talk_seconds if dial_status == "completed" else 0),
                DialBridged="true" if dial_status == "completed" else "false",
            )
            answer = await self._send(call, "dial-action", call.dial_action, call.dial_method, params)
            if not caller_hung_up and answer.status_code == 200 and self._says_something(answer.body):
                after_dial = 3  # the caller hears the <Say> before the <Hangup>
        await self._finish(call, number, duration=duration + after_dial)
        return call

    def _call_params(self, call: InboundCall, status: str) -> dict[str, str]:
        """The parameters Twilio sends with every voice webhook of the call."""
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": "inbound",
            "From": call.from_,
            "To": call.to,
        }

    async def _finish(self, call: InboundCall, number: dict[str, Any], *, duration: int) -> None:
        """The call is over: it is ``completed`` at the REST API and, when the number has a status callback,
        Twilio posts the final status there."""
        call.ended = True
        self.set_call(call.sid, status="completed", duration=str(duration), end_time=_now_rfc2822())
        if not number.get("status_callback"):
            return
        params = self._call_params(call, "completed")
        params.update(
            CallDuration=str(duration),
            Duration=str(math.ceil(duration / 60)),
            CallbackSource="call-progress-events",
            SequenceNumber="0",
            Timestamp=_now_rfc2822(),
        )
        await self._send(
            call, "status-callback", number["status_callback"], number.get("status_callback_method", "POST"), params
        )

    async def _send(self, call: InboundCall, kind: str, url: str, method: str, params: dict[str, str]) -> SentWebhook:
        """Request ``url`` as Twilio does: the parameters as a form (POST) or the query (GET), signed over the
        URL and the POST parameters with the account's auth token (``X-Twilio-Signature``)."""
        method = (method or "POST").upper()
        validator = RequestValidator(self.auth_token)
        async with httpx.AsyncClient(transport=self.webhook_transport, timeout=15) as http:
            if method == "GET":
                separator = "&" if "?" in url else "?"
                signed_url = url + separator + urlencode(params)
                signature = validator.compute_signature(signed_url, {})
                response = await http.get(signed_url, headers={"X-Twilio-Signature": signature})
            else:
                signature = validator.compute_signature(url, params)
                response = await http.post(url, data=params, headers={"X-Twilio-Signature": signature})
        sent = SentWebhook(kind, method, url, dict(params), signature, response.status_code, response.text)
        call.webhooks.append(sent)
        return sent

    @staticmethod
    def _dial_of(twiml: str) -> tuple[ET.Element, dict[str, str]] | None:
        """The ``<Sip>`` a TwiML document's first verb dials, with the ``<Dial>``'s attributes."""
        try:
            root = ET.fromstring(twiml)
        except ET.ParseError:
            return None
        first = next(iter(root), None)
        if root.tag != "Response" or first is None or first.tag != "Dial":
            return None
        sip = first.find("Sip")
        return (sip, dict(first.attrib)) if sip is not None else None

    @staticmethod
    def _says_something(twiml: str) -> bool:
        try:
            return ET.fromstring(twiml).find("Say") is not None
        except ET.ParseError:
            return False
