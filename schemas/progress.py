"""A campaign's progress as users see it: the workflow's in-flight view beside the store's counts.

Each fact has one owner. The campaign workflow owns what is in flight (contacts per phase, slots,
the queue) and knows when it is done; the store owns what happened (final outcomes, every dial).
``api.services.campaigns.progress`` reads both and puts them side by side; neither copies the other.
"""

from pydantic import BaseModel, Field

from schemas.workflow_io import CampaignProgress


class StoreCounts(BaseModel):
    """What the store holds of one campaign."""

    contacts: int = Field(default=0, description="Contacts of the campaign, claimed or not")
    finished: int = Field(default=0, description="Contacts with a final outcome")
    outcomes: dict[str, int] = Field(default_factory=dict, description="Final outcome -> contacts")
    dials: int = Field(default=0, description="Call attempts that ended")
    call_outcomes: dict[str, int] = Field(default_factory=dict, description="Call outcome -> ended attempts")
    dialling: int = Field(default=0, description="Call attempts not ended yet (a call in progress)")


class CampaignOverview(BaseModel):
    campaign_id: str
    workflow: CampaignProgress = Field(description="In flight, from the campaign workflow")
    store: StoreCounts = Field(description="Outcomes and dials, from the store")

    @property
    def agree(self) -> bool:
        """The two owners tell one story: as many finished contacts in each; none left dialling once done."""
        return self.workflow.finished == self.store.finished and not (self.workflow.done and self.store.dialling)
