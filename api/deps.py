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


async def _key_principal(session: AsyncSession, raw_key: str) -> Principal:
    found = await live_api_key(session, raw_key)
    if found is None:
        raise _unauthorized("this API key is not valid")
    org, key = found
    return Principal(org=org, role=KEY_SCOPE_ROLES[key.scope], actor=key_actor(key.prefix, key.label))


async def _session_principal(ctx: AppContext, session: AsyncSession, raw_id: str, reads_only: bool) -> Principal:
    """The member of a live dashboard session; a dead one is deleted, a used one kept alive.

    The lookup reads in the request's session. The write (ending a dead session, or marking a live one
    used) is committed in a short session of its own, since a GET's session only reads and never commits;
    it is due at most once a minute per session (``members.TOUCH_EVERY``), so nearly every request only
    reads."""
    found = await members.find_session(session, raw_id, ctx.settings.session_idle_timeout)
    await _release_write_lock(session, reads_only)
    if found is None:
        raise _unauthorized("your session has ended: log in again")
    if found.dead or found.touch_due:
        async with ctx.sessions() as write:
            if found.dead:
                await members.close_session(write, raw_id)
            else:
                await members.touch_session(write, raw_id)
            await write.commit()
    if found.dead:
        raise _unauthorized("your session has ended: log in again")
    return Principal(org=found.org, role=Role(found.member.role), actor=found.member.email, csrf_token=found.csrf_token)


async def _release_write_lock(session: AsyncSession, reads_only: bool) -> None:
    """After the lookup, end a write request's transaction (it wrote nothing; the loaded rows stay, as
    sessions do not expire them on commit). On SQLite that transaction holds the write lock from its first
    statement, and the session-use mark and routes that write through sessions of their own would wait
    on it. A GET's read-only transaction goes on into the route, on the same connection."""
    if not reads_only:
        await session.commit()


async def authenticate(request: Request, ctx: AppContext, session: AsyncSession) -> Principal:
    """Who is calling: an API key (a header) or else a dashboard session (the cookie); 401 for neither.
    The lookup reads in ``session``, the request's own."""
    reads_only = request.method in READ_ONLY_METHODS
    raw_key = presented_api_key(request)
    if raw_key is not None:
        principal = await _key_principal(session, raw_key)
        await _release_write_lock(session, reads_only)
        return principal
    raw_id = request.cookies.get(SESSION_COOKIE)
    if raw_id:
        return await _session_principal(ctx, session, raw_id, reads_only)
    raise _unauthorized(
        "an API key is required: send 'Authorization: Bearer <key>' (create one with `ringflow org create`)"
    )


async def current_principal(request: Request, ctx: Context, session: DbSession) -> Principal:
    """The caller, allowed to make this request: the one place where roles, key scopes and CSRF are checked.

    401 for no valid key or session; 403 when the caller's role lacks the permission the route needs
    (``api.auth.required_permission``), or when a session's write does not carry its CSRF token.

    The check reads in the request's session (FastAPI gives a request one ``db_session``), so a GET takes
    one connection from the pool, not one for the check and another for the route.
    """
    principal = await authenticate(request, ctx, session)
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


async def stream_org(principal: CurrentPrincipal, session: DbSession) -> OrganizationRow:
    """The caller's organization, for a route that streams its answer and reads through sessions of its own:
    the request's session, which the check read in, is closed first (FastAPI closes it only after the
    response), so a stream open for minutes holds no connection of the pool."""
    await session.close()
    return principal.org


StreamOrg = Annotated[OrganizationRow, Depends(stream_org)]


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
