"""What the routers need from the app: settings, the Temporal client, store sessions (set by create_app),
and the organization the caller's API key belongs to."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from schemas.settings import Settings
from store.db import begin_read_only
from store.models import OrganizationRow
from store.orgs import org_for_api_key

# The dashboard keeps the key it was given at login here (HttpOnly, so page scripts never see it).
API_KEY_COOKIE = "ringflow_api_key"
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
    """The key from ``Authorization: Bearer``, ``X-API-Key``, or the dashboard's cookie, in that order."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key") or request.cookies.get(API_KEY_COOKIE) or None


async def current_org(request: Request, ctx: Context) -> OrganizationRow:
    """The caller's organization; 401 for a missing, unknown or revoked key."""
    raw_key = presented_api_key(request)
    if raw_key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "an API key is required: send 'Authorization: Bearer <key>' (create one with `ringflow org create`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    async with ctx.sessions() as session:
        await begin_read_only(session)
        org = await org_for_api_key(session, raw_key)
    if org is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "this API key is not valid", headers={"WWW-Authenticate": "Bearer"}
        )
    return org


CurrentOrg = Annotated[OrganizationRow, Depends(current_org)]
