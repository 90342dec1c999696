"""Members (owner only), API keys (admin and owner) and the audit log (admin and owner). Who may call
which is decided by ``api.auth``; these routes only do the work."""

from fastapi import APIRouter, HTTPException, Response, status

from api.deps import CurrentOrg, CurrentPrincipal, DbSession
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES, Limit, Offset, row_view
from api.services import access
from schemas.access import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    AuditEventOut,
    AuditList,
    MemberIn,
    MemberOut,
    MemberRoleIn,
)
from schemas.api import DEFAULT_PAGE_SIZE, ErrorBody
from store import audit

router = APIRouter(tags=["access"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)

MEMBER_NOT_FOUND = {404: {"model": ErrorBody, "description": "No such member in your organization"}}
TAKEN_OR_LAST_OWNER = {409: {"model": ErrorBody, "description": "The email is taken, or this is the last owner"}}
KEY_NOT_FOUND = {404: {"model": ErrorBody, "description": "No live key with this prefix in your organization"}}


def _refused(err: Exception) -> HTTPException:
    code = status.HTTP_404_NOT_FOUND if isinstance(err, access.AccessNotFoundError) else status.HTTP_409_CONFLICT
    return HTTPException(code, str(err))


@router.get("/v1/members", response_model=list[MemberOut])
async def list_members(org: CurrentOrg, session: DbSession) -> list[MemberOut]:
    """The organization's members and their roles."""
    return await access.list_members(session, org_id=org.id)


@router.post(
    "/v1/members", response_model=MemberOut, status_code=status.HTTP_201_CREATED, responses=TAKEN_OR_LAST_OWNER
)
async def add_member(body: MemberIn, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal) -> MemberOut:
    """Add a member who logs in to the dashboard with this email and password (409 if the email is taken)."""
    try:
        return await access.add_member(
            session, org_id=org.id, email=body.email, password=body.password, role=body.role, actor=principal.actor
        )
    except (access.AccessError, access.AccessNotFoundError) as err:
        raise _refused(err) from None


@router.put("/v1/members/{email}", response_model=MemberOut, responses={**MEMBER_NOT_FOUND, **TAKEN_OR_LAST_OWNER})
async def set_role(
    email: str, body: MemberRoleIn, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal
) -> MemberOut:
    """Change a member's role; the last owner cannot step down (409)."""
    try:
        return await access.set_role(session, org_id=org.id, email=email, role=body.role, actor=principal.actor)
    except (access.AccessError, access.AccessNotFoundError) as err:
        raise _refused(err) from None


@router.delete(
    "/v1/members/{email}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**MEMBER_NOT_FOUND, **TAKEN_OR_LAST_OWNER},
)
async def remove_member(email: str, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Remove a member: their sessions end at once. The last owner cannot be removed (409)."""
    try:
        await access.remove_member(session, org_id=org.id, email=email, actor=principal.actor)
    except (access.AccessError, access.AccessNotFoundError) as err:
        raise _refused(err) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/keys", response_model=list[ApiKeyOut])
async def list_keys(org: CurrentOrg, session: DbSession) -> list[ApiKeyOut]:
    """The organization's API keys (their prefixes, never the keys), revoked ones included."""
    return await access.list_keys(session, org_id=org.id)


@router.post("/v1/keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_key(body: ApiKeyIn, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal) -> ApiKeyCreated:
    """A new key; the answer's ``key`` is shown this once. A ``read`` key may only GET."""
    return await access.create_key(session, org_id=org.id, label=body.label, scope=body.scope, actor=principal.actor)


@router.delete("/v1/keys/{prefix}", status_code=status.HTTP_204_NO_CONTENT, responses=KEY_NOT_FOUND)
async def revoke_key(prefix: str, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Revoke the live key with this prefix (its first 10 characters): requests with it get 401 from now on."""
    try:
        await access.revoke_key(session, org_id=org.id, prefix=prefix, actor=principal.actor)
    except access.AccessError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from None
    except access.AccessNotFoundError as err:
        raise _refused(err) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/audit", response_model=AuditList)
async def list_audit(
    org: CurrentOrg, session: DbSession, limit: Limit = DEFAULT_PAGE_SIZE, offset: Offset = 0
) -> AuditList:
    """Who changed what in the organization, newest first."""
    rows, total = await audit.events(session, org.id, limit=limit, offset=offset)
    return AuditList(items=[row_view(AuditEventOut, row) for row in rows], total=total, limit=limit, offset=offset)
