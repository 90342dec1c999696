"""The organization's capacity: its cap on calls at once across campaigns and inbound calls, and its reserve."""

from fastapi import APIRouter

from api.deps import CurrentOrg, CurrentPrincipal, DbSession
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES
from api.services import capacity as service
from schemas.capacity import CapacityOut, OrgCapacity

router = APIRouter(prefix="/v1/capacity", tags=["organization"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)


@router.get("", response_model=CapacityOut)
async def get_capacity(org: CurrentOrg, session: DbSession) -> CapacityOut:
    """The organization's cap on calls at once, its inbound reserve, and the lines in use now."""
    return await service.show(session, org_id=org.id)


@router.put("", response_model=CapacityOut)
async def put_capacity(
    body: OrgCapacity, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal
) -> CapacityOut:
    """Replace the capacity settings (owner or admin). ``max_concurrent_calls`` null lifts the cap; the
    ``inbound_reserve`` must be below it (else 422). Dials refused a line wait and retry; calls already on
    keep their lines."""
    return await service.replace(session, org_id=org.id, settings=body, actor=principal.actor)
