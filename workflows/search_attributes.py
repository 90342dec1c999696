"""Search attributes ops filter on in the Web UI. Ids and outcomes only: never a number or a name."""

from temporalio.common import SearchAttributeKey

CAMPAIGN_ID = SearchAttributeKey.for_keyword("CampaignId")
OUTCOME = SearchAttributeKey.for_keyword("Outcome")
ATTEMPT = SearchAttributeKey.for_int("Attempt")

ALL = (CAMPAIGN_ID, OUTCOME, ATTEMPT)
