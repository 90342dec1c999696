"""A request checks its caller in the session its route reads in: one connection from the pool per GET,
whether the caller sends an API key or a dashboard session's cookie, and a session's use is still recorded.

The API under test here is an app of the test's own on an engine of its own (served in process through
httpx's ASGI transport), so the pool's ``checkout`` events count this test's requests and nothing else
(the ``api_stack``'s worker shares the stack's engine)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from api_stack import MEMBER_PASSWORD
from sqlalchemy import event, select, update

from api.main import create_app
from store.db import make_engine, make_session_factory
from store.models import SessionRow, utcnow


class Checkouts:
    """How many times the engine's pool has handed out a connection since the last ``reset``."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_: object) -> None:
        self.count += 1

    def reset(self) -> None:
        self.count = 0


@asynccontextmanager
async def own_app(api_stack) -> AsyncIterator[tuple[httpx.AsyncClient, Checkouts]]:
    engine = make_engine(api_stack.settings.database_url)
    checkouts = Checkouts()
    event.listen(engine.sync_engine, "checkout", checkouts)
    app = create_app(api_stack.settings, api_stack.client, make_session_factory(engine))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            yield http, checkouts
    finally:
        await engine.dispose()


async def test_a_get_with_an_api_key_takes_one_connection_for_the_check_and_the_route(api_stack):
    async with own_app(api_stack) as (http, checkouts):
        http.headers["Authorization"] = f"Bearer {api_stack.org_a.key}"
        for path in ["/v1/contacts?limit=5", "/v1/me"]:
            checkouts.reset()
            response = await http.get(path)
            assert response.status_code == 200, response.text
            assert checkouts.count == 1, path


async def test_a_key_revoked_by_a_request_is_refused_on_the_next(api_stack):
    async with own_app(api_stack) as (http, _):
        http.headers["Authorization"] = f"Bearer {api_stack.org_a.key}"
        revoked = await http.delete(f"/v1/keys/{api_stack.org_a.key[:10]}")
        assert revoked.status_code == 204, revoked.text
        assert (await http.get("/v1/me")).status_code == 401


async def test_a_dashboard_session_takes_one_connection_and_its_use_is_still_recorded(api_stack):
    async with own_app(api_stack) as (http, checkouts):
        login = await http.post("/login", data={"email": api_stack.org_a.email, "password": MEMBER_PASSWORD})
        assert login.status_code == 303, login.text

        checkouts.reset()
        assert (await http.get("/v1/contacts?limit=5")).status_code == 200
        assert checkouts.count == 1  # used a moment ago: nothing to record

        long_ago = utcnow() - timedelta(minutes=5)
        async with api_stack.sessions() as session:
            await session.execute(update(SessionRow).values(last_seen_at=long_ago))
            await session.commit()
        assert (await http.get("/v1/contacts?limit=5")).status_code == 200
        async with api_stack.sessions() as session:
            assert (await session.scalars(select(SessionRow.last_seen_at))).one() > long_ago + timedelta(minutes=4)
