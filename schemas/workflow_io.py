"""Inputs, outputs, signals and queries of the campaign and contact workflows."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from schemas.agent import AgentConfig, SharedInformation
from schemas.calls import CallbackRequest
from schemas.campaign import CampaignSettings
from schemas.contact import Contact
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
    campaign_id: str
    contact: Contact
    settings: CampaignSettings
    campaign_workflow_id: str | None = Field(
        default=None, description="Where to ask for a dial slot; None dials without campaign pacing"
    )
    slot_granted: bool = Field(
        default=False, description="Started holding a dial slot: the campaign had one free and the window was open"
    )
    agent: AgentConfig | None = Field(default=None, description="Snapshot of the agent for this contact's calls")


class AttemptSummary(BaseModel):
    attempt: int
    dialled_at: datetime
    outcome: CallOutcome
    detail: str = ""


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


class SlotRequest(BaseModel):
    contact_workflow_id: str
    priority: int = 0
    returning_from: ContactPhase = ContactPhase.STARTING


class SlotRelease(BaseModel):
    contact_workflow_id: str
    next_phase: ContactPhase
    call_outcome: CallOutcome | None = Field(default=None, description="None when no call was placed")
    final_outcome: FinalOutcome | None = None


class WaitingForWindow(BaseModel):
    """Sent by a started contact that parks until its calling window opens, so it frees the campaign's lookahead."""

    contact_workflow_id: str


class ContactFinished(BaseModel):
    """Sent by a contact that ends while parked (cancelled or not interested between calls)."""

    contact_workflow_id: str
    left_phase: ContactPhase
    final_outcome: FinalOutcome


# ---- campaign workflow ---------------------------------------------------------------------------


class CampaignProgress(BaseModel):
    campaign_id: str
    status: CampaignStatus = CampaignStatus.RUNNING
    total: int = Field(default=0, description="Contacts known to the campaign")
    started: int = 0
    waiting_slot: int = 0
    in_call: int = 0
    waiting_retry: int = 0
    waiting_callback: int = 0
    finished: int = 0
    dials: int = 0
    outcomes: dict[FinalOutcome, int] = Field(default_factory=dict)
    call_outcomes: dict[CallOutcome, int] = Field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def waiting_window(self) -> int:
        """Started contacts not yet asking for a slot: most are outside their calling hours."""
        return max(
            0,
            self.started
            - self.finished
            - self.waiting_slot
            - self.in_call
            - self.waiting_retry
            - self.waiting_callback,
        )

    @property
    def done(self) -> bool:
        return self.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)


class CampaignWorkflowInput(BaseModel):
    campaign_id: str
    settings: CampaignSettings
    agent: AgentConfig | None = Field(default=None, description="Snapshot of the agent taken when the campaign began")
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
    waiting_window: int = Field(default=0, description="Contacts that said they park until their window opens")


class AddContactsInput(BaseModel):
    contacts: list[Contact]


class AddContactsResult(BaseModel):
    added: int
    duplicates: list[str] = Field(default_factory=list)


class CampaignResult(BaseModel):
    progress: CampaignProgress


CampaignWorkflowInput.model_rebuild()
