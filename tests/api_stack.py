"""A pytest plugin: the whole API stack, for tests that talk HTTP to it (registered in conftest).

``api_stack`` (function scope) runs, for one test:

* a real uvicorn server on a free port of 127.0.0.1, serving ``create_app(settings, client, sessions)``
  (the REST API, the dashboard, everything ``api.main`` mounts), at ``stack.base_url``;
* the real Temporal dev server of the session (``dev_env``) and a worker on a task queue of the
  test's own, dialling through the sim carrier at ``time_scale=0`` (calls take no time) with the
  offline scripted agent, so answered calls leave transcripts, notes and shared information;
* the real database (``db_url``: SQLite, or Postgres with ``DATABASE_URL``), emptied first;
* two organizations, ``stack.org_a`` and ``stack.org_b``, each with an API key (``.key``) and an
  ``httpx.AsyncClient`` already sending it (``.http``, base URL set), for isolation tests.

Use it like::

    async def test_something(api_stack):
        response = await api_stack.org_a.http.get("/v1/campaigns")
        async with api_stack.sessions() as session: ...   # the same store the API uses

``stack.anonymous`` is a client with no key; ``stack.settings`` the app's settings. The browser test
points Chromium at ``stack.base_url`` and logs in with ``stack.org_a.key``.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.main import create_app
from schemas.settings import Settings
from store.orgs import create_org
from telephony.sim import SimCarrier
from voice_worker.sim_agent import make_agent_call
from worker.main import build_worker

SERVER_START_TIMEOUT_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass
class ApiOrg:
    id: str
    name: str
    key: str
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


async def _serve(app: Any) -> tuple[uvicorn.Server, "asyncio.Task[None]", str]:
    """Uvicorn on a port the OS picks, started in this event loop; returns the server, its task and URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + SERVER_START_TIMEOUT_SECONDS
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("uvicorn did not start")
        await asyncio.sleep(0.02)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    return server, task, f"http://{host}:{port}"


@pytest_asyncio.fixture
async def api_stack(dev_env, session_factory, db_url) -> AsyncIterator[ApiStack]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        task_queue=f"tq-api-{uuid.uuid4().hex[:8]}",
        sim_time_scale=0.0,
    )
    orgs = []
    async with session_factory() as session:
        for name in ("Org A", "Org B"):
            org, key = await create_org(session, name)
            orgs.append((org.id, org.name, key))
        await session.commit()
    carrier = SimCarrier(time_scale=0.0, agent_call=make_agent_call(dev_env.client))
    app = create_app(settings, dev_env.client, session_factory)
    worker = build_worker(dev_env.client, settings, sessions=session_factory, carrier=carrier)
    async with worker:
        server, task, base_url = await _serve(app)
        clients = [
            httpx.AsyncClient(
                base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=REQUEST_TIMEOUT_SECONDS
            )
            for _, _, key in orgs
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
            server.should_exit = True
            await task
