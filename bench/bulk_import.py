"""Bulk contact import through the real REST API: a 200,000-row CSV creates a campaign, and another
200,000 rows are added to it while it runs, then 200,000 more with ``ringflow campaign add``.

    python bench/bulk_import.py          # always 200,000 rows (make bench's N is ignored)

The stack: a Temporal dev server (payloads sealed with a key of this run), a worker built as
``ringflow worker`` builds it in this process, and the API as deployed (``uvicorn --factory
api.main:app_from_env``) in a process of its own, so its peak RSS (``VmHWM``) is the API's alone. The
campaign dials slowly (one call at a time, at 0.2 per second), so the import is measured, not the
dialling. While each upload runs, ``GET /v1/me`` is asked every ``PING_INTERVAL`` seconds: its worst
latency shows whether the import held the API's event loop.

Prints ``create_seconds``, ``add_seconds``, ``api_worst_ping_ms``, ``cli_add_seconds``,
``cli_add_peak_rss_mb``, ``contacts_added_payload_bytes`` (the update the running campaign got, read
from its history), and last
``bulk_import_rows 200000 seconds X peak_rss_mb Y`` (X: the campaign's creation from the CSV).
``DATABASE_URL=postgresql://…`` measures against Postgres.
"""

import asyncio
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from _process import ROOT, free_port, peak_rss_mb
from _stack import database
from temporalio.testing import WorkflowEnvironment

from infra.codec import EncryptionCodec, build_data_converter, new_codec_key, parse_codec_keys
from schemas.settings import Settings
from store.db import dispose_cached_engines, get_session_factory
from store.orgs import create_org
from worker.main import build_worker
from workflows import search_attributes

ROWS = 200_000
PING_INTERVAL = 0.05
SLOW_CAMPAIGN = (
    '{"window": {"start": "00:00", "end": "00:00", "weekdays": [0, 1, 2, 3, 4, 5, 6]},'
    ' "max_concurrent_calls": 1, "calls_per_second": 0.2, "retry": {"max_attempts": 1}}'
)


def contacts_csv(count: int, first: int) -> bytes:
    """``count`` distinct valid Dublin numbers from ``first``; the ids never contain the number."""
    rows = [f"k{index:07d},Person {index},+3531{index:07d},Acme" for index in range(first, first + count)]
    return ("external_id,name,phone,company\n" + "\n".join(rows) + "\n").encode()


async def timed_upload(http: httpx.AsyncClient, url: str, body: bytes, data: dict[str, str]) -> tuple[float, float]:
    """Seconds the upload took and the worst ``GET /v1/me`` latency (ms) meanwhile."""
    worst = 0.0
    done = asyncio.Event()

    async def ping() -> None:
        nonlocal worst
        while not done.is_set():
            started = time.perf_counter()
            await http.get("/v1/me")
            worst = max(worst, (time.perf_counter() - started) * 1000)
            await asyncio.sleep(PING_INTERVAL)

    pinger = asyncio.create_task(ping())
    started = time.perf_counter()
    response = await http.post(url, files={"file": ("bench.csv", body, "text/csv")}, data=data)
    seconds = time.perf_counter() - started
    done.set()
    await pinger
    if response.status_code not in (200, 201) or response.json()["import_report"]["imported"] != ROWS:
        raise RuntimeError(f"{url}: {response.status_code} {response.text[:500]}")
    return seconds, worst


async def cli_add(campaign_id: str, body: bytes, environment: dict[str, str]) -> tuple[float, float]:
    """``ringflow campaign add`` with ``body`` as its CSV: seconds, and the CLI process's peak RSS in MB."""
    with tempfile.NamedTemporaryFile(suffix=".csv") as csv_file:
        csv_file.write(body)
        csv_file.flush()
        started = time.perf_counter()
        cli = await asyncio.create_subprocess_exec(
            *(str(Path(sys.executable).parent / "ringflow"), "campaign", "add", campaign_id, csv_file.name),
            cwd=ROOT,
            env=environment,
            stdout=asyncio.subprocess.DEVNULL,
        )
        if await cli.wait() != 0:
            raise RuntimeError(f"ringflow campaign add exited {cli.returncode}")
        seconds = time.perf_counter() - started
    # The CLI is the only child waited for so far (the API still runs): ru_maxrss is its peak, in KiB.
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


async def contacts_added_payload_bytes(env: WorkflowEnvironment, campaign_id: str) -> int:
    """The size of the ``contacts_added`` update's input in the campaign's history (sealed, as stored)."""
    handle = env.client.get_workflow_handle(f"campaign-{campaign_id}")
    async for event in handle.fetch_history_events():
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name == "contacts_added":
                return sum(len(payload.data) for payload in request.input.args.payloads)
    raise RuntimeError("the campaign's history has no contacts_added update")


async def main() -> None:
    key = new_codec_key("bench")
    async with database() as url:
        env = await WorkflowEnvironment.start_local(
            data_converter=build_data_converter(EncryptionCodec(parse_codec_keys(key))),
            dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
            search_attributes=search_attributes.ALL,
            dev_server_log_level="error",
        )
        sessions = get_session_factory(url)
        task_queue = f"bench-bulk-{uuid.uuid4().hex[:8]}"
        settings = Settings(_env_file=None, database_url=url, task_queue=task_queue, sim_time_scale=0.0)  # type: ignore[call-arg]
        async with sessions() as session:
            _, api_key = await create_org(session, "Bench")
            await session.commit()
        port = free_port()
        environment = {
            **os.environ,
            "DATABASE_URL": url,
            "RINGFLOW_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "RINGFLOW_TASK_QUEUE": task_queue,
            "RINGFLOW_CODEC_KEYS": key,
            "RINGFLOW_LOG_LEVEL": "WARNING",
        }
        api = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "uvicorn", "--factory", "api.main:app_from_env", "--port", str(port)),
            *("--log-level", "warning"),
            cwd=ROOT,
            env=environment,
        )
        try:
            async with (
                build_worker(env.client, settings, sessions=sessions),
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {api_key}"}, timeout=600
                ) as http,
            ):
                for _ in range(600):
                    try:
                        if (await http.get("/v1/me")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                print(f"database {url.split(':', 1)[0]}")
                create_seconds, create_worst = await timed_upload(
                    http, "/v1/campaigns/upload", contacts_csv(ROWS, 0), {"settings": SLOW_CAMPAIGN}
                )
                campaign_id = (await http.get("/v1/campaigns", params={"limit": 1})).json()["items"][0]["id"]
                print(f"create_seconds {create_seconds:.1f}")
                print(f"create_api_worst_ping_ms {create_worst:.0f}")
                add_seconds, add_worst = await timed_upload(
                    http, f"/v1/campaigns/{campaign_id}/contacts/upload", contacts_csv(ROWS, ROWS), {}
                )
                print(f"add_seconds {add_seconds:.1f}")
                print(f"add_api_worst_ping_ms {add_worst:.0f}")
                print(f"contacts_added_payload_bytes {await contacts_added_payload_bytes(env, campaign_id)}")
                cli_seconds, cli_rss = await cli_add(campaign_id, contacts_csv(ROWS, 2 * ROWS), environment)
                print(f"cli_add_seconds {cli_seconds:.1f}")
                print(f"cli_add_peak_rss_mb {cli_rss:.0f}")
                total = (await http.get(f"/v1/campaigns/{campaign_id}")).json()["contacts"]["total"]
                if total != 3 * ROWS:
                    raise RuntimeError(f"the campaign has {total} contacts, not {3 * ROWS}")
                await http.post(f"/v1/campaigns/{campaign_id}/cancel", json={"reason": "bench over"})
                rss = peak_rss_mb(api.pid)
        finally:
            api.terminate()
            await api.wait()
            await dispose_cached_engines()
            await env.shutdown()
    print(f"bulk_import_rows {ROWS} seconds {create_seconds:.1f} peak_rss_mb {rss:.0f}")


if __name__ == "__main__":
    asyncio.run(main())
