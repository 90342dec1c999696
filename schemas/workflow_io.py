"""Inputs, outputs, signals and queries of the campaign and contact workflows."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator

from schemas.agent import AgentConfig, SharedInformation
from schemas.calls import CallbackRequest
from schemas.campaign import CampaignSettings
from schemas.causes import CauseClass
from schemas.compliance import CallingPolicy
from schemas.contact import Contact, ContactRef
from schemas.outcomes import CallOutcome, FinalOutcome

CAMPAIGN_WORKFLOW_PREFIX = "campaign-"


def campaign_workflow_id(campaign_id: str) -> str:
    return f"{CAMPAIGN_WORKFLOW_PREFIX}{campaign_id}"


def contact_workflow_id(campaign_id: str, external_id: str) -> str:
    return f"contact-{campaign_id}-{external_id}"


def attempt_idempotency_key(contact_workflow_id: str, attempt: int) -> str:
    return f"{contact_workflow_id}#{attempt}"


class ContactPhase(StrEnum):
    STARTING = "starting"
    WAITING_WINDOW = "waiting_window"
    WAITING_SLOT = "waiting_slot"
    IN_CALL = "in_call"
    WAITING_RETRY = "waiting_retry"
    WAITING_CALLBACK = "waiting_callback"
    FINISHED = "finished"


class CampaignStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


# ---- contact workflow ---------------------------------------------------------------------------


class ContactWorkflowInput(BaseModel):
    """A contact workflow's start: the contact itself (an inbound caller's callback, tests) or, from a
    campaign, its reference only; the workflow then loads the contact with its first dial check."""

    campaign_id: str
    contact: Contact | None = None
    ref: ContactRef | None = Field(default=None, description="Always set once validated: given, or the contact's")
    settings: CampaignSettings
    campaign_workflow_id: str | None = Field(
        default=None, description="Where to ask for a dial slot; None dials without campaign pacing"
    )
    slot_granted: bool = Field(
        default=False, description="Started holding a dial slot: the campaign had one free and the window was open"
    )
    agent: AgentConfig | None = Field(default=None, description="Snapshot of the agent for this contact's calls")
    org_id: str | None = Field(default=None, description="The organization whose do-not-call list and caps apply")
    policy: CallingPolicy = Field(
        default_factory=CallingPolicy,
        description="The organization's calling policy when the contact started; each dial checks the current one",
    )

    @model_validator(mode="after")
    def _reference(self) -> "ContactWorkflowInput":
        if self.ref is None:
            if self.contact is None:
                raise ValueError("a contact workflow needs its contact or a reference to it")
            self.ref = ContactRef.of(self.contact)
        return self

    @property
    def reference(self) -> ContactRef:
        assert self.ref is not None  # set by the validator
        return self.ref


class AttemptSummary(BaseModel):
    attempt: int
    dialled_at: datetime
    outcome: CallOutcome = Field(description="What the attempt came to: derived from the disposition and the network")
    detail: str = ""
    disposition: str | None = Field(default=None, description="What the agent recorded on this call, if anything")
    answered_by: str = Field(default="", description="The network's machine-detection verdict")
    cause: CauseClass | None = Field(default=None, description="The result's class: final, person or network retry")


class ContactState(BaseModel):
    campaign_id: str
    external_id: str
    phase: ContactPhase = ContactPhase.STARTING
    attempts: list[AttemptSummary] = Field(default_factory=list)
    next_dial_at: datetime | None = None
    callback: CallbackRequest | None = None
    final_outcome: FinalOutcome | None = None
    final_reason: str = ""
    information: list[SharedInformation] = Field(default_factory=list)
    notes_taken: int = 0
    transcript_segments: int = 0
    end_reason: str = ""
    transfer_requested: str = ""


class CallbackConfirmation(BaseModel):
    scheduled_for: datetime = Field(description="When the redial will happen, inside the calling window")
    requested_for: datetime
    moved_into_window: bool
    replaced_earlier: bool


class ReasonInput(BaseModel):
    reason: str = Field(default="", max_length=500)


class ContextUpdate(BaseModel):
    data: dict[str, Any]
    replace: bool = Field(default=False, description="Replace the whole context instead of merging keys")


class NotInterestedInput(ReasonInput):
    do_not_call: bool = Field(default=False, description="The callee asked never to be called again")


# ---- campaign <-> contact slot protocol (signals) ------------------------------------------------


class CampaignMessage(StrEnum):
    """The campaign workflow's signals that contact workflows send, by name.

    ``workflows/contact.py`` cannot import ``workflows/campaign.py`` (which imports it), so the
    campaign declares its handlers with these names and contacts send them by these names: the one
    place a name is spelled. Everything else is sent by method reference.
    """

    REQUEST_SLOT = "request_slot"
    RELEASE_SLOT = "release_slot"
    WAITING_FOR_WINDOW = "waiting_for_window"
    CONTACT_FINISHED = "contact_finished"


class SlotRequest(BaseModel):
    contact_workflow_id: str
    priority: int = 0
    returning_from: ContactPhase = ContactPhase.STARTING


class SlotRelease(BaseModel):
    """Outcomes are not in it: the store owns them (attempts and contacts); the campaign only moves
    the contact between its in-flight phases."""

    contact_workflow_id: str
    next_phase: ContactPhase
    dial: "DialReport | None" = Field(default=None, description="The dial the slot was held for, if one went out")


class DialReport(BaseModel):
    """What the campaign's circuit breaker needs of one dial: its class, and the attempt to name if it trips."""

    attempt_key: str
    cause: CauseClass


class WaitingForWindow(BaseModel):
    """Sent by a started contact that parks until its calling window opens, so it frees the campaign's lookahead."""

    contact_workflow_id: str


class ContactFinished(BaseModel):
    """Sent by a contact that ends while parked (cancelled or not interested between calls)."""

    contact_workflow_id: str
    left_phase: ContactPhase


# ---- campaign workflow ---------------------------------------------------------------------------


class CampaignProgress(BaseModel):
    """What the campaign workflow owns: the contacts in flight, by phase, and whether it is done.

    Outcomes and dials are not here: the store owns them (``contacts.final_outcome``, ``call_attempts``);
    ``api.services.campaigns.progress`` puts the two views side by side.
    """

    campaign_id: str
    status: CampaignStatus = CampaignStatus.RUNNING
    total: int = Field(default=0, description="Contacts known to the campaign")
    started: int = Field(default=0, description="Contacts whose workflow the campaign started")
    starting: int = Field(default=0, description="Started, and not yet in any phase below (their workflow just began)")
    waiting_window: int = Field(default=0, description="Parked until their local calling hours open")
    waiting_slot: int = 0
    in_call: int = 0
    waiting_retry: int = 0
    waiting_callback: int = 0
    finished: int = Field(default=0, description="Contacts with a final outcome (recorded in the store first)")
    pause_reason: str = Field(default="", description="Why the campaign is paused when it paused itself (its breaker)")
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)


class CampaignWorkflowInput(BaseModel):
    campaign_id: str
    settings: CampaignSettings
    agent: AgentConfig | None = Field(default=None, description="Snapshot of the agent taken when the campaign began")
    org_id: str | None = Field(default=None, description="The organization the campaign belongs to")
    policy: CallingPolicy = Field(default_factory=CallingPolicy, description="The organization's calling policy")
    page_size: int = Field(default=200, ge=1, le=1000)
    max_history_events: int = Field(
        default=10_000, ge=100, description="Continue as new past this many events (or when Temporal suggests)"
    )
    max_parked_outside_lookahead: int = Field(
        default=5_000,
        ge=0,
        description="Contacts parked for their calling window that free the lookahead, at most. Bounds the "
        "slot queue when their window opens (it is carried across continue-as-new)",
    )
    carried: "CampaignCarry | None" = None


class CampaignCarry(BaseModel):
    """Everything a continued-as-new run must keep; bounded by the in-flight contacts, not the list."""

    progress: CampaignProgress
    paused: bool = False
    queue: list[SlotRequest] = Field(default_factory=list)
    holders: list[str] = Field(default_factory=list)
    exhausted: bool = False
    runs: int = 1
    claim_seq: int = Field(default=0, description="Claims made so far: numbers the next claim's key")
    recorded_status: CampaignStatus | None = Field(default=None, description="The status last written to the store")
    waiting_window: int = Field(default=0, description="Contacts that said they park until their window opens")
    breaker: "BreakerState" = Field(default_factory=lambda: BreakerState())


class RecentDial(BaseModel):
    at: datetime
    network_failure: bool
    attempt_key: str


class BreakerState(BaseModel):
    """The circuit breaker's memory (workflows.breaker), bounded: recent dials and the answer-rate baseline."""

    recent: list[RecentDial] = Field(
        default_factory=list, description="Dials within the breaker's window, oldest first"
    )
    answers: list[bool] = Field(
        default_factory=list, description="Whether each of the latest person-level dials was answered"
    )
    baseline_dials: int = 0
    baseline_answered: int = 0
    tripped_by: list[str] = Field(default_factory=list, description="The attempts named by the last trip")


class ContactsAdded(BaseModel):
    """Contacts were added to the campaign in the store (status pending): the campaign claims again.

    Only a count travels: the rows themselves never pass through the workflow.
    """

    count: int


class CampaignResult(BaseModel):
    progress: CampaignProgress


SlotRelease.model_rebuild()
CampaignCarry.model_rebuild()
CampaignWorkflowInput.model_rebuild()
