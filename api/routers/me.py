"""Who the API key belongs to."""

from fastapi import APIRouter

from api.deps import CurrentOrg
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES
from schemas.api import OrgOut

router = APIRouter(prefix="/v1/me", tags=["organization"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)


@router.get("", response_model=OrgOut)
async def me(org: CurrentOrg) -> OrgOut:
    """The caller's organization: a cheap way to check a key."""
    return OrgOut(id=org.id, name=org.name)
