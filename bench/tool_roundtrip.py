"""Round trip of an agent tool call on the dev server: tool → workflow update → store commit → tool output.

    python bench/tool_roundtrip.py [CALLS]   (default 500)

Calls the agent's real tools (take_note and share_information alternately) through the Temporal
bridge against a contact workflow parked between calls. The floor, on the same server: an update
that answers at once on a running ``BareUpdateWorkflow`` (``_floor.py``), on a worker configured like
the ringflow one. Beside them, the store write alone (``queries.record_note`` in a transaction of its
own, what the update's local activity commits), so the time a tool spends beyond the floor can be
split. Tool calls, floor updates and store writes take turns, so a swing in the machine's load
touches all three alike. Last line:
``tool_roundtrip_p50_ms <x> p99_ms <y> floor_p99_ms <f> ratio_p99 <y / f>``.
"""

import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from _floor import BareUpdateWorkflow, floor_worker, start_update_floor, update_round_trip
from _stack import ALL_DAY, BENCH_POLICY, stack
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schemas.agent import AgentConfig, CallJob, InformationCategory
from schemas.campaign import CampaignSettings, RetryPolicy
from schemas.contact import Contact
from schemas.workflow_io import ContactPhase, ContactWorkflowInput, contact_workflow_id
from simulator.carrier import SimCarrier
from store import contacts as store_contacts
from store import queries
from voice_worker.agent import CallTools
from voice_worker.temporal_bridge import TemporalCallBridge
from workflows.contact import ContactWorkflow

AGENT = AgentConfig(name="bench", instructions="Benchmark agent.")
STORE_ONLY = "store-only"
"""The external id the bare store writes are filed under, so they are not counted as the tools' notes."""


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def store_write(sessions: async_sessionmaker[AsyncSession], campaign_id: str, index: int) -> float:
    """Milliseconds of one note's write and commit, as the ``record_note`` activity makes it."""
    started = time.perf_counter()
    async with sessions() as session:
        await queries.record_note(session, f"bench-store-{index}", campaign_id, STORE_ONLY, 1, f"note {index}")
        await session.commit()
    return (time.perf_counter() - started) * 1000


async def measure(calls: int) -> None:
    async with stack(SimCarrier(time_scale=0.0)) as bench:
        campaign_id = f"tool-{uuid.uuid4().hex[:8]}"
        person = Contact(external_id="p1", name="Bench Person", phone="+442079460001", persona="never_answers")
        settings = CampaignSettings(
            window=ALL_DAY, retry=RetryPolicy(max_attempts=3, initial_backoff=timedelta(hours=6))
        )
        async with bench.sessions() as session:
            await queries.create_campaign(session, campaign_id, "tool bench", settings)
            await store_contacts.add_contacts(session, campaign_id, [person])
            await session.commit()
        workflow_id = contact_workflow_id(campaign_id, person.external_id)
        handle = await bench.client.start_workflow(
            ContactWorkflow.run,
            ContactWorkflowInput(
                campaign_id=campaign_id, contact=person, settings=settings, agent=AGENT, policy=BENCH_POLICY
            ),
            id=workflow_id,
            task_queue=bench.task_queue,
        )
        for _ in range(400):  # the first call goes unanswered, then the contact waits hours for its retry
            if (await handle.query(ContactWorkflow.state)).phase == ContactPhase.WAITING_RETRY:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the contact never parked between calls")

        job = CallJob(workflow_id=workflow_id, campaign_id=campaign_id, attempt=1, contact=person, agent=AGENT)
        tools = CallTools(job, TemporalCallBridge(bench.client, workflow_id, attempt=1), lambda: datetime.now(UTC))
        async with floor_worker(bench.client, f"{bench.task_queue}-floor"):
            floor = await start_update_floor(bench.client, f"{bench.task_queue}-floor")
            for warmup in range(20):
                await tools.take_note(f"warm-up {warmup}")
                await update_round_trip(floor, f"warm-up {warmup}")
            timings: list[float] = []
            floors: list[float] = []
            writes: list[float] = []
            for index in range(calls):
                started = time.perf_counter()
                if index % 2:
                    await tools.share_information(f"fact {index}", InformationCategory.OTHER)
                else:
                    await tools.take_note(f"note {index}")
                timings.append((time.perf_counter() - started) * 1000)
                floors.append(await update_round_trip(floor, f"value {index}"))
                writes.append(await store_write(bench.sessions, campaign_id, index))
            await floor.signal(BareUpdateWorkflow.finish)
        await handle.terminate("benchmark over")

        async with bench.sessions() as session:
            stored = len(await queries.notes_for(session, campaign_id, person.external_id))
        timings.sort()
        floors.sort()
        writes.sort()
        p99, floor_p99 = percentile(timings, 0.99), percentile(floors, 0.99)
        print(f"calls {calls}")
        print(f"database {bench.database_url.split(':')[0]}")
        print(f"notes_stored {stored}")
        print(f"mean_ms {statistics.fmean(timings):.1f} max_ms {timings[-1]:.1f}")
        print(f"floor_update_p50_ms {statistics.median(floors):.1f} mean_ms {statistics.fmean(floors):.1f}")
        print(f"store_write_p50_ms {statistics.median(writes):.1f} p99_ms {percentile(writes, 0.99):.1f}")
        print(
            f"tool_roundtrip_p50_ms {statistics.median(timings):.1f} p99_ms {p99:.1f}"
            f" floor_p99_ms {floor_p99:.1f} ratio_p99 {p99 / floor_p99:.2f}"
        )


if __name__ == "__main__":
    asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
