"""Latency of Twilio's incoming-call webhook on loopback: signed POST → update-with-start → room + agent → TwiML.

    python bench/inbound_webhook.py [CALLS]   (default 300)

A real uvicorn server runs the API against a dev server, a worker and the LiveKit stand-in (from
tests/). Each call is a fresh CallSid posted once, signed as Twilio signs it; its status callback
(``completed``) is then posted untimed so every workflow ends. The floor, on the same server: an
update-with-start of a fresh ``BareUpdateWorkflow`` (``_floor.py``) whose update answers at once,
started as the webhook starts its workflow, on a worker configured like the ringflow one. Webhooks
and floor calls alternate, one of each in turn, so a swing in the machine's load touches both alike.
Where a webhook's time goes, from each call's workflow history (server timestamps, medians):
``in_workflow`` from the run's start to its ``prepare`` update's completion, split into the first
workflow task (``first_task``: start to the room activity scheduled), the activity's dispatch to a
poller (``activity_dispatch``), the room activity itself (``room_activity``: LiveKit stand-in calls) and
the second task (``second_task``: the call's store record, a local activity, to the update's
completion); ``outside_workflow`` is the rest of the webhook's latency (HTTP, signature, number → agent
lookup, the update-with-start's RPCs, TwiML).
Last line: ``webhook_p50_ms <x> p99_ms <y> floor_p99_ms <f> ratio_p99 <y / f>``.
"""

import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx
import uvicorn
from _floor import floor_worker, update_with_start_round_trip
from _stack import database, dev_server
from temporalio.client import Client
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from livekit_standin import API_KEY, API_SECRET, LiveKitStandIn

from api.main import create_app
from schemas.agent import AgentConfig
from schemas.inbound import inbound_workflow_id
from schemas.settings import Settings
from simulator.carrier import SimCarrier
from store import numbers, queries
from store.db import dispose_cached_engines, get_session_factory
from worker.main import build_worker

TOKEN = "bench-twilio-auth-token"
NUMBER = "+14155550100"
CALLER = "+14155550123"


MARKS = (
    "workflow_execution_started",
    "activity_task_scheduled",
    "activity_task_started",
    "activity_task_completed",
    "marker_recorded",
    "workflow_execution_update_completed",
)
"""The events that bound the ``prepare`` update's stages. Runs that prepare the room in a local activity (the
patch ``inbound-room-in-one-task``) have a marker instead of the three activity events."""


async def stages_ms(client: Client, call_sid: str) -> dict[str, float]:
    """Milliseconds of each stage of one call's ``prepare`` update, from its history's first events."""
    marks: dict[str, float] = {}
    async for event in client.get_workflow_handle(inbound_workflow_id(call_sid)).fetch_history_events():
        for mark in MARKS:
            if mark not in marks and event.HasField(f"{mark}_event_attributes"):
                marks[mark] = event.event_time.ToMicroseconds() / 1000
        if "workflow_execution_update_completed" in marks:
            break
    started, answered = marks["workflow_execution_started"], marks["workflow_execution_update_completed"]
    if "activity_task_scheduled" not in marks:  # the room in a local activity: one workflow task
        return {"in_workflow": answered - started, "to_first_marker": marks["marker_recorded"] - started}
    scheduled, running, completed = (marks[mark] for mark in MARKS[1:4])
    return {
        "in_workflow": answered - started,
        "first_task": scheduled - started,
        "activity_dispatch": running - scheduled,
        "room_activity": completed - running,
        "second_task": answered - completed,
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(calls: int) -> None:
    async with database() as url, dev_server() as env, LiveKitStandIn() as standin:
        sessions = get_session_factory(url)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            task_queue=f"bench-inbound-{uuid.uuid4().hex[:8]}",
            livekit_url=standin.url,
            livekit_api_key=API_KEY,
            livekit_api_secret=API_SECRET,
            livekit_sip_uri_host="bench.sip.livekit.test",
            twilio_account_sid="ACbench",
            twilio_auth_token=TOKEN,
            public_base_url="https://ringflow.example.com",
        )
        async with sessions() as session:
            await queries.save_agent(session, AgentConfig(name="front-desk", instructions="Help callers."))
            await numbers.upsert_number(session, NUMBER, "PN1", "Front desk")
            await numbers.assign_agent(session, NUMBER, "front-desk")
            await session.commit()
        app = create_app(settings, env.client, sessions)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
        serving = asyncio.create_task(server.serve())
        for _ in range(1000):  # up to 10 s for the socket to be bound
            if server.started:
                break
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        validator = RequestValidator(TOKEN)
        latencies: list[float] = []
        floors: list[float] = []
        sids: list[str] = []
        floor_queue = f"{settings.task_queue}-floor"
        try:
            async with (
                build_worker(env.client, settings, sessions=sessions, carrier=SimCarrier(time_scale=0.0)),
                floor_worker(env.client, floor_queue),
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
            ):

                async def post(path: str, form: dict[str, str]) -> httpx.Response:
                    signature = validator.compute_signature(settings.public_base_url + path, form)
                    return await http.post(path, data=form, headers={"X-Twilio-Signature": signature})

                for index in range(calls + 10):
                    sid = "CA" + uuid.uuid4().hex
                    form = {"CallSid": sid, "AccountSid": "ACbench", "From": CALLER, "To": NUMBER}
                    started = time.perf_counter()
                    response = await post("/twilio/voice/incoming", form)
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 200 or "<Sip>" not in response.text:
                        raise RuntimeError(f"webhook failed: {response.status_code} {response.text}")
                    floor = await update_with_start_round_trip(env.client, floor_queue)
                    if index >= 10:  # the first few warm the workers and the connection pool
                        latencies.append(elapsed)
                        floors.append(floor)
                        sids.append(sid)
                    done = await post("/twilio/voice/status", {"CallSid": sid, "CallStatus": "completed"})
                    if done.status_code != 204:
                        raise RuntimeError(f"status callback failed: {done.status_code} {done.text}")
            stages = [await stages_ms(env.client, sid) for sid in sids]
        finally:
            server.should_exit = True
            await serving
            await dispose_cached_engines()
    print(f"calls {len(latencies)} mean_ms {statistics.fmean(latencies):.1f} max_ms {max(latencies):.1f}")
    outside = [latency - stage["in_workflow"] for latency, stage in zip(latencies, stages, strict=True)]
    split = " ".join(f"{name} {statistics.median(stage[name] for stage in stages):.1f}" for name in stages[0])
    print(f"webhook_stages_p50_ms {split} outside_workflow {statistics.median(outside):.1f}")
    print(f"floor_update_with_start_p50_ms {percentile(floors, 0.50):.1f} mean_ms {statistics.fmean(floors):.1f}")
    p99, floor_p99 = percentile(latencies, 0.99), percentile(floors, 0.99)
    print(
        f"webhook_p50_ms {percentile(latencies, 0.50):.1f} p99_ms {p99:.1f}"
        f" floor_p99_ms {floor_p99:.1f} ratio_p99 {p99 / floor_p99:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
