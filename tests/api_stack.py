"""A pytest plugin: the whole API stack, for tests that talk HTTP to it (registered in conftest).

``api_stack`` (function scope) runs, for one test:

* a real uvicorn server on a free port of 127.0.0.1, serving ``create_app(settings, client, sessions)``
  (the REST API, the dashboard, everything ``api.main`` mounts), at ``stack.base_url``;
* the real Temporal dev server of the session (``dev_env``) and a worker on a task queue of the
  test's own, dialling through the sim carrier at ``time_scale=0`` (calls take no time) with the
  offline scripted agent, so answered calls leave transcripts, notes and shared information;
* the real database (``db_url``: SQLite, or Postgres with ``DATABASE_URL``), emptied first;
* two organizations, ``stack.org_a`` and ``stack.org_b``, each with an API key (``.key``), an
  ``httpx.AsyncClient`` already sending it (``.http``, base URL set), for isolation tests, and an owner
  who logs in to the dashboard (``.email``, password ``MEMBER_PASSWORD``).

Use it like::

    async def test_something(api_stack):
        response = await api_stack.org_a.http.get("/v1/campaigns")
        async with api_stack.sessions() as session: ...   # the same store the API uses

``stack.anonymous`` is a client with no key; ``stack.settings`` the app's settings. The browser test
points Chromium at ``stack.base_url`` and logs in as ``stack.org_a.email``.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest_asyncio
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from workflow_helpers import ANY_HOUR

from api.main import create_app
from schemas.settings import Settings
from simulator.agent_call import make_agent_call
from simulator.carrier import SimCarrier
from store import compliance
from store.members import add_member
from store.orgs import create_org
from worker.http_server import bound_port, serving
from worker.main import build_worker

REQUEST_TIMEOUT_SECONDS = 30.0
MEMBER_PASSWORD = "correct horse battery staple"


@dataclass
class ApiOrg:
    id: str
    name: str
    key: str
    email: str
    http: httpx.AsyncClient


@dataclass
class ApiStack:
    base_url: str
    settings: Settings
    client: Client
    sessions: async_sessionmaker[AsyncSession]
    carrier: SimCarrier
    org_a: ApiOrg
    org_b: ApiOrg
    anonymous: httpx.AsyncClient


@pytest_asyncio.fixture
async def api_stack(dev_env, session_factory, db_url) -> AsyncIterator[ApiStack]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        task_queue=f"tq-api-{uuid.uuid4().hex[:8]}",
        sim_time_scale=0.0,
        webhook_allow_private_urls=True,  # the tests' webhook receivers listen on 127.0.0.1
        tool_allow_private_urls=True,  # and so do their HTTP tools' services
        # The fuzz test sends each operation's examples with one key, hundreds a minute; the limits' own
        # tests (test_rate_limits.py) set small ones.
        rate_limit_api_per_key="100000/minute",
        oauth_token_key=Fernet.generate_key().decode(),  # seals HTTP tools' and connections' secrets
    )
    orgs = []
    async with session_factory() as session:
        for name in ("Org A", "Org B"):
            org, key = await create_org(session, name)
            await compliance.set_policy(
                session, org.id, ANY_HOUR, changed_by="tests"
            )  # tests run at any hour of the day
            email = f"owner@{org.id}.example.com"
            await add_member(session, org.id, email, MEMBER_PASSWORD, "owner")
            orgs.append((org.id, org.name, key, email))
        await session.commit()
    carrier = SimCarrier(time_scale=0.0, agent_call=make_agent_call(dev_env.client))
    app = create_app(settings, dev_env.client, session_factory)
    worker = build_worker(dev_env.client, settings, sessions=session_factory, carrier=carrier)
    async with worker:
        server_context = serving(app, "127.0.0.1", 0, purpose="the API under test")
        base_url = f"http://127.0.0.1:{bound_port(await server_context.__aenter__())}"
        clients = [
            httpx.AsyncClient(
                base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=REQUEST_TIMEOUT_SECONDS
            )
            for _, _, key, _ in orgs
        ]
        anonymous = httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            yield ApiStack(
                base_url=base_url,
                settings=settings,
                client=dev_env.client,
                sessions=session_factory,
                carrier=carrier,
                org_a=ApiOrg(*orgs[0], http=clients[0]),
                org_b=ApiOrg(*orgs[1], http=clients[1]),
                anonymous=anonymous,
            )
        finally:
            for http in [*clients, anonymous]:
                await http.aclose()
            await server_context.__aexit__(None, None, None)
