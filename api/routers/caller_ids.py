"""Caller-ID pools: the numbers a campaign's calls show, their caps and their quarantine (docs/campaign-safety.md).
Any member reads them; admins and owners change them (``api.auth``)."""

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, HTTPException, Response, status

from api.deps import CurrentOrg, CurrentPrincipal, DbSession
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES
from api.services import caller_ids
from schemas.api import CallerIdIn, CallerIdPoolIn, CallerIdPoolList, CallerIdPoolOut, ErrorBody

router = APIRouter(
    prefix="/v1/caller-id-pools", tags=["caller-id pools"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES
)

NOT_FOUND = {404: {"model": ErrorBody, "description": "No such pool in your organization, or number in the pool"}}
CONFLICT = {409: {"model": ErrorBody, "description": "The name is taken, or the number is in a pool already"}}
NOT_OURS = {422: {"model": ErrorBody, "description": "Not one of your organization's numbers (`GET /v1/numbers`)"}}


@contextmanager
def refusals() -> Iterator[None]:
    """The service's refusals as their one-line 4xx: 404 unknown, 409 taken, 422 not the organization's number."""
    try:
        yield
    except caller_ids.CallerIdNotFoundError as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from None
    except caller_ids.CallerIdConflictError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from None
    except caller_ids.NotOrgNumberError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from None


@router.get("", response_model=CallerIdPoolList)
async def list_pools(org: CurrentOrg, session: DbSession) -> CallerIdPoolList:
    """The organization's pools, each with its numbers' usage today and quarantine."""
    return CallerIdPoolList(items=await caller_ids.list_pools(session, org_id=org.id))


@router.post("", response_model=CallerIdPoolOut, status_code=status.HTTP_201_CREATED, responses=CONFLICT)
async def create_pool(
    body: CallerIdPoolIn, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal
) -> CallerIdPoolOut:
    """A new, empty pool; a campaign uses it with ``settings.caller_id_pool``. The quarantine test's defaults:
    a number with at least 50 dials answered under half as often as the pool's median is set aside for 24 h."""
    with refusals():
        return await caller_ids.create_pool(session, org_id=org.id, body=body, actor=principal.actor)


@router.get("/{name}", response_model=CallerIdPoolOut, responses=NOT_FOUND)
async def get_pool(name: str, org: CurrentOrg, session: DbSession) -> CallerIdPoolOut:
    """The pool and each number's dials today, answer record and status (``possible spam label`` when quarantined)."""
    with refusals():
        return await caller_ids.get_pool(session, org_id=org.id, name=name)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_pool(name: str, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Delete the pool (its numbers stay the organization's). A campaign still naming it dials nobody."""
    with refusals():
        await caller_ids.delete_pool(session, org_id=org.id, name=name, actor=principal.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/numbers", response_model=CallerIdPoolOut, responses={**NOT_FOUND, **CONFLICT, **NOT_OURS})
async def add_number(
    name: str, body: CallerIdIn, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal
) -> CallerIdPoolOut:
    """Add one of the organization's numbers, with its daily cap and calls per second."""
    with refusals():
        return await caller_ids.add_number(session, org_id=org.id, name=name, body=body, actor=principal.actor)


@router.delete("/{name}/numbers/{number}", status_code=status.HTTP_204_NO_CONTENT, responses={**NOT_FOUND, **NOT_OURS})
async def remove_number(
    name: str, number: str, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal
) -> Response:
    """Take the number out of the pool."""
    with refusals():
        await caller_ids.remove_number(session, org_id=org.id, name=name, number=number, actor=principal.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
