"""Shared setup for the benchmarks: a dev server, a migrated database, a worker on the sim carrier.

Not a test helper: the benchmarks print figures and assert nothing about timing. Imported by the
scripts in this folder (``python bench/x.py`` puts this folder first on ``sys.path``).
"""

import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment

from infra.codec import EncryptionCodec, build_data_converter, new_codec_key, parse_codec_keys
from schemas.campaign import ALL_WEEKDAYS, CallingWindow, CampaignSettings
from schemas.compliance import any_hour_policy
from schemas.contact import Contact
from schemas.settings import Settings
from schemas.workflow_io import CampaignWorkflowInput, campaign_workflow_id
from simulator.carrier import SimCarrier
from store import contacts as store_contacts
from store import queries
from store.db import async_url, dispose_cached_engines, get_session_factory
from store.migrate import upgrade_database
from worker.main import build_worker
from workflows import search_attributes
from workflows.campaign import CampaignWorkflow

BENCH_POLICY = any_hour_policy("bench: simulated callees, no phone rings")
"""Benches run at any hour: the legal floor is overridden, stating why, as in the tests."""

ALL_DAY = CallingWindow(start=clock_time(0), end=clock_time(0), weekdays=frozenset(ALL_WEEKDAYS))


@dataclass
class Stack:
    client: Client
    task_queue: str
    sessions: async_sessionmaker[AsyncSession]
    database_url: str


def campaign_settings(*, max_concurrent_calls: int, calls_per_second: float) -> CampaignSettings:
    return CampaignSettings(
        window=ALL_DAY,
        max_concurrent_calls=max_concurrent_calls,
        calls_per_second=calls_per_second,
    )


def contacts(count: int, persona: str) -> list[Contact]:
    # +44 20 7946 0xxx is Ofcom's range for drama: valid, never a real line.
    return [
        Contact(external_id=f"p{i:05d}", name=f"Person {i}", phone=f"+44207946{i % 10000:04d}", persona=persona)
        for i in range(count)
    ]


@asynccontextmanager
async def database() -> AsyncIterator[str]:
    """A fresh database migrated to head: on the Postgres server ``DATABASE_URL`` names, one of the bench's
    own (created, then dropped), so a bench never reads or drops the tables of a database others share;
    else a SQLite file in a temporary directory."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        async with scratch_postgres_database(configured) as url:
            await upgrade_database(url)
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="ringflow-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await upgrade_database(url)
        yield url


@asynccontextmanager
async def scratch_postgres_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty database ``bench_<pid>_<random>`` on the server of ``server_url``, dropped on the way out
    (``WITH (FORCE)``: a pooled connection left behind must not keep it)."""
    name = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_async_engine(async_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            await dispose_cached_engines()
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@asynccontextmanager
async def dev_server(codec_keys: str | None = None) -> AsyncIterator[WorkflowEnvironment]:
    """A dev server whose client seals payloads with ``codec_keys`` (default: a key made for this run only),
    as in production, so the figures include the encryption. A worker process given the same keys shares it."""
    env = await WorkflowEnvironment.start_local(
        data_converter=build_data_converter(EncryptionCodec(parse_codec_keys(codec_keys or new_codec_key("bench")))),
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        search_attributes=search_attributes.ALL,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def stack(carrier: SimCarrier) -> AsyncIterator[Stack]:
    """Dev server + database + a ringflow worker (``build_worker``) on a fresh task queue."""
    async with database() as url, dev_server() as env:
        task_queue = f"bench-{uuid.uuid4().hex[:8]}"
        sessions = get_session_factory(url)
        settings = Settings(database_url=url, task_queue=task_queue)
        try:
            async with build_worker(env.client, settings, sessions=sessions, carrier=carrier):
                yield Stack(client=env.client, task_queue=task_queue, sessions=sessions, database_url=url)
        finally:
            await dispose_cached_engines()


@dataclass
class CampaignRun:
    campaign_id: str
    started: float
    """``time.monotonic()`` just before ``start_workflow``: the clock of ``SimDial.started_monotonic``."""
    ended: float
    """``time.monotonic()`` once the result is in."""

    @property
    def seconds(self) -> float:
        return self.ended - self.started


async def run_campaign(stack: Stack, settings: CampaignSettings, people: list[Contact]) -> CampaignRun:
    """Seed a campaign and run it to completion, timing it from start_workflow to result."""
    campaign_id = f"b-{uuid.uuid4().hex[:10]}"
    async with stack.sessions() as session:
        await queries.create_campaign(session, campaign_id, f"bench {campaign_id}", settings)
        await store_contacts.add_contacts(session, campaign_id, people)
        await session.commit()
    started = time.monotonic()
    handle = await stack.client.start_workflow(
        CampaignWorkflow.run,
        CampaignWorkflowInput(campaign_id=campaign_id, settings=settings, policy=BENCH_POLICY),
        id=campaign_workflow_id(campaign_id),
        task_queue=stack.task_queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(search_attributes.CAMPAIGN_ID, campaign_id)]),
    )
    result = await handle.result()
    ended = time.monotonic()
    if result.progress.finished != len(people):
        raise RuntimeError(f"campaign {campaign_id} finished {result.progress.finished} of {len(people)} contacts")
    return CampaignRun(campaign_id=campaign_id, started=started, ended=ended)
