"""Arguments and results of the activities, by name, so workflows need not import activity code.

Workflows call activities by these names: importing ``activities`` would drag SQLAlchemy and the
carriers into the workflow sandbox, which re-imports workflow modules on every run.
"""

from datetime import datetime

from pydantic import BaseModel, Field

from schemas.agent import InformationCategory, TranscriptSegment
from schemas.contact import Contact
from schemas.outcomes import FinalOutcome
from schemas.workflow_io import CampaignStatus

INVALID_NUMBER_ERROR = "InvalidNumber"
"""Error type of a dial that can never succeed: raised non-retryable, recorded as invalid_number."""


class ActivityName:
    CLAIM_CONTACTS = "claim_contacts"
    PLACE_CALL = "place_call"
    RECORD_CALLBACK = "record_callback"
    RECORD_OUTCOME = "record_outcome"
    ADD_CAMPAIGN_CONTACTS = "add_campaign_contacts"
    SET_CAMPAIGN_STATUS = "set_campaign_status"
    CANCEL_CAMPAIGN_CONTACTS = "cancel_campaign_contacts"
    RECORD_NOTE = "record_note"
    RECORD_INFORMATION = "record_information"
    RECORD_TRANSCRIPT = "record_transcript"


class ClaimRequest(BaseModel):
    campaign_id: str
    limit: int = Field(ge=1, le=1000)


class ClaimedContacts(BaseModel):
    contacts: list[Contact]
    remaining: int = Field(description="Contacts still waiting to be claimed after this page")
    total: int = Field(description="All contacts of the campaign, claimed or not")


class CallbackRecord(BaseModel):
    campaign_id: str
    external_id: str
    requested_for: datetime
    scheduled_for: datetime
    reason: str = ""


class OutcomeRecord(BaseModel):
    campaign_id: str
    external_id: str
    final_outcome: FinalOutcome
    reason: str = ""
    attempts: int = 0


class AddCampaignContacts(BaseModel):
    campaign_id: str
    contacts: list[Contact]


class CampaignStatusUpdate(BaseModel):
    campaign_id: str
    status: CampaignStatus


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
