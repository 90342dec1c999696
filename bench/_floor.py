"""Temporal's own floor, measured in the same run as each bench: the least a contact, a tool call or
an incoming call could cost on this server.

* ``BareWorkflow``: one echo activity and a 1 ms timer, the least a contact could cost;
* ``BareUpdateWorkflow``: an update handler that answers at once, the least an agent tool's update
  (``echo`` on a running workflow) or an incoming call's update-with-start could cost.

The workflows live in a module rather than in the benchmark scripts because the sandbox re-executes a
workflow's module for every new workflow instance, and a ``__main__`` module is re-read and
recompiled from source each time (no bytecode cache), which would slow the floor down.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.worker import Worker

START_CONCURRENCY = 200
"""Bare workflow starts in flight at once: the campaign throughput bench's concurrent calls."""


@activity.defn
async def echo(value: str) -> str:
    return value


@workflow.defn
class BareWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        echoed = await workflow.execute_activity(echo, value, start_to_close_timeout=timedelta(seconds=30))
        await workflow.sleep(0.001)
        return echoed


@workflow.defn
class BareUpdateWorkflow:
    """Runs until ``finish``; its ``echo`` update touches nothing, so its round trip is Temporal's alone."""

    def __init__(self) -> None:
        self._finished = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._finished)

    @workflow.update
    def echo(self, value: str) -> str:
        return value

    @workflow.signal
    def finish(self) -> None:
        self._finished = True


@asynccontextmanager
async def floor_worker(client: Client, task_queue: str) -> AsyncIterator[Worker]:
    """A worker for the floor workflows, configured like ``build_worker``'s, so the two differ only in
    what their workflows do."""
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[BareWorkflow, BareUpdateWorkflow],
            activities=[echo],
            max_concurrent_activities=500,
            workflow_task_executor=executor,
        ) as worker:
            yield worker


async def run_floor(client: Client, task_queue: str, count: int) -> float:
    """Seconds to start ``count`` bare workflows concurrently and collect every result."""
    gate = asyncio.Semaphore(START_CONCURRENCY)
    batch = uuid.uuid4().hex[:8]

    async def start(index: int) -> WorkflowHandle[BareWorkflow, str]:
        async with gate:
            return await client.start_workflow(
                BareWorkflow.run, f"v{index}", id=f"bare-{batch}-{index}", task_queue=task_queue
            )

    started = time.monotonic()
    handles = await asyncio.gather(*(start(i) for i in range(count)))
    await asyncio.gather(*(handle.result() for handle in handles))
    return time.monotonic() - started


async def start_update_floor(client: Client, task_queue: str) -> WorkflowHandle[BareUpdateWorkflow, None]:
    """A running ``BareUpdateWorkflow`` to time ``update_round_trip`` against (``finish`` ends it)."""
    return await client.start_workflow(
        BareUpdateWorkflow.run, id=f"bare-update-{uuid.uuid4().hex[:10]}", task_queue=task_queue
    )


async def update_round_trip(handle: WorkflowHandle[BareUpdateWorkflow, None], value: str) -> float:
    """Milliseconds of one ``echo`` update on a running workflow: the floor of an agent tool's update."""
    started = time.perf_counter()
    await handle.execute_update(BareUpdateWorkflow.echo, value)
    return (time.perf_counter() - started) * 1000


async def update_with_start_round_trip(client: Client, task_queue: str) -> float:
    """Milliseconds of one ``echo`` update-with-start of a fresh workflow: the floor of an incoming call's
    webhook. The workflow is finished afterwards, untimed."""
    workflow_id = f"bare-uws-{uuid.uuid4().hex}"
    operation = WithStartWorkflowOperation(
        BareUpdateWorkflow.run,
        id=workflow_id,
        task_queue=task_queue,
        # As the incoming-call webhook starts its workflow (api/routers/twilio.py).
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    started = time.perf_counter()
    await client.execute_update_with_start_workflow(
        BareUpdateWorkflow.echo, workflow_id, start_workflow_operation=operation
    )
    elapsed = (time.perf_counter() - started) * 1000
    await (await operation.workflow_handle()).signal(BareUpdateWorkflow.finish)
    return elapsed
