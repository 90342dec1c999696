"""A local stand-in for the parts of the LiveKit server API the SIP carrier uses.

It speaks Twirp with protobuf bodies, as the real server does for livekit-api: ``POST
/twirp/livekit.<Service>/<Method>``, request and response bodies serialized ``livekit.protocol``
messages (``Content-Type: application/protobuf``), and errors as Twirp's JSON
``{"code", "msg", "meta"}`` with the HTTP status Twirp assigns to the code. A failed INVITE is
reported the way the server's ``livekit.SIPStatus`` is (``livekit/protocol`` ``livekit/sip.go``:
``GRPCStatus`` picks the error code, ``TwirpErrorMeta`` adds ``sip_status_code`` and
``sip_status``), so the real client raises ``SipCallError`` with the status in its metadata.

Every request is recorded (method, decoded message, Authorization header, verified JWT claims);
a request without a valid ``Bearer`` token gets ``unauthenticated``, as on the real server.

Scripting, per test: ``sip_script[phone]`` (or ``default_sip``) decides what a dialled number
does: :class:`Answer` (pick up, hang up after ``talk`` seconds), :class:`SipReject` (a final SIP
status) or :class:`ServerFailure` (a Twirp error without SIP status, e.g. a 5xx).
``failures[method]`` makes the next call of a method fail. :meth:`add_participant` puts a callee
in a room as if an earlier, dead attempt had dialled it.

Egress (``livekit.Egress``: ``StartRoomCompositeEgress``, ``StopEgress``, ``ListEgress``): an egress records
until it is stopped or its room is deleted, as the real one does, and then writes a real audio file as long as
it ran (``recording_seconds`` scripts another length): a WAV made with the stdlib, where the real egress writes
the OGG it was asked for (the name it reports says which), into the requested local path or uploaded to the
requested S3-compatible bucket.
"""

import asyncio
import io
import itertools
import math
import struct
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from livekit.api import TokenVerifier
from livekit.api.access_token import Claims
from livekit.protocol.agent_dispatch import AgentDispatch, CreateAgentDispatchRequest
from livekit.protocol.egress import (
    EgressInfo,
    EgressStatus,
    FileInfo,
    ListEgressRequest,
    ListEgressResponse,
    RoomCompositeEgressRequest,
    StopEgressRequest,
)
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.room import (
    CreateRoomRequest,
    DeleteRoomRequest,
    DeleteRoomResponse,
    ListParticipantsRequest,
    ListParticipantsResponse,
)
from livekit.protocol.sip import (
    CreateSIPParticipantRequest,
    SIPParticipantInfo,
    SIPStatus,
    SIPTransferReason,
    SIPTransferStatus,
    TransferSIPParticipantRequest,
    TransferSIPParticipantResponse,
)

API_KEY = "APIstandin"
API_SECRET = "standin-secret-that-is-long-enough-for-hs256"

TWIRP_HTTP_STATUS: dict[str, int] = {
    "canceled": 408,
    "unknown": 500,
    "invalid_argument": 400,
    "malformed": 400,
    "deadline_exceeded": 408,
    "not_found": 404,
    "bad_route": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "unauthenticated": 401,
    "resource_exhausted": 429,
    "failed_precondition": 412,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "dataloss": 500,
}
"""Twirp's error code -> HTTP status table (twitchtv/twirp ``ServerHTTPStatusFromErrorCode``)."""

SIP_TWIRP_CODES: dict[int, str] = {
    404: "not_found",
    408: "deadline_exceeded",
    480: "resource_exhausted",
    484: "invalid_argument",
    486: "resource_exhausted",
    487: "aborted",
    500: "failed_precondition",
    503: "failed_precondition",
    504: "deadline_exceeded",
    600: "resource_exhausted",
    603: "permission_denied",
    604: "not_found",
}
"""The server's SIP status -> error code choices (``sipCodeToGRPCCode``) for the codes tests use."""

SIP_REASONS: dict[int, str] = {
    404: "Not Found",
    408: "Request Timeout",
    480: "Temporarily Unavailable",
    484: "Address Incomplete",
    486: "Busy Here",
    487: "Request Terminated",
    500: "Server Internal Error",
    503: "Service Unavailable",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
}


@dataclass
class Answer:
    """The callee picks up after ``ring`` seconds and hangs up ``talk`` seconds later (never if None)."""

    ring: float = 0.0
    talk: float | None = 0.3


@dataclass
class SipReject:
    """The far end answers the INVITE with a final SIP status after ``ring`` seconds."""

    code: int
    reason: str = ""
    ring: float = 0.0


@dataclass
class ServerFailure:
    """A Twirp error with no SIP status; ``code="unavailable"`` is a 503."""

    code: str = "unavailable"
    msg: str = "service unavailable"


@dataclass
class Recorded:
    service: str
    method: str
    message: Message
    authorization: str
    claims: Claims | None


@dataclass
class StandInEgress:
    info: EgressInfo
    request: RoomCompositeEgressRequest
    started: float


@dataclass
class StandInRoom:
    room: Room
    participants: dict[str, ParticipantInfo] = field(default_factory=dict)
    hangups: list[asyncio.Task[None]] = field(default_factory=list)


class TwirpFailure(Exception):
    def __init__(self, code: str, msg: str, meta: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.meta = meta or {}

    def response(self) -> web.Response:
        body: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.meta:
            body["meta"] = self.meta
        return web.json_response(body, status=TWIRP_HTTP_STATUS.get(self.code, 500))


def sip_failure(code: int, reason: str = "") -> TwirpFailure:
    reason = reason or SIP_REASONS.get(code, "")
    if code in SIP_TWIRP_CODES:
        twirp_code = SIP_TWIRP_CODES[code]
    elif code >= 500 and code < 600:
        twirp_code = "failed_precondition"
    else:
        twirp_code = "invalid_argument"
    meta = {"sip_status_code": str(code), "sip_status": reason or f"SIP_STATUS_{code}"}
    return TwirpFailure(twirp_code, f"sip status {code}: {reason or code}", meta)


class LiveKitStandIn:
    """Run with ``async with LiveKitStandIn() as lk: ... lk.url ...``."""

    def __init__(self, api_key: str = API_KEY, api_secret: str = API_SECRET) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self._verifier = TokenVerifier(api_key, api_secret)
        self.requests: list[Recorded] = []
        self.rooms: dict[str, StandInRoom] = {}
        self.sip_script: dict[str, Answer | SipReject | ServerFailure] = {}
        self.default_sip: Answer | SipReject | ServerFailure = Answer()
        self.failures: dict[str, list[TwirpFailure]] = {}
        self.egresses: dict[str, StandInEgress] = {}
        self.recording_seconds: float | None = None
        """Scripts the length of the files egresses write (None: as long as each ran)."""
        self.add_agent_on_dispatch = True
        self.on_dispatch: Callable[[CreateAgentDispatchRequest], None] | None = None
        """Called with each dispatch, as LiveKit would hand the job to the agent worker (tests start an agent)."""
        self._seen: dict[str, asyncio.Event] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self._handlers = {
            ("livekit.RoomService", "CreateRoom"): (CreateRoomRequest, self._create_room),
            ("livekit.RoomService", "DeleteRoom"): (DeleteRoomRequest, self._delete_room),
            ("livekit.RoomService", "ListParticipants"): (ListParticipantsRequest, self._list_participants),
            ("livekit.AgentDispatchService", "CreateDispatch"): (CreateAgentDispatchRequest, self._create_dispatch),
            ("livekit.SIP", "CreateSIPParticipant"): (CreateSIPParticipantRequest, self._create_sip_participant),
            ("livekit.SIP", "TransferSIPParticipant"): (TransferSIPParticipantRequest, self._transfer),
            ("livekit.Egress", "StartRoomCompositeEgress"): (RoomCompositeEgressRequest, self._start_egress),
            ("livekit.Egress", "StopEgress"): (StopEgressRequest, self._stop_egress),
            ("livekit.Egress", "ListEgress"): (ListEgressRequest, self._list_egress),
        }

    # ---- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/twirp/{service}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        port = sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        for room in self.rooms.values():
            for task in room.hangups:
                task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "LiveKitStandIn":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- scripting and inspection --------------------------------------------------------------

    def fail_next(self, method: str, failure: TwirpFailure | None = None) -> None:
        """Make the next ``method`` request fail (a 503 ``unavailable`` unless told otherwise)."""
        self.failures.setdefault(method, []).append(failure or TwirpFailure("unavailable", "service unavailable"))

    async def wait_for(self, method: str) -> None:
        """Return once a ``method`` request has arrived."""
        await self._seen.setdefault(method, asyncio.Event()).wait()

    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

    def add_room(self, name: str, metadata: str = "") -> StandInRoom:
        room = self.rooms.get(name)
        if room is None:
            room = StandInRoom(
                Room(sid=f"RM_{next(self._ids)}", name=name, metadata=metadata, creation_time=int(time.time()))
            )
            self.rooms[name] = room
        return room

    def add_participant(
        self,
        room_name: str,
        identity: str,
        *,
        kind: ParticipantInfo.Kind.ValueType = ParticipantInfo.Kind.SIP,
        call_status: str = "active",
        hang_up_after: float | None = None,
        joined_seconds_ago: float = 0.0,
    ) -> ParticipantInfo:
        room = self.add_room(room_name)
        joined = time.time() - joined_seconds_ago
        participant = ParticipantInfo(
            sid=f"PA_{next(self._ids)}",
            identity=identity,
            state=ParticipantInfo.State.ACTIVE,
            kind=kind,
            joined_at=int(joined),
            joined_at_ms=int(joined * 1000),
        )
        if kind == ParticipantInfo.Kind.SIP:
            participant.attributes["sip.callID"] = f"SCL_{next(self._ids)}"
            participant.attributes["sip.callStatus"] = call_status
        room.participants[identity] = participant
        if hang_up_after is not None:
            room.hangups.append(asyncio.create_task(self._hang_up_later(room_name, identity, hang_up_after)))
        return participant

    def hang_up(self, room_name: str, identity: str) -> None:
        room = self.rooms.get(room_name)
        if room is not None:
            room.participants.pop(identity, None)

    async def _hang_up_later(self, room_name: str, identity: str, after: float) -> None:
        await asyncio.sleep(after)
        self.hang_up(room_name, identity)

    # ---- HTTP ----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        service, method = request.match_info["service"], request.match_info["method"]
        handler = self._handlers.get((service, method))
        if handler is None:
            return TwirpFailure("bad_route", f"no handler for {service}/{method}").response()
        message_class, handle = handler
        if request.content_type != "application/protobuf":
            return TwirpFailure("malformed", f"unexpected content type {request.content_type}").response()
        message = message_class.FromString(await request.read())
        authorization = request.headers.get("Authorization", "")
        claims: Claims | None = None
        if authorization.startswith("Bearer "):
            try:
                claims = self._verifier.verify(authorization.removeprefix("Bearer "))
            except Exception:
                claims = None
        self.requests.append(Recorded(service, method, message, authorization, claims))
        self._seen.setdefault(method, asyncio.Event()).set()
        if claims is None:
            return TwirpFailure("unauthenticated", "invalid authorization token").response()
        queued = self.failures.get(method)
        try:
            if queued:
                raise queued.pop(0)
            reply = await handle(message)
        except TwirpFailure as failure:
            return failure.response()
        return web.Response(body=reply.SerializeToString(), content_type="application/protobuf")

    # ---- RoomService ---------------------------------------------------------------------------

    async def _create_room(self, req: CreateRoomRequest) -> Room:
        room = self.add_room(req.name, req.metadata)
        room.room.empty_timeout = req.empty_timeout
        return room.room

    async def _delete_room(self, req: DeleteRoomRequest) -> DeleteRoomResponse:
        room = self.rooms.pop(req.room, None)
        if room is None:
            raise TwirpFailure("not_found", "requested room does not exist")
        for task in room.hangups:
            task.cancel()
        for egress in list(self.egresses.values()):  # an egress ends with its room
            if egress.info.room_name == req.room and egress.info.status == EgressStatus.EGRESS_ACTIVE:
                await self._finish_egress(egress)
        return DeleteRoomResponse()

    async def _list_participants(self, req: ListParticipantsRequest) -> ListParticipantsResponse:
        room = self.rooms.get(req.room)
        if room is None:
            raise TwirpFailure("not_found", "requested room does not exist")
        return ListParticipantsResponse(participants=list(room.participants.values()))

    # ---- AgentDispatchService ------------------------------------------------------------------

    async def _create_dispatch(self, req: CreateAgentDispatchRequest) -> AgentDispatch:
        if req.room not in self.rooms:
            self.add_room(req.room)
        if self.add_agent_on_dispatch:
            self.add_participant(req.room, f"agent-AJ_{next(self._ids)}", kind=ParticipantInfo.Kind.AGENT)
        if self.on_dispatch is not None:
            self.on_dispatch(req)
        return AgentDispatch(
            id=f"AD_{next(self._ids)}", agent_name=req.agent_name, room=req.room, metadata=req.metadata
        )

    # ---- SIP -----------------------------------------------------------------------------------

    async def _create_sip_participant(self, req: CreateSIPParticipantRequest) -> SIPParticipantInfo:
        script = self.sip_script.get(req.sip_call_to, self.default_sip)
        if isinstance(script, ServerFailure):
            raise TwirpFailure(script.code, script.msg)
        if isinstance(script, SipReject):
            await asyncio.sleep(script.ring)
            raise sip_failure(script.code, script.reason)
        ring_limit = req.ringing_timeout.ToTimedelta().total_seconds() if req.HasField("ringing_timeout") else 30.0
        if script.ring > ring_limit:
            await asyncio.sleep(ring_limit)
            raise sip_failure(408)
        await asyncio.sleep(script.ring)
        participant = self.add_participant(req.room_name, req.participant_identity, hang_up_after=script.talk)
        participant.attributes["sip.phoneNumber"] = req.sip_call_to
        participant.attributes["sip.trunkID"] = req.sip_trunk_id
        return SIPParticipantInfo(
            participant_id=participant.sid,
            participant_identity=participant.identity,
            room_name=req.room_name,
            sip_call_id=participant.attributes["sip.callID"],
        )

    async def _transfer(self, req: TransferSIPParticipantRequest) -> TransferSIPParticipantResponse:
        room = self.rooms.get(req.room_name)
        if room is None or req.participant_identity not in room.participants:
            raise TwirpFailure("not_found", "participant does not exist")
        # After a successful REFER the SIP participant leaves the room: the call is someone else's now.
        room.participants.pop(req.participant_identity)
        return TransferSIPParticipantResponse(
            transfer_id=f"STR_{next(self._ids)}",
            status=SIPTransferStatus.STS_TRANSFER_SUCCESSFUL,
            reason=SIPTransferReason.STR_COMPLETED,
            sip_status=SIPStatus(code=202, status="Accepted"),
        )

    # ---- Egress --------------------------------------------------------------------------------

    async def _start_egress(self, req: RoomCompositeEgressRequest) -> EgressInfo:
        room = self.rooms.get(req.room_name)
        if room is None:
            raise TwirpFailure("not_found", "requested room does not exist")
        info = EgressInfo(
            egress_id=f"EG_{next(self._ids)}",
            room_id=room.room.sid,
            room_name=req.room_name,
            status=EgressStatus.EGRESS_ACTIVE,
            started_at=time.time_ns(),
            room_composite=req,
        )
        self.egresses[info.egress_id] = StandInEgress(info, req, time.monotonic())
        return info

    async def _stop_egress(self, req: StopEgressRequest) -> EgressInfo:
        egress = self.egresses.get(req.egress_id)
        if egress is None:
            raise TwirpFailure("not_found", "egress does not exist")
        if egress.info.status != EgressStatus.EGRESS_ACTIVE:
            raise TwirpFailure("failed_precondition", "egress is not active")
        await self._finish_egress(egress)
        return egress.info

    async def _list_egress(self, req: ListEgressRequest) -> ListEgressResponse:
        items = [
            e.info
            for e in self.egresses.values()
            if (not req.room_name or e.info.room_name == req.room_name)
            and (not req.egress_id or e.info.egress_id == req.egress_id)
            and (not req.active or e.info.status == EgressStatus.EGRESS_ACTIVE)
        ]
        return ListEgressResponse(items=items)

    async def _finish_egress(self, egress: StandInEgress) -> None:
        """Write the file the egress recorded and mark it complete, as the real one reports it."""
        seconds = self.recording_seconds
        if seconds is None:
            seconds = time.monotonic() - egress.started
        audio = wav_bytes(seconds)
        output = egress.request.file_outputs[0]
        name = output.filepath.rsplit(".", 1)[0] + ".wav"
        if output.HasField("s3"):
            await asyncio.to_thread(_upload, output.s3, name, audio)
            location = f"{output.s3.endpoint}/{output.s3.bucket}/{name}"
        else:
            await asyncio.to_thread(Path(name).write_bytes, audio)
            location = name
        ended = time.time_ns()
        egress.info.file_results.append(
            FileInfo(
                filename=name,
                started_at=egress.info.started_at,
                ended_at=ended,
                duration=int(seconds * 1e9),
                size=len(audio),
                location=location,
            )
        )
        egress.info.ended_at = ended
        egress.info.status = EgressStatus.EGRESS_COMPLETE


SAMPLE_RATE = 8000


def wav_bytes(seconds: float) -> bytes:
    """A mono 16-bit WAV of a quiet 440 Hz tone, ``seconds`` long."""
    frames = round(seconds * SAMPLE_RATE)
    samples = (int(3000 * math.sin(2 * math.pi * 440 * n / SAMPLE_RATE)) for n in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))
    return buffer.getvalue()


def _upload(s3: Any, key: str, body: bytes) -> None:
    """Put the file into the bucket the egress request names, with its credentials, as the egress would."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint or None,
        region_name=s3.region or None,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret,
    )
    client.put_object(Bucket=s3.bucket, Key=key, Body=body, ContentType="audio/wav")


def decoded(message: Message) -> dict[str, Any]:
    """A message's JSON form (proto field names), for readable assertions."""
    return MessageToDict(message, preserving_proto_field_name=True)
