"""People: erasing everything the organization holds of one person (``api/services/people.py``)."""

from fastapi import APIRouter

from api.deps import Context, CurrentOrg, CurrentPrincipal
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES, e164
from api.services import people
from schemas.api import ErrorBody
from schemas.erasure import PersonErased

router = APIRouter(prefix="/v1/people", tags=["people"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)


@router.delete("/{phone}", response_model=PersonErased, responses={409: {"model": ErrorBody}})
async def erase_person(phone: str, org: CurrentOrg, ctx: Context, principal: CurrentPrincipal) -> PersonErased:
    """Erase one person from the organization: their contacts, calls, callbacks, transcripts, notes, shared
    information, recordings and inbound calls; their workflows' payloads in Temporal become undecryptable. A number on
    the do-not-call list stays listed as a keyed hash only. Answers what was erased; repeating it erases nothing."""
    return await people.erase_person(
        ctx.client,
        ctx.sessions,
        org_id=org.id,
        phone=e164(phone, "phone"),
        actor=principal.actor,
        settings=ctx.settings,
    )
