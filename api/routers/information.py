"""What callers shared with the agents, across the organization's calls."""

from fastapi import APIRouter, Query

from api.deps import CurrentOrg, DbSession
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES, call_id, e164, row_view
from schemas.agent import InformationCategory
from schemas.api import InformationList, InformationOut
from schemas.inbound import INBOUND_CAMPAIGN_ID
from store import reports

router = APIRouter(prefix="/v1/information", tags=["calls"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)


def _direction(campaign_id: str) -> str:
    """Records under campaign ``inbound`` were taken on an incoming call (keyed by its CallSid)."""
    return reports.INBOUND if campaign_id == INBOUND_CAMPAIGN_ID else reports.OUTBOUND


@router.get("", response_model=InformationList)
async def search_information(
    org: CurrentOrg,
    session: DbSession,
    category: InformationCategory | None = None,
    caller: str | None = Query(default=None, max_length=64, description="The caller's number (E.164)"),
    limit: int = Query(default=50, ge=1, le=500),
) -> InformationList:
    """Shared information, newest first, by category and/or caller."""
    phone = e164(caller, "caller") if caller is not None else None
    hits = await reports.search_information(session, org.id, category=category, caller=phone, limit=limit)
    return InformationList(
        items=[
            row_view(
                InformationOut,
                hit,
                call_id=call_id(_direction(hit.campaign_id), hit.campaign_id, hit.external_id, hit.attempt),
            )
            for hit in hits
        ]
    )
