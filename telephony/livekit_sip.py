"""Real phone calls: LiveKit rooms, an explicitly dispatched agent, and an outbound SIP trunk.

One call is one LiveKit room, named after the dial's idempotency key (:func:`room_name_for`), so
a later activity attempt finds the call again from the key alone. ``dial``:

1. ``CreateRoom`` with the :class:`~schemas.agent.CallJob` JSON as metadata,
2. ``CreateDispatch`` for ``settings.agent_name`` with the same JSON as the job metadata (the voice
   worker reads ``ctx.job.metadata``),
3. ``CreateSIPParticipant`` through ``settings.livekit_sip_outbound_trunk_id``, waiting until the
   callee answers (or the network says busy, unallocated, ...),
4. polls ``ListParticipants`` until the callee's participant is gone or the room is, then deletes
   the room (which also disconnects the agent).

Errors before step 3 raise, the activity fails and its retry goes to :meth:`recover`, which never
dials. From step 3 on, nothing raises except cancellation: a request that may have reached the
phone network must not be replayed, so every failure there becomes a :class:`DialResult`.

For the same reason the SIP requests go through a client built with ``failover=False``: the
livekit-api client otherwise replays a request that got a 5xx or a transport error against other
LiveKit Cloud regions (``livekit/api/_failover.py``), and a replayed ``CreateSIPParticipant`` is a
second ring.

It reports network facts only: an answered call is ``COMPLETED`` (SIP 200, ``answered_by``
"unknown"), a refused one carries the SIP code and reason. What the conversation came to
(qualified, callback, not interested, ...) is the agent's disposition, recorded through the
workflow. Answering-machine detection is out of scope here: a voicemail greeting that picks up is
an answered call to this carrier, and the agent reports the machine it hears.
"""

import asyncio
import hashlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from livekit import api
from livekit.protocol.agent_dispatch import CreateAgentDispatchRequest
from livekit.protocol.models import ParticipantInfo
from livekit.protocol.room import CreateRoomRequest, DeleteRoomRequest, ListParticipantsRequest
from livekit.protocol.sip import (
    CreateSIPParticipantRequest,
    SIPParticipantInfo,
    TransferSIPParticipantRequest,
    TransferSIPParticipantResponse,
)
from opentelemetry import propagate

from schemas.agent import AgentConfig, CallJob
from schemas.calls import DialRequest, DialResult
from schemas.outcomes import CallOutcome
from schemas.settings import Settings
from telephony.base import CALL_LOST_DETAIL, CallPlaced, dial_result

logger = logging.getLogger(__name__)

ROOM_PREFIX = "call-"

SIP_STATUS_OUTCOMES: dict[int, CallOutcome] = {
    486: CallOutcome.BUSY,  # Busy Here
    600: CallOutcome.BUSY,  # Busy Everywhere
    480: CallOutcome.NO_ANSWER,  # Temporarily Unavailable
    408: CallOutcome.NO_ANSWER,  # Request Timeout (the ring timed out)
    487: CallOutcome.NO_ANSWER,  # Request Terminated (the INVITE was cancelled while ringing)
    404: CallOutcome.INVALID_NUMBER,  # Not Found
    484: CallOutcome.INVALID_NUMBER,  # Address Incomplete
    604: CallOutcome.INVALID_NUMBER,  # Does Not Exist Anywhere
    603: CallOutcome.BUSY,  # Decline: the callee's phone refused the call
}
"""Final SIP responses to the INVITE as network outcomes; anything else is FAILED."""

RINGING_CALL_STATUSES = frozenset({"dialing", "ringing"})
"""Values of a SIP participant's ``sip.callStatus`` attribute before the far end picks up."""


def room_name_for(idempotency_key: str) -> str:
    """The call's room: deterministic (so ``recover`` finds it) and safe as a LiveKit room name."""
    return ROOM_PREFIX + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def callee_identity(attempt: int) -> str:
    return f"callee-{attempt}"


def transfer_uri(transfer_to: str) -> str:
    """``+15551234567`` becomes ``tel:+15551234567``; ``tel:`` and ``sip:`` URIs pass unchanged."""
    target = transfer_to.strip()
    if not target:
        raise ValueError("transfer_to is empty")
    if target.startswith(("tel:", "sip:", "sips:")):
        return target
    return f"tel:{target}"


def outcome_for_sip_status(code: int | None) -> CallOutcome:
    if code is None:
        return CallOutcome.FAILED
    return SIP_STATUS_OUTCOMES.get(code, CallOutcome.FAILED)


def sip_status_of(error: api.TwirpError) -> tuple[int | None, str]:
    """The SIP status code and reason the server attached to a Twirp error's metadata, if any.

    The LiveKit server puts the ``livekit.SIPStatus`` of a failed INVITE into the Twirp error's
    ``meta`` as ``sip_status_code`` (a decimal string) and ``sip_status`` (the reason phrase);
    livekit-api surfaces both in ``ServerError.metadata`` (and as properties on ``SipCallError``).
    """
    metadata = error.metadata or {}
    raw = metadata.get("sip_status_code")
    code: int | None
    try:
        code = int(raw) if raw is not None else None
    except ValueError:
        code = None
    return code, metadata.get("sip_status", "")


def call_job_json(request: DialRequest, agent: AgentConfig) -> str:
    """The :class:`~schemas.agent.CallJob` JSON a call's room and agent dispatch carry as metadata.

    It carries the current span's context too, so the voice worker's spans continue the dial's trace.
    """
    trace_context: dict[str, str] = {}
    propagate.inject(trace_context)
    return CallJob(
        workflow_id=request.workflow_id,
        campaign_id=request.campaign_id,
        attempt=request.attempt,
        contact=request.contact,
        agent=agent,
        context=request.context,
        trace_context=trace_context,
    ).model_dump_json()


async def create_call_room(
    lk: api.LiveKitAPI, request: DialRequest, *, agent_name: str, empty_timeout: timedelta
) -> str:
    """Create the attempt's room (:func:`room_name_for`, CallJob metadata) and dispatch ``agent_name`` to it.

    Returns the room name. Any error raises: nothing has rung yet, so the activity may retry.
    Shared by every carrier that puts a call into a LiveKit room.
    """
    if request.agent is None:
        raise ValueError("a LiveKit call room needs an agent")
    room = room_name_for(request.idempotency_key)
    job = call_job_json(request, request.agent)
    await lk.room.create_room(
        CreateRoomRequest(name=room, metadata=job, empty_timeout=int(empty_timeout.total_seconds()))
    )
    await lk.agent_dispatch.create_dispatch(CreateAgentDispatchRequest(agent_name=agent_name, room=room, metadata=job))
    return room


async def room_participants(lk: api.LiveKitAPI, room: str) -> list[ParticipantInfo] | None:
    """The room's participants; ``None`` if the room does not exist (any other error raises)."""
    try:
        response = await lk.room.list_participants(ListParticipantsRequest(room=room))
    except api.TwirpError as err:
        if err.code == api.TwirpErrorCode.NOT_FOUND:
            return None
        raise
    return list(response.participants)


async def delete_room(lk: api.LiveKitAPI, room: str) -> None:
    """Close the room (hangs up whoever is left); a room already gone is fine, other errors logged."""
    try:
        await lk.room.delete_room(DeleteRoomRequest(room=room))
    except api.TwirpError as err:
        if err.code != api.TwirpErrorCode.NOT_FOUND:
            logger.warning("could not delete room %s: %s", room, err)
    except Exception as err:
        logger.warning("could not delete room %s: %r", room, err)


class LiveKitSipCarrier:
    """A :class:`~telephony.base.Carrier` that calls real phones through LiveKit SIP.

    ``poll_interval`` is how often the end of an answered call is looked for. ``room_empty_timeout``
    lets LiveKit close a room nobody joined (a dial that died before the callee did).
    ``max_call_duration`` is passed to LiveKit, which hangs up calls that run longer.
    """

    name = "livekit_sip"

    def __init__(
        self,
        settings: Settings,
        *,
        poll_interval: float = 1.0,
        room_empty_timeout: timedelta = timedelta(minutes=5),
        max_call_duration: timedelta = timedelta(hours=1),
        api_timeout: float = 10.0,
        max_poll_errors: int = 120,
    ) -> None:
        if not settings.livekit_configured:
            raise ValueError("LiveKit is not configured: set RINGFLOW_LIVEKIT_URL, _API_KEY and _API_SECRET")
        if not settings.livekit_sip_outbound_trunk_id:
            raise ValueError("RINGFLOW_LIVEKIT_SIP_OUTBOUND_TRUNK_ID is not set")
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self._url = str(settings.livekit_url)
        self._key = str(settings.livekit_api_key)
        self._secret = str(settings.livekit_api_secret)
        self.trunk_id = settings.livekit_sip_outbound_trunk_id
        self.agent_name = settings.agent_name
        self.poll_interval = poll_interval
        self.room_empty_timeout = room_empty_timeout
        self.max_call_duration = max_call_duration
        self.api_timeout = api_timeout
        self.max_poll_errors = max_poll_errors
        self._session: aiohttp.ClientSession | None = None
        self._api: api.LiveKitAPI | None = None
        self._sip_api: api.LiveKitAPI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- clients -------------------------------------------------------------------------------

    def _clients(self) -> tuple[api.LiveKitAPI, api.LiveKitAPI]:
        """(rooms and dispatch, SIP) clients on one session, built lazily in the running loop.

        The SIP client never fails over: see the module docstring.
        """
        loop = asyncio.get_running_loop()
        if self._api is None or self._sip_api is None or self._loop is not loop:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.api_timeout))
            self._api = api.LiveKitAPI(self._url, self._key, self._secret, session=self._session)
            self._sip_api = api.LiveKitAPI(self._url, self._key, self._secret, session=self._session, failover=False)
            self._loop = loop
        return self._api, self._sip_api

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._api = self._sip_api = None
        self._loop = None

    # ---- Carrier -------------------------------------------------------------------------------

    async def dial(self, request: DialRequest, placed: CallPlaced | None = None) -> DialResult:
        """The call's room and SIP participant are named after the request, so ``placed`` is not needed."""
        dialled_at = datetime.now(UTC)
        if request.agent is None:
            return self._result(
                CallOutcome.FAILED, dialled_at, detail="no agent for this call: not dialled (LiveKit calls need one)"
            )
        lk, lk_sip = self._clients()
        identity = callee_identity(request.attempt)

        # Before the SIP request: any error raises, and nothing has rung.
        room = await create_call_room(lk, request, agent_name=self.agent_name, empty_timeout=self.room_empty_timeout)

        # From here on the phone may ring: never raise (except cancellation), never resend.
        ring_seconds = max(1, round(request.ring_timeout.total_seconds()))
        sip_request = CreateSIPParticipantRequest(
            sip_trunk_id=self.trunk_id,
            sip_call_to=request.contact.phone,
            room_name=room,
            participant_identity=identity,
            participant_name=request.contact.name,
            dtmf=request.contact.extension,  # LiveKit sends the digits once the callee picks up
            wait_until_answered=True,
            play_dialtone=False,
        )
        if request.caller_id:  # the pool's number for this dial; else the outbound trunk's own
            sip_request.sip_number = request.caller_id
        sip_request.ringing_timeout.FromTimedelta(timedelta(seconds=ring_seconds))
        sip_request.max_call_duration.FromTimedelta(self.max_call_duration)
        try:
            try:
                info: SIPParticipantInfo = await lk_sip.sip.create_sip_participant(sip_request)
            except api.TwirpError as err:
                code, reason = sip_status_of(err)
                if code is not None or err.status < 500:
                    await self._delete_room(room)
                    return self._failed_dial(err, code, reason, dialled_at)
                # A 5xx without a SIP status: the call may or may not be up. Look before deciding.
                return await self._after_unclear_dial(room, identity, dialled_at, f"server error {err}")
            except (aiohttp.ClientError, TimeoutError) as err:
                return await self._after_unclear_dial(room, identity, dialled_at, f"transport error {err!r}")
            answered_at = time.monotonic()
            call_id = info.sip_call_id or info.participant_id
            return await self._watch(
                room, identity, dialled_at, call_id=call_id, answered=True, answered_monotonic=answered_at
            )
        except asyncio.CancelledError:
            # The activity was cancelled (the campaign or contact was): hang up, as the sim does.
            await asyncio.shield(self._delete_room(room))
            raise
        except Exception as err:
            logger.exception("call in %s broke off", room)
            await self._delete_room(room)
            return self._result(CallOutcome.FAILED, dialled_at, detail=f"call broke off: {err!r}")

    async def recover(self, request: DialRequest, call_id: str = "") -> DialResult:
        """Watch the call an earlier attempt placed, if its callee is still in the room; never dial."""
        dialled_at = datetime.now(UTC)
        room = room_name_for(request.idempotency_key)
        identity = callee_identity(request.attempt)
        try:
            participant = await self._find(room, identity)
        except Exception as err:
            # Cannot look: raising lets the activity retry recover() later; it never dials.
            raise RuntimeError(f"could not look for call room {room}: {err}") from err
        if participant is None:
            await self._delete_room(room)
            return self._result(CallOutcome.FAILED, dialled_at, detail=CALL_LOST_DETAIL)
        return await self._watch_found(room, identity, dialled_at, participant)

    # ---- transfer ------------------------------------------------------------------------------

    async def transfer_call(
        self,
        room_name: str,
        participant_identity: str,
        transfer_to: str,
        *,
        play_dialtone: bool = False,
        ringing_timeout: timedelta | None = None,
    ) -> TransferSIPParticipantResponse:
        """Hand the callee over to ``transfer_to`` (``+1...`` or a ``tel:``/``sip:`` URI) by SIP REFER.

        For the agent's ``transfer_to_human``. Raises livekit-api's ``SipCallError`` when the transfer
        fails (its ``sip_status_code`` / ``sip_transfer_reason`` say why); never retried here, since
        a transfer rings someone too.
        """
        _, lk_sip = self._clients()
        transfer = TransferSIPParticipantRequest(
            room_name=room_name,
            participant_identity=participant_identity,
            transfer_to=transfer_uri(transfer_to),
            play_dialtone=play_dialtone,
        )
        if ringing_timeout is not None:
            transfer.ringing_timeout.FromTimedelta(ringing_timeout)
        return await lk_sip.sip.transfer_sip_participant(transfer)

    # ---- internals -----------------------------------------------------------------------------

    async def _participants(self, room: str) -> list[ParticipantInfo] | None:
        """The room's participants; ``None`` if the room does not exist (any other error raises)."""
        lk, _ = self._clients()
        return await room_participants(lk, room)

    async def _find(self, room: str, identity: str) -> ParticipantInfo | None:
        return _callee_in(await self._participants(room) or [], identity)

    async def _after_unclear_dial(self, room: str, identity: str, dialled_at: datetime, what: str) -> DialResult:
        """``CreateSIPParticipant`` failed without a SIP answer: the callee may be on the line anyway."""
        try:
            participant = await self._find(room, identity)
        except Exception as err:
            logger.warning("could not check room %s after %s: %s", room, what, err)
            participant = None
        if participant is None:
            await self._delete_room(room)
            return self._result(CallOutcome.FAILED, dialled_at, detail=f"dial failed: {what}")
        return await self._watch_found(room, identity, dialled_at, participant)

    async def _watch_found(
        self, room: str, identity: str, dialled_at: datetime, participant: ParticipantInfo
    ) -> DialResult:
        """Watch a callee found already in the room (a recovered or unclearly placed call)."""
        return await self._watch(
            room,
            identity,
            dialled_at,
            call_id=_call_id_of(participant),
            answered=_is_answered(participant),
            joined_ms=participant.joined_at_ms or participant.joined_at * 1000,
        )

    async def _watch(
        self,
        room: str,
        identity: str,
        dialled_at: datetime,
        *,
        call_id: str,
        answered: bool,
        answered_monotonic: float | None = None,
        joined_ms: int = 0,
    ) -> DialResult:
        """Poll until the callee leaves (or the room closes), then close the room and report."""
        errors = 0
        ended_by = ""
        while True:
            try:
                participants = await self._participants(room)
                errors = 0
            except Exception as err:
                errors += 1
                if errors >= self.max_poll_errors:
                    ended_by = f"end not observed: {errors} failed looks at the room, last {err}"
                    break
                await asyncio.sleep(self.poll_interval)
                continue
            if participants is None:
                ended_by = "the room closed"
                break
            callee = _callee_in(participants, identity)
            if callee is None:
                ended_by = "the callee hung up" if answered else "the call ended before it was answered"
                break
            call_id = call_id or _call_id_of(callee)
            if not answered and _is_answered(callee):
                answered = True
                answered_monotonic = time.monotonic()
            if not joined_ms:
                joined_ms = callee.joined_at_ms or callee.joined_at * 1000
            await asyncio.sleep(self.poll_interval)
        await self._delete_room(room)
        if not answered:
            return self._result(
                CallOutcome.NO_ANSWER,
                dialled_at,
                call_id=call_id,
                detail=f"not answered: {ended_by}",
                status="no-answer",
            )
        if answered_monotonic is not None:
            duration = time.monotonic() - answered_monotonic
        elif joined_ms:
            duration = max(0.0, time.time() - joined_ms / 1000)
        else:
            duration = 0.0
        return self._result(
            CallOutcome.COMPLETED,
            dialled_at,
            answered=True,
            duration=duration,
            call_id=call_id,
            detail=f"answered; {ended_by}; the agent records the conversation's disposition",
            status="completed",
            code=200,
        )

    async def _delete_room(self, room: str) -> None:
        """Close the room (hangs up whoever is left); a room already gone is fine, other errors logged."""
        lk, _ = self._clients()
        await delete_room(lk, room)

    def _failed_dial(self, err: api.TwirpError, code: int | None, reason: str, dialled_at: datetime) -> DialResult:
        if code is not None:
            outcome = outcome_for_sip_status(code)
            detail = f"SIP {code} {reason}".rstrip()
            status = reason or outcome.value
        elif err.code == api.TwirpErrorCode.DEADLINE_EXCEEDED:
            outcome = CallOutcome.NO_ANSWER
            detail = f"ring timeout ({err.message})"
            status = "ring timeout"
        else:
            outcome = CallOutcome.FAILED
            detail = f"dial refused: {err.code} {err.message}".rstrip()
            status = str(err.code)
        return self._result(outcome, dialled_at, detail=detail, status=status, code=code)

    def _result(self, outcome: CallOutcome, dialled_at: datetime, **details: Any) -> DialResult:
        return dial_result(self.name, outcome, dialled_at, **details)


def _callee_in(participants: list[ParticipantInfo], identity: str) -> ParticipantInfo | None:
    """The callee, unless it left: disconnected, or still listed with ``sip.callStatus`` "hangup"."""
    for participant in participants:
        if (
            participant.identity == identity
            and participant.state != ParticipantInfo.State.DISCONNECTED
            and participant.attributes.get("sip.callStatus") != "hangup"
        ):
            return participant
    return None


def _call_id_of(participant: ParticipantInfo) -> str:
    return participant.attributes.get("sip.callID") or participant.sid


def _is_answered(participant: ParticipantInfo) -> bool:
    """Whether the callee picked up; a SIP participant without a call status is taken as answered."""
    return participant.attributes.get("sip.callStatus", "") not in RINGING_CALL_STATUSES
