"""Real phone calls for accounts without a SIP trunk: Twilio dials the person, then bridges into LiveKit.

One call is one LiveKit room, named after the dial's idempotency key
(:func:`~telephony.livekit_sip.room_name_for`), exactly as for the LiveKit SIP carrier. ``dial``:

1. creates the room (CallJob JSON as metadata) and the explicit agent dispatch
   (:func:`~telephony.livekit_sip.create_call_room`, shared with :class:`~telephony.livekit_sip.LiveKitSipCarrier`),
2. asks Twilio (``POST .../Calls.json``) to call the contact with TwiML ``<Dial><Sip>sip:<room>@<livekit sip
   host></Sip></Dial>``, answering machine detection on, progress posted to ``{public_base_url}/twilio/voice/status``;
   once the callee answers (and AMD is done) Twilio's SIP leg lands in the room, where the agent waits,
3. polls ``GET .../Calls/<sid>.json`` until the call's status is final; the outcome is Twilio's
   (:func:`~telephony.twilio_voice.outcome_for`: busy, no-answer, answered by a machine = voicemail, ...),
   the duration Twilio's, the call id the CallSid,
4. deletes the room (which disconnects the agent).

Errors before step 2 raise, the activity fails and its retry goes to :meth:`TwilioCarrier.recover`, which never
dials. Twilio's Calls API has no idempotency key, so step 2 is sent at most once: a refused number is
``INVALID_NUMBER``, any other 4xx is a definite ``FAILED``, and a 5xx or a transport error is unclear (the call
may exist). Then the carrier watches the room for as long as the call could still ring and bridge; if the
callee shows up the call is followed to its end, otherwise the result is ``FAILED``. It never re-creates.

Recovery: a new process does not know the CallSid of a lost attempt (and :class:`~telephony.twilio_voice.TwilioVoice`
has no call search), so :meth:`TwilioCarrier.recover` looks at the room instead. A SIP participant in it is the
bridged callee: it waits for it to leave and reports ``COMPLETED`` (voicemail cannot be told apart there). A room
with nobody bridged yet is watched until the call could no longer have bridged; then the room is deleted and the
result is ``FAILED`` with :data:`~telephony.base.CALL_LOST_DETAIL`.

The LiveKit project needs an inbound SIP trunk and a dispatch rule that put a call to ``sip:<room>@<host>`` into
room ``<room>``; this carrier only creates the rooms and reads them.
"""

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from livekit import api
from livekit.protocol.models import ParticipantInfo
from twilio.base.exceptions import TwilioRestException, TwilioServiceException

from schemas.calls import DialRequest, DialResult
from schemas.outcomes import CallOutcome
from schemas.settings import Settings
from telephony.base import CALL_LOST_DETAIL, CallPlaced, dial_result
from telephony.livekit_sip import create_call_room, delete_room, room_name_for, room_participants
from telephony.twilio_voice import (
    CallStatus,
    InvalidNumberError,
    TwilioVoice,
    dial_sip_twiml,
    livekit_sip_uri,
    outcome_for,
)

logger = logging.getLogger(__name__)

STATUS_CALLBACK_PATH = "/twilio/voice/status"


def missing_settings(settings: Settings, *, twilio: bool = True, livekit: bool = True) -> list[str]:
    """The ``RINGFLOW_*`` variables carrier ``twilio`` needs that ``settings`` lacks."""
    required: list[tuple[str, object]] = []
    if twilio:
        required += [
            ("RINGFLOW_TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
            ("RINGFLOW_TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
        ]
    if livekit:
        required += [
            ("RINGFLOW_LIVEKIT_URL", settings.livekit_url),
            ("RINGFLOW_LIVEKIT_API_KEY", settings.livekit_api_key),
            ("RINGFLOW_LIVEKIT_API_SECRET", settings.livekit_api_secret),
        ]
    required += [
        ("RINGFLOW_TWILIO_FROM_NUMBER", settings.twilio_from_number),
        ("RINGFLOW_PUBLIC_BASE_URL", settings.public_base_url),
        ("RINGFLOW_LIVEKIT_SIP_URI_HOST", settings.livekit_sip_uri_host),
    ]
    return [env for env, value in required if not value]


class TwilioCarrier:
    """A :class:`~telephony.base.Carrier` that places calls with Twilio and bridges them into LiveKit rooms.

    ``voice`` and ``livekit`` replace the clients built from ``settings`` (a given ``livekit`` client is not
    closed by :meth:`aclose`). ``poll_interval`` is how often Twilio's call (or the room) is looked at.
    ``answer_grace`` is added to the ring timeout when waiting for a call whose fate is unknown to bridge into
    its room: Twilio's own timeout buffer plus answering machine detection, which runs before the TwiML.
    """

    name = "twilio"

    def __init__(
        self,
        settings: Settings,
        *,
        voice: TwilioVoice | None = None,
        livekit: api.LiveKitAPI | None = None,
        poll_interval: float = 1.0,
        answer_grace: timedelta = timedelta(seconds=45),
        room_empty_timeout: timedelta = timedelta(minutes=5),
        api_timeout: float = 10.0,
        max_poll_errors: int = 120,
    ) -> None:
        missing = missing_settings(settings, twilio=voice is None, livekit=livekit is None)
        if missing:
            raise ValueError(f"carrier 'twilio' needs {', '.join(missing)}")
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.voice = voice or TwilioVoice.from_settings(settings)
        self.from_number = str(settings.twilio_from_number)
        self.status_callback = str(settings.public_base_url).rstrip("/") + STATUS_CALLBACK_PATH
        self.sip_host = str(settings.livekit_sip_uri_host)
        self.sip_credentials = settings.livekit_sip_credentials
        self.agent_name = settings.agent_name
        self.poll_interval = poll_interval
        self.answer_grace = answer_grace
        self.room_empty_timeout = room_empty_timeout
        self.api_timeout = api_timeout
        self.max_poll_errors = max_poll_errors
        self._given_livekit = livekit
        self._lk_settings = (str(settings.livekit_url), str(settings.livekit_api_key), str(settings.livekit_api_secret))
        self._session: aiohttp.ClientSession | None = None
        self._api: api.LiveKitAPI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- clients -------------------------------------------------------------------------------

    def _lk(self) -> api.LiveKitAPI:
        """The LiveKit client: the one given, or one of ours built lazily in the running loop."""
        if self._given_livekit is not None:
            return self._given_livekit
        loop = asyncio.get_running_loop()
        if self._api is None or self._loop is not loop:
            url, key, secret = self._lk_settings
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.api_timeout))
            self._api = api.LiveKitAPI(url, key, secret, session=self._session)
            self._loop = loop
        return self._api

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._api = None
        self._loop = None

    # ---- Carrier -------------------------------------------------------------------------------

    async def dial(self, request: DialRequest, placed: CallPlaced | None = None) -> DialResult:
        """``placed`` gets the CallSid as soon as Twilio has created the call."""
        dialled_at = datetime.now(UTC)
        if request.agent is None:
            return self._result(
                CallOutcome.FAILED, dialled_at, detail="no agent for this call: not dialled (Twilio calls need one)"
            )
        # Before Twilio is asked: any error raises, and nothing has rung.
        twiml = dial_sip_twiml(
            livekit_sip_uri(room_name_for(request.idempotency_key), self.sip_host), **self.sip_credentials
        )
        lk = self._lk()
        room = await create_call_room(lk, request, agent_name=self.agent_name, empty_timeout=self.room_empty_timeout)

        # From here on the phone may ring: never raise (except cancellation), never create the call again.
        ring_seconds = max(1, round(request.ring_timeout.total_seconds()))
        try:
            try:
                sid = await self.voice.create_call(
                    to=request.contact.phone,
                    from_=request.caller_id or self.from_number,
                    twiml=twiml,
                    status_callback=self.status_callback,
                    timeout_seconds=ring_seconds,
                    machine_detection=True,
                    send_digits=request.contact.extension,
                )
            except InvalidNumberError as err:
                await delete_room(lk, room)
                return self._result(
                    CallOutcome.INVALID_NUMBER,
                    dialled_at,
                    detail=f"Twilio refused the number (error {err.code})",
                    status="failed",
                    error_code=err.code,
                )
            except (TwilioRestException, TwilioServiceException) as err:
                status = int(err.status or 0)
                if 400 <= status < 500:  # refused outright: no call was created
                    await delete_room(lk, room)
                    return self._result(
                        CallOutcome.FAILED,
                        dialled_at,
                        detail=f"Twilio refused the call: HTTP {status} {err}",
                        status="failed",
                        error_code=_error_code(err),
                    )
                return await self._after_unclear_create(room, dialled_at, ring_seconds, f"Twilio HTTP {status} {err}")
            except Exception as err:  # transport error or timeout: the POST may have been applied
                return await self._after_unclear_create(room, dialled_at, ring_seconds, f"{err!r}")
            if placed is not None:
                await self._tell_placed(placed, sid)
            return await self._follow(sid, room, dialled_at)
        except asyncio.CancelledError:
            # The activity was cancelled: closing the room ends the SIP leg of an answered call.
            await asyncio.shield(delete_room(lk, room))
            raise
        except Exception as err:
            logger.exception("call in %s broke off", room)
            await delete_room(lk, room)
            return self._result(CallOutcome.FAILED, dialled_at, detail=f"call broke off: {err!r}")

    async def recover(self, request: DialRequest, call_id: str = "") -> DialResult:
        """Follow the call an earlier attempt placed, never dialling: by its CallSid when that attempt
        recorded it (Twilio then reports the exact outcome), else by its room, if it is or may still be live."""
        dialled_at = datetime.now(UTC)
        lk = self._lk()
        room = room_name_for(request.idempotency_key)
        if call_id:
            return await self._follow(call_id, room, dialled_at)
        try:
            participants = await room_participants(lk, room)
        except Exception as err:
            # Cannot look: raising lets the activity retry recover() later; it never dials.
            raise RuntimeError(f"could not look for call room {room}: {err}") from err
        if participants is None:
            return self._result(CallOutcome.FAILED, dialled_at, detail=CALL_LOST_DETAIL)
        callee = _bridged_callee(participants)
        if callee is None:
            # Nobody bridged yet: the call may still be ringing. The agent joined about when it was placed.
            joined = [_joined_seconds(p) for p in participants if _joined_seconds(p)]
            placed = min(joined) if joined else time.time()
            ring_seconds = max(1, round(request.ring_timeout.total_seconds()))
            callee = await self._await_callee(room, placed + ring_seconds + self.answer_grace.total_seconds())
        if callee is None:
            await delete_room(lk, room)
            return self._result(CallOutcome.FAILED, dialled_at, detail=CALL_LOST_DETAIL)
        return await self._watch_room(room, callee, dialled_at, how="recovered from its room")

    # ---- internals -----------------------------------------------------------------------------

    async def _follow(self, sid: str, room: str, dialled_at: datetime) -> DialResult:
        """Poll Twilio until the call's status is final, close the room, report Twilio's outcome.

        Cancelled (the campaign or contact was cancelled): the call ends at Twilio too, so a phone still
        ringing stops ringing instead of being answered into a closed room.
        """
        try:
            return await self._poll_until_final(sid, room, dialled_at)
        except asyncio.CancelledError:
            await asyncio.shield(self._end_call(sid))
            raise

    async def _tell_placed(self, placed: CallPlaced, sid: str) -> None:
        """The phone may be ringing: a failure to pass the CallSid on is logged, never raised (a retry
        then finds the call by its room instead)."""
        try:
            await placed(sid)
        except Exception as err:
            logger.warning("could not record Twilio call %s: %s", sid, err, extra={"call_id": sid})

    async def _end_call(self, sid: str) -> None:
        try:
            status = await self.voice.end_call(sid)
        except Exception as err:  # the room is closed next anyway, which ends an answered call
            logger.warning("could not end Twilio call %s: %s", sid, err, extra={"call_id": sid})
            return
        logger.info("ended Twilio call %s (was %s)", sid, status, extra={"call_id": sid})

    async def _poll_until_final(self, sid: str, room: str, dialled_at: datetime) -> DialResult:
        errors = 0
        status: CallStatus | None = None
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                status = await self.voice.fetch_call(sid)
                errors = 0
            except Exception as err:
                errors += 1
                if errors >= self.max_poll_errors:
                    await delete_room(self._lk(), room)
                    return self._result(
                        CallOutcome.FAILED,
                        dialled_at,
                        call_id=sid,
                        detail=f"end not observed: {errors} failed looks at Twilio call {sid}, last {err}",
                    )
                continue
            if status.final:
                break
        await delete_room(self._lk(), room)
        outcome = outcome_for(status.status, status.answered_by)
        answered = status.status == "completed"
        if outcome == CallOutcome.COMPLETED:
            detail = "answered; the agent records the conversation's disposition"
        elif outcome == CallOutcome.VOICEMAIL:
            detail = f"answered by a machine ({status.answered_by})"
        else:
            detail = f"Twilio call {status.status}" + (
                f", answered by {status.answered_by}" if status.answered_by else ""
            )
        return self._result(
            outcome,
            dialled_at,
            answered=answered,
            duration=float(status.duration_seconds or 0),
            call_id=sid,
            detail=detail,
            status=status.status,
            answered_by=status.answered_by or "",
        )

    async def _after_unclear_create(self, room: str, dialled_at: datetime, ring_seconds: int, what: str) -> DialResult:
        """Creating the call failed without a clear answer: it may exist. Watch the room, never re-create."""
        logger.warning("Twilio call creation for room %s is unclear (%s); watching the room", room, what)
        deadline = time.time() + ring_seconds + self.answer_grace.total_seconds()
        callee = await self._await_callee(room, deadline)
        if callee is None:
            await delete_room(self._lk(), room)
            return self._result(
                CallOutcome.FAILED,
                dialled_at,
                detail=f"Twilio call creation failed ({what}); no call reached the room; not re-created",
            )
        return await self._watch_room(room, callee, dialled_at, how=f"bridged although call creation failed ({what})")

    async def _await_callee(self, room: str, deadline: float) -> ParticipantInfo | None:
        """Poll the room until a bridged callee is in it (returned), the room is gone, or ``deadline`` passes."""
        while True:
            try:
                participants = await room_participants(self._lk(), room)
            except Exception as err:
                logger.warning("could not look at room %s: %s", room, err)
                participants = []
            if participants is None:
                return None
            callee = _bridged_callee(participants)
            if callee is not None:
                return callee
            if time.time() >= deadline:
                return None
            await asyncio.sleep(min(self.poll_interval, max(0.0, deadline - time.time())))

    async def _watch_room(self, room: str, callee: ParticipantInfo, dialled_at: datetime, *, how: str) -> DialResult:
        """Poll until the bridged callee leaves (or the room closes), then close the room; COMPLETED."""
        call_id = _call_id_of(callee)
        joined = _joined_seconds(callee)
        errors = 0
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                participants = await room_participants(self._lk(), room)
                errors = 0
            except Exception as err:
                errors += 1
                if errors >= self.max_poll_errors:
                    ended_by = f"end not observed: {errors} failed looks at the room, last {err}"
                    break
                continue
            if participants is None:
                ended_by = "the room closed"
                break
            if _bridged_callee(participants) is None:
                ended_by = "the callee hung up"
                break
        await delete_room(self._lk(), room)
        return self._result(
            CallOutcome.COMPLETED,
            dialled_at,
            answered=True,
            duration=max(0.0, time.time() - joined) if joined else 0.0,
            call_id=call_id,
            detail=f"answered ({how}); {ended_by}; the agent records the conversation's disposition",
            status="completed",
        )

    def _result(self, outcome: CallOutcome, dialled_at: datetime, **details: Any) -> DialResult:
        return dial_result(self.name, outcome, dialled_at, **details)


def _error_code(err: TwilioRestException | TwilioServiceException) -> int | None:
    """Twilio's error code of a refusal (20429, 21215, ...), when its answer carried one."""
    code = getattr(err, "code", None)
    return code if isinstance(code, int) else None


def _bridged_callee(participants: list[ParticipantInfo]) -> ParticipantInfo | None:
    """The SIP participant Twilio's leg became, unless it left (disconnected, or call status "hangup")."""
    for participant in participants:
        if (
            participant.kind == ParticipantInfo.Kind.SIP
            and participant.state != ParticipantInfo.State.DISCONNECTED
            and participant.attributes.get("sip.callStatus") != "hangup"
        ):
            return participant
    return None


def _joined_seconds(participant: ParticipantInfo) -> float:
    """When the participant joined, in seconds since the epoch (0 if unknown)."""
    return (participant.joined_at_ms / 1000) if participant.joined_at_ms else float(participant.joined_at)


def _call_id_of(participant: ParticipantInfo) -> str:
    return participant.attributes.get("sip.callID") or participant.sid
