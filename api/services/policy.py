"""An organization's calling policy: shown with the legal floor under it, and replaced as a whole.

The REST API (``/v1/policy``) and the CLI (``ringflow policy``) both go through here. A new policy
applies to the next dial of every running contact: each dial's check reads the current one.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from api.services import audit
from schemas.api import PolicyChange, PolicyOut
from schemas.compliance import LEGAL_FLOOR, CallingPolicy
from store import compliance
from workflows.scheduling import is_override


class UnknownOrganizationError(LookupError):
    """No organization has this id."""


async def show(session: AsyncSession, *, org_id: str) -> PolicyOut:
    policy = await compliance.get_policy(session, org_id) or CallingPolicy()
    overrides = [rule for rule in policy.rules if is_override(policy, rule)]
    changes = [
        PolicyChange(
            changed_at=row.changed_at, changed_by=row.changed_by, policy=CallingPolicy.model_validate(row.policy)
        )
        for row in await compliance.policy_changes(session, org_id)
    ]
    return PolicyOut(policy=policy, floor=list(LEGAL_FLOOR), overrides=overrides, changes=changes)


async def replace(session: AsyncSession, *, org_id: str, policy: CallingPolicy, changed_by: str) -> PolicyOut:
    """Store ``policy`` (already validated: an override without its legal basis never gets here), recording
    who set it."""
    if not await compliance.set_policy(session, org_id, policy, changed_by=changed_by):
        raise UnknownOrganizationError(f"no organization {org_id!r}")
    await audit.record(
        session,
        org_id=org_id,
        actor=changed_by,
        action="policy.replace",
        target=org_id,
        details=policy.model_dump(mode="json"),
    )
    await session.commit()
    return await show(session, org_id=org_id)
