"""What goes to a carrier and what comes back."""

import base64
import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from schemas.agent import AgentConfig
from schemas.causes import CauseClass, CauseRules, classify
from schemas.compliance import DialDecision
from schemas.contact import Contact
from schemas.outcomes import CallOutcome


class CallbackRequest(BaseModel):
    """A time the callee asked to be called back at.

    ``at`` must carry a zone (10:00 means nothing without one); the contact workflow's update validator
    checks that, so a naive time is refused with a sentence rather than a decoding error.
    """

    at: datetime
    reason: str = Field(default="", max_length=500)


class DialRequest(BaseModel):
    idempotency_key: str = Field(description="contact workflow id + attempt number: one dial at most per key")
    campaign_id: str
    contact: Contact
    attempt: int = Field(ge=1)
    calls_per_second: float = Field(gt=0, description="Pacing the dialler enforces where the call leaves")
    ring_timeout: timedelta = timedelta(seconds=30)
    workflow_id: str
    is_callback: bool = Field(default=False, description="This dial keeps a callback the person asked for")
    agent: AgentConfig | None = Field(default=None, description="Snapshot of the agent that talks on this call")
    context: dict[str, Any] = Field(default_factory=dict, description="The call's context when it was dialled")
    org_id: str | None = Field(default=None, description="Whose dial: caps and do-not-call are per organization")
    decision: DialDecision | None = Field(
        default=None, description="Why the dial is allowed (the workflow's policy check): stored with the attempt"
    )
    causes: CauseRules | None = Field(
        default=None, description="The campaign's classes of network results, applied to this dial's result"
    )
    caller_id: str | None = Field(
        default=None,
        description="The number the call shows (E.164), chosen by the dial activity from the campaign's caller-ID "
        "pool; None: the carrier's own (Twilio's from number, the SIP trunk's)",
    )


class DialResult(BaseModel):
    """What the network said about one dial: facts only.

    ``outcome`` is a network outcome (:data:`~schemas.outcomes.NETWORK_OUTCOMES`: an answered call is
    ``COMPLETED``, or ``VOICEMAIL`` when machine detection says so); what the conversation came to is
    the agent's disposition, which the workflow combines with these facts.
    """

    outcome: CallOutcome
    answered: bool = False
    dialled_at: datetime | None = None
    duration_seconds: float = 0.0
    carrier: str = ""
    carrier_call_id: str = ""
    detail: str = ""
    network_status: str = Field(default="", description="The carrier's final call status, e.g. Twilio's 'no-answer'")
    status_code: int | None = Field(default=None, description="The SIP response code, when the network gave one")
    error_code: int | None = Field(default=None, description="Twilio's error code, when Twilio gave one (e.g. 21211)")
    answered_by: str = Field(
        default="", description="Machine detection's verdict: human, machine_start, ..., unknown; empty if unanswered"
    )

    cause: CauseClass | None = Field(
        default=None,
        description="What the result means for the next dial (schemas.causes.classify); set with the result",
    )

    def classified(self, rules: CauseRules | None) -> "DialResult":
        """This result with its cause class under the campaign's ``rules`` (see :func:`schemas.causes.classify`)."""
        cause = classify(
            outcome=self.outcome,
            answered=self.answered,
            status_code=self.status_code,
            error_code=self.error_code,
            network_status=self.network_status,
            answered_by=self.answered_by,
            rules=rules,
        )
        return self.model_copy(update={"cause": cause})

    @property
    def answered_by_machine(self) -> bool:
        return self.outcome == CallOutcome.VOICEMAIL or self.answered_by.startswith("machine")


# ---- call ids: how the API names one call (``/v1/calls/{id}``) ------------------------------------

OUTBOUND_CALL_PREFIX = "out_"
INBOUND_CALL_PREFIX = "in_"


def outbound_call_id(campaign_id: str, external_id: str, attempt: int) -> str:
    raw = json.dumps([campaign_id, external_id, attempt], separators=(",", ":")).encode()
    return OUTBOUND_CALL_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def inbound_call_id(call_sid: str) -> str:
    return INBOUND_CALL_PREFIX + call_sid
