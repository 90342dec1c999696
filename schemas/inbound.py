"""Inbound calls: the workflow's input, its update and signal payloads, and its activities' contracts."""

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from schemas.agent import AgentConfig
from schemas.calls import CallbackRequest
from schemas.contact import Contact
from schemas.outcomes import FinalOutcome

INBOUND_CAMPAIGN_ID = "inbound"
"""The campaign id the agent's records of inbound calls are stored under (with the CallSid as external id)."""

FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
KNOWN_CALL_STATUSES = FINAL_CALL_STATUSES | {"queued", "initiated", "ringing", "in-progress", "answered"}
NO_END_REPORTED = "timeout"
"""The status the call's workflow records itself when Twilio never reported the call's end within the longest a
call may last. Twilio never sends it, so a webhook carrying it is still refused."""
"""Every ``CallStatus`` and ``DialCallStatus`` Twilio sends; anything else is no report of Twilio's."""
INBOUND_CALLBACK_HORIZON = timedelta(days=14)
MAX_CALL_DURATION_SECONDS = 24 * 3600
"""Twilio ends any call after at most 24 hours (``timeLimit``): a longer reported duration is no real one."""

MAX_INBOUND_CALL_LENGTH = timedelta(hours=1)
"""How long an inbound call may last: the workflow waits this long for Twilio's end, and the ``<Dial>``'s
``timeLimit`` makes Twilio end the call then too (its default is four hours)."""


class CallKind(StrEnum):
    """How the person reached the agent: a phone call through Twilio, a web call from the dashboard (the browser in
    the call's LiveKit room), or a text chat on the agent's page (no room: the agent runs in the API's process)."""

    PHONE = "phone"
    WEB = "web"
    TEST = "test"


WEB_CALL_PREFIX = {CallKind.WEB: "web-", CallKind.TEST: "chat-"}
"""The first letters of a dashboard call's id (its ``call_sid``), so it never meets a Twilio CallSid."""


def inbound_workflow_id(call_sid: str) -> str:
    return f"inbound-{call_sid}"


class InboundActivityName:
    PREPARE_ROOM = "prepare_inbound_room"
    DELETE_ROOM = "delete_inbound_room"
    RECORD_CALL = "record_inbound_call"
    FINISH_CALL = "finish_inbound_call"
    START_CALLBACK = "start_inbound_callback"


class InboundCallInput(BaseModel):
    call_sid: str = Field(min_length=1, max_length=64)
    from_number: str
    to_number: str
    agent: AgentConfig
    org_id: str | None = Field(default=None, description="The organization the dialled number belongs to")
    kind: CallKind = Field(default=CallKind.PHONE, description="phone: Twilio's; web, test: the dashboard's")


class PreparedCall(BaseModel):
    sip_uri: str = Field(default="", description="Where Twilio bridges a phone call; empty for the dashboard's")
    room: str = Field(default="", description="The call's LiveKit room; empty for a text chat")


class CallStatusUpdate(BaseModel):
    """Twilio's report of the call: ``CallStatus`` (or the ``<Dial>`` action's ``DialCallStatus``) and, once
    final, ``CallDuration`` (``DialCallDuration``) in seconds. A duration that is no real one (negative, nan,
    infinite, longer than Twilio lets a call last) is refused here too, so it can never reach the store."""

    status: str = Field(min_length=1, max_length=32)
    duration_seconds: float | None = Field(default=None, ge=0, le=MAX_CALL_DURATION_SECONDS, allow_inf_nan=False)

    @field_validator("status")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in KNOWN_CALL_STATUSES:
            raise ValueError(f"{value[:32]!r} is not a call status Twilio sends")
        return value


class InboundCallState(BaseModel):
    call_sid: str
    room: str | None = None
    status: str = "ringing"
    duration_seconds: float | None = None
    notes_taken: int = 0
    transcript_segments: int = 0
    end_reason: str = ""
    transfer_requested: str = ""
    callback_workflow_id: str | None = None
    disposition: str | None = Field(default=None, description="What the agent recorded the call came to")
    outcome: FinalOutcome | None = Field(default=None, description="Derived from the disposition and the status")


class PrepareRoomRequest(BaseModel):
    workflow_id: str
    call_sid: str
    contact: Contact
    agent: AgentConfig
    context: dict = Field(default_factory=dict)
    kind: CallKind = Field(default=CallKind.PHONE, description="A web call's room needs no SIP URI")


class InboundCallRecord(BaseModel):
    call_sid: str
    to_number: str
    from_number: str
    agent_name: str
    status: str = "in-progress"
    kind: CallKind = CallKind.PHONE
    org_id: str | None = Field(default=None, description="Given for a dashboard call; a phone call's is its number's")


class InboundCallEnd(BaseModel):
    call_sid: str
    status: str
    duration_seconds: float | None = None
    outcome: FinalOutcome | None = Field(default=None, description="Derived from the disposition and the status")
    disposition: str | None = None


class RoomToDelete(BaseModel):
    room: str


class InboundCallbackRequest(BaseModel):
    """Start (or reuse) the caller's ContactWorkflow under campaign ``inbound`` with the callback booked."""

    contact: Contact
    agent: AgentConfig
    callback: CallbackRequest
    org_id: str | None = Field(default=None, description="The organization the caller rang: its list and policy apply")


class InboundCallbackStarted(BaseModel):
    workflow_id: str
    scheduled_for: datetime
