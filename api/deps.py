"""What the routers need from the app: settings, the Temporal client, store sessions (set by create_app),
and the caller (an API key or a dashboard session), allowed to make the request."""

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.auth import KEY_SCOPE_ROLES, READ_METHODS, Principal, Role, key_actor, refusal, required_permission
from api.proxies import is_trusted, trusted_networks
from schemas.settings import Settings
from store import members
from store.db import begin_read_only
from store.models import OrganizationRow
from store.orgs import live_api_key

# The dashboard's session id (HttpOnly: page scripts never see it); the store keeps only its hash.
SESSION_COOKIE = "ringflow_session"
CSRF_HEADER = "X-CSRF-Token"
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    client: Client
    sessions: async_sessionmaker[AsyncSession]


def app_context(request: Request) -> AppContext:
    return request.app.state.ringflow


Context = Annotated[AppContext, Depends(app_context)]


async def db_session(request: Request, ctx: Context) -> AsyncIterator[AsyncSession]:
    """One session per request; the route commits what it changes, anything else is rolled back.

    A GET only reads, so on SQLite it does not queue behind the worker's writes for the write lock.
    """
    async with ctx.sessions() as session:
        if request.method in READ_ONLY_METHODS:
            await begin_read_only(session)
        yield session


DbSession = Annotated[AsyncSession, Depends(db_session)]


def presented_api_key(request: Request) -> str | None:
    """The key from ``Authorization: Bearer`` or ``X-API-Key``, in that order."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key") or None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


async def _key_principal(ctx: AppContext, raw_key: str) -> Principal:
    async with ctx.sessions() as session:
        await begin_read_only(session)
        found = await live_api_key(session, raw_key)
    if found is None:
        raise _unauthorized("this API key is not valid")
    org, key = found
    return Principal(org=org, role=KEY_SCOPE_ROLES[key.scope], actor=key_actor(key.prefix, key.label))


async def _session_principal(ctx: AppContext, raw_id: str) -> Principal:
    """The member of a live dashboard session; a dead one is deleted, a used one kept alive."""
    async with ctx.sessions() as session:
        await begin_read_only(session)
        found = await members.find_session(session, raw_id, ctx.settings.session_idle_timeout)
    if found is None:
        raise _unauthorized("your session has ended: log in again")
    if found.dead or found.touch_due:
        async with ctx.sessions() as session:
            if found.dead:
                await members.close_session(session, raw_id)
            else:
                await members.touch_session(session, raw_id)
            await session.commit()
    if found.dead:
        raise _unauthorized("your session has ended: log in again")
    return Principal(org=found.org, role=Role(found.member.role), actor=found.member.email, csrf_token=found.csrf_token)


async def authenticate(request: Request, ctx: AppContext) -> Principal:
    """Who is calling: an API key (a header) or else a dashboard session (the cookie); 401 for neither."""
    raw_key = presented_api_key(request)
    if raw_key is not None:
        return await _key_principal(ctx, raw_key)
    raw_id = request.cookies.get(SESSION_COOKIE)
    if raw_id:
        return await _session_principal(ctx, raw_id)
    raise _unauthorized(
        "an API key is required: send 'Authorization: Bearer <key>' (create one with `ringflow org create`)"
    )


async def current_principal(request: Request, ctx: Context) -> Principal:
    """The caller, allowed to make this request: the one place where roles, key scopes and CSRF are checked.

    401 for no valid key or session; 403 when the caller's role lacks the permission the route needs
    (``api.auth.required_permission``), or when a session's write does not carry its CSRF token.
    """
    principal = await authenticate(request, ctx)
    route = request.scope.get("route")
    permission = required_permission(request.method, getattr(route, "path", request.url.path))
    if not principal.may(permission):
        raise HTTPException(status.HTTP_403_FORBIDDEN, refusal(principal, permission))
    if principal.csrf_token is not None and request.method not in READ_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(sent.encode(), principal.csrf_token.encode()):
            detail = f"a missing or wrong CSRF token: send the page's {CSRF_HEADER}"
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_org(principal: CurrentPrincipal) -> OrganizationRow:
    """The caller's organization, once ``current_principal`` has let the request through."""
    return principal.org


CurrentOrg = Annotated[OrganizationRow, Depends(current_org)]


def cookie_secure(request: Request, settings: Settings) -> bool:
    """Whether the session cookie is marked Secure: as configured, or when the browser reached us over
    https, directly or through a trusted proxy (its ``X-Forwarded-Proto``; anyone else's is ignored)."""
    if settings.cookie_secure is not None:
        return settings.cookie_secure
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded == "https" and is_trusted(peer, trusted_networks(settings.trusted_proxies))


def set_login_cookie(
    response: Response, request: Request, settings: Settings, name: str, value: str, max_age: int
) -> None:
    """A login's cookie: HttpOnly (no page script reads it), SameSite=Strict (no other site makes the browser
    send it), and Secure as :func:`cookie_secure` decides."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request, settings),
        path="/",
    )
