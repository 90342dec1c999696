"""One campaign of N contacts on one worker process: how long it takes, the longest history of any of
its runs, and the worker's peak memory, which should not grow with N.

    python bench/campaign_scale.py [N]      # N contacts, default 10000

The worker is ``python -m worker`` (what ``ringflow worker`` runs) in a process of its own on the sim
carrier with instant calls (time scale 0), so its peak RSS (``VmHWM``) is the worker's alone; the
bench process runs the dev server's client and seeds the store. The campaign: N ``answers`` contacts
with distinct numbers, all-day window, 200 concurrent calls, 100 calls/s (as in
``campaign_throughput.py``), after a warm-up campaign of ``WARMUP`` contacts. The campaign workflow
continues as new; every run of its workflow id is found by following each run's start event back to
the run it continued, and the longest history counts (exact, with no visibility lag).

The floor, in the same run: ``min(N, FLOOR_MAX)`` bare workflows (``_floor.py``) on a worker in the
bench process configured like the ringflow one; ``throughput_ratio`` is the campaign's rate over the
floor's. Prints figures only; the last line is
``scale_contacts N seconds S contacts_per_s R max_history_events E peak_worker_rss_mb M``.
"""

import asyncio
import sys
import uuid

from _floor import floor_worker, run_floor
from _process import peak_rss_mb, rss_mb, worker_process
from _stack import Stack, campaign_settings, database, dev_server, run_campaign
from temporalio.client import Client

from infra.codec import new_codec_key
from schemas.contact import Contact
from schemas.workflow_io import campaign_workflow_id
from store.db import dispose_cached_engines, get_session_factory

MAX_CONCURRENT_CALLS = 200
CALLS_PER_SECOND = 100.0
WARMUP = 20
FLOOR_MAX = 1000


def distinct_contacts(count: int, prefix: str) -> list[Contact]:
    """``count`` contacts with distinct valid Dublin numbers (up to ten million), all answering."""
    return [
        Contact(external_id=f"{prefix}{i:07d}", name=f"Person {i}", phone=f"+3531{i:07d}", persona="answers")
        for i in range(count)
    ]


async def history_lengths(client: Client, workflow_id: str) -> list[int]:
    """Events in each run of ``workflow_id``, oldest first: from the latest run back along the chain of
    continue-as-new (each run's first event names the run it continued)."""
    lengths: list[int] = []
    run_id: str | None = None
    while True:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        description = await handle.describe()
        lengths.append(description.history_length)
        handle = client.get_workflow_handle(workflow_id, run_id=description.run_id)
        async for event in handle.fetch_history_events(page_size=1):
            run_id = event.workflow_execution_started_event_attributes.continued_execution_run_id
            break
        if not run_id:
            return lengths[::-1]


async def measure(count: int) -> None:
    codec_keys = new_codec_key("bench")
    settings = campaign_settings(max_concurrent_calls=MAX_CONCURRENT_CALLS, calls_per_second=CALLS_PER_SECOND)
    async with database() as url, dev_server(codec_keys) as env:
        bench = Stack(
            client=env.client,
            task_queue=f"bench-scale-{uuid.uuid4().hex[:8]}",
            sessions=get_session_factory(url),
            database_url=url,
        )
        try:
            async with worker_process(
                temporal_address=env.client.service_client.config.target_host,
                database_url=url,
                codec_keys=codec_keys,
                task_queue=bench.task_queue,
            ) as worker:
                await run_campaign(bench, settings, distinct_contacts(WARMUP, "w"))
                warm_rss = rss_mb(worker.pid)
                run = await run_campaign(bench, settings, distinct_contacts(count, "p"))
                end_rss, peak_rss = rss_mb(worker.pid), peak_rss_mb(worker.pid)
            lengths = await history_lengths(env.client, campaign_workflow_id(run.campaign_id))
            floor_count = min(count, FLOOR_MAX)
            async with floor_worker(env.client, f"{bench.task_queue}-floor"):
                await run_floor(env.client, f"{bench.task_queue}-floor", WARMUP)
                floor_seconds = await run_floor(env.client, f"{bench.task_queue}-floor", floor_count)
        finally:
            await dispose_cached_engines()
    rate, floor_rate = count / run.seconds, floor_count / floor_seconds
    print(f"database {url.split(':', 1)[0]}")
    print(f"campaign_runs {len(lengths)} history_events_per_run {' '.join(map(str, lengths))}")
    print(f"worker_rss_mb after_warmup {warm_rss:.0f} at_end {end_rss:.0f} (worker: python -m worker, VmRSS)")
    print(f"floor_workflows {floor_count} floor_seconds {floor_seconds:.2f} floor_rate {floor_rate:.1f}")
    print(f"throughput_ratio {rate / floor_rate:.2f}")
    print(
        f"scale_contacts {count} seconds {run.seconds:.1f} contacts_per_s {rate:.1f}"
        f" max_history_events {max(lengths)} peak_worker_rss_mb {peak_rss:.0f}"
    )


if __name__ == "__main__":
    asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
