"""The organization's calling policy: its rules on top of the legal floor, and its attempt caps."""

from fastapi import APIRouter

from api.deps import CurrentOrg, CurrentPrincipal, DbSession
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES
from api.services import policy as service
from schemas.api import PolicyOut
from schemas.compliance import CallingPolicy

router = APIRouter(prefix="/v1/policy", tags=["organization"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)


@router.get("", response_model=PolicyOut)
async def get_policy(org: CurrentOrg, session: DbSession) -> PolicyOut:
    """The organization's calling policy, the legal floor it narrows, and its audited overrides."""
    return await service.show(session, org_id=org.id)


@router.put("", response_model=PolicyOut)
async def put_policy(
    body: CallingPolicy, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal
) -> PolicyOut:
    """Replace the policy. A rule that widens the floor needs its ``legal_basis`` (else 422); every dial made
    under it records that basis, and the change itself is kept with who made it. Running contacts
    apply the new policy from their next dial."""
    return await service.replace(session, org_id=org.id, policy=body, changed_by=principal.actor[:64])
