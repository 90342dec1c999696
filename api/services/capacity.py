"""An organization's capacity: its cap on calls at once and its inbound reserve, shown with the lines in use.

The REST API (``/v1/capacity``) and the CLI (``ringflow org capacity``) both go through here; the change
is audited. The next line asked for (a dial, an incoming call) is counted against the new settings.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from api.services import audit
from schemas.capacity import CapacityOut, OrgCapacity
from store import capacity


class UnknownOrganizationError(LookupError):
    """No organization has this id."""


async def show(session: AsyncSession, *, org_id: str) -> CapacityOut:
    settings = await capacity.get_capacity(session, org_id)
    if settings is None:
        raise UnknownOrganizationError(f"no organization {org_id!r}")
    return CapacityOut(capacity=settings, in_use=await capacity.lines_in_use(session, org_id))


async def replace(session: AsyncSession, *, org_id: str, settings: OrgCapacity, actor: str) -> CapacityOut:
    """Store ``settings`` (validated: the reserve is a part of the cap) and record who set them."""
    if not await capacity.set_capacity(session, org_id, settings):
        raise UnknownOrganizationError(f"no organization {org_id!r}")
    await audit.record(
        session, org_id=org_id, actor=actor, action="capacity.replace", target=org_id, details=settings.model_dump()
    )
    await session.commit()
    return await show(session, org_id=org_id)
