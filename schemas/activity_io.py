"""Arguments and results of the activities, by name, so workflows need not import activity code.

Workflows call activities by these names: importing ``activities`` would drag SQLAlchemy and the
carriers into the workflow sandbox, which re-imports workflow modules on every run.
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from schemas.agent import InformationCategory, TranscriptSegment
from schemas.campaign import PreCallLookup
from schemas.compliance import DialDecision, DialFacts
from schemas.contact import Contact, ContactRef
from schemas.outcomes import CallOutcome, FinalOutcome
from schemas.workflow_io import CampaignStatus

INVALID_NUMBER_ERROR = "InvalidNumber"
"""Error type of a dial that can never succeed: raised non-retryable, recorded as invalid_number."""


class ActivityName:
    CLAIM_CONTACTS = "claim_contacts"
    PLACE_CALL = "place_call"
    RECORD_CALLBACK = "record_callback"
    RECORD_OUTCOME = "record_outcome"
    RECONCILE_CONTACTS = "reconcile_contacts"
    SWEEP_DIALLING = "sweep_dialling"
    SET_CAMPAIGN_STATUS = "set_campaign_status"
    CANCEL_CAMPAIGN_CONTACTS = "cancel_campaign_contacts"
    RECORD_NOTE = "record_note"
    RECORD_INFORMATION = "record_information"
    RECORD_TRANSCRIPT = "record_transcript"
    RECORD_DISPOSITION = "record_disposition"
    RECORD_CALL_OUTCOME = "record_call_outcome"
    CHECK_DIAL = "check_dial"
    RECORD_DIAL_DECISION = "record_dial_decision"
    LIST_DO_NOT_CALL = "list_do_not_call"
    ANALYZE_CALL = "analyze_call"
    LOOK_UP_CONTACT = "look_up_contact"


class ClaimRequest(BaseModel):
    campaign_id: str
    limit: int = Field(ge=1, le=1000)
    claim_key: str = Field(
        min_length=1,
        max_length=255,
        description="Deterministic per page: a retried claim with the same key returns the same contacts",
    )


class ClaimedContacts(BaseModel):
    contacts: list[ContactRef] = Field(description="References only: the people's data stays out of the campaign")
    remaining: int = Field(description="Contacts still waiting to be claimed after this page")
    total: int = Field(description="All contacts of the campaign, claimed or not")


class CallbackRecord(BaseModel):
    campaign_id: str
    external_id: str
    requested_for: datetime
    scheduled_for: datetime
    reason: str = ""


class CallOutcomeRecord(BaseModel):
    """What a call came to, as its workflow decided, on the attempt row of ``idempotency_key``."""

    idempotency_key: str
    outcome: CallOutcome


class OutcomeRecord(BaseModel):
    campaign_id: str
    external_id: str
    final_outcome: FinalOutcome
    reason: str = ""


class ReconcileRequest(BaseModel):
    """Check that every claimed contact without a final outcome has a running contact workflow."""

    campaign_id: str
    external_ids: list[str] | None = Field(
        default=None, description="Only these contacts (a queued contact the campaign could not reach); None: all"
    )
    cancelling: bool = Field(
        default=False, description="The campaign is being cancelled: a contact without a workflow ends cancelled"
    )
    limit: int = Field(default=200, ge=1, le=1000, description="At most this many contacts to start")
    parked: bool = Field(
        default=False,
        description="The campaign waits only for parked contacts (it reconciles every hour then): running "
        "ones are those it waits for, not news",
    )


class Reconciliation(BaseModel):
    """What reconciling found. The campaign starts ``to_start`` and counts the rest."""

    pending: int = Field(default=0, description="Contacts never claimed")
    to_start: list[ContactRef] = Field(
        default_factory=list, description="Claimed, no final outcome, no workflow (never started, failed, timed out)"
    )
    running: list[str] = Field(default_factory=list, description="Claimed, no final outcome, workflow running")
    closed: list[str] = Field(
        default_factory=list,
        description="Their workflow was terminated or cancelled by hand (or the campaign is cancelling) without an "
        "outcome: recorded as cancelled now",
    )
    more: bool = Field(default=False, description="More contacts to start than the limit: reconcile again")

    @property
    def settled(self) -> bool:
        return not (self.pending or self.to_start or self.running or self.closed or self.more)


class SweepRequest(BaseModel):
    campaign_id: str


class CampaignStatusUpdate(BaseModel):
    campaign_id: str
    status: CampaignStatus
    pause_reason: str = Field(default="", description="Set when the campaign paused itself: its breaker tripped")
    tripped_by: list[str] = Field(
        default_factory=list, description="The attempts (idempotency keys) whose results tripped the breaker"
    )


class CancelCampaignContacts(BaseModel):
    campaign_id: str
    reason: str = ""


class NoteRecord(BaseModel):
    idempotency_key: str
    campaign_id: str
    external_id: str
    attempt: int
    note: str


class InformationRecord(BaseModel):
    idempotency_key: str
    campaign_id: str
    external_id: str
    attempt: int
    category: InformationCategory
    information: str


class TranscriptRecord(BaseModel):
    campaign_id: str
    external_id: str
    attempt: int
    first_seq: int = Field(description="Sequence number of the first segment: order is the workflow's")
    segments: list[TranscriptSegment]


class DialCheck(BaseModel):
    """Read what the policy check needs from the store, just before a dial (answered with DialCheckResult)."""

    org_id: str | None = Field(description="None: a workflow of no organization (tests); only its input policy applies")
    campaign_id: str
    external_id: str
    phone: str | None = Field(description="None: the workflow has only the contact's reference; load the contact")
    now: datetime = Field(description="The workflow's time: attempt caps count back from it, as the decision does")


class DialCheckResult(BaseModel):
    facts: DialFacts
    contact: Contact | None = Field(
        default=None, description="The contact, when asked for by reference; None then if it is gone (erased)"
    )


class DialDecisionRecord(BaseModel):
    """A wait or a skip, for the audit trail (a dial's decision is written with its attempt)."""

    idempotency_key: str
    org_id: str | None
    campaign_id: str
    external_id: str
    decision: DialDecision


class OptOut(BaseModel):
    """The person asked never to be called again, on a call: the number joins the organization's list."""

    org_id: str
    phone: str
    reason: str = ""
    call_ref: str = Field(description="The call it was said on (its attempt key), shown as the entry's source")


class LookupRequest(BaseModel):
    """A pre-call lookup of one dial (schemas.campaign.PreCallLookup); the contact's data goes to the lookup only."""

    idempotency_key: str
    lookup: PreCallLookup
    campaign_id: str
    contact: Contact
    attempt: int


class LookupAnswer(BaseModel):
    """What the lookup said: skip (and why), or context for the call; ``error`` when it could not answer."""

    skip: bool = False
    reason: str = ""
    context: dict[str, Any] = Field(default_factory=dict)
    error: str = ""
