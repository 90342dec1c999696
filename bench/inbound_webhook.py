"""Latency of Twilio's incoming-call webhook on loopback: signed POST → update-with-start → room + agent → TwiML.

    python bench/inbound_webhook.py [CALLS]   (default 300)

A real uvicorn server runs the API against a dev server, a worker and the LiveKit stand-in (from
tests/). Each call is a fresh CallSid posted once, signed as Twilio signs it; its status callback
(``completed``) is then posted untimed so every workflow ends. The floor, on the same server: an
update-with-start of a fresh ``BareUpdateWorkflow`` (``_floor.py``) whose update answers at once,
started as the webhook starts its workflow, on a worker configured like the ringflow one. Webhooks
and floor calls alternate, one of each in turn, so a swing in the machine's load touches both alike.
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
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from livekit_standin import API_KEY, API_SECRET, LiveKitStandIn

from api.main import create_app
from schemas.agent import AgentConfig
from schemas.settings import Settings
from simulator.carrier import SimCarrier
from store import numbers, queries
from store.db import dispose_cached_engines, get_session_factory
from worker.main import build_worker

TOKEN = "bench-twilio-auth-token"
NUMBER = "+14155550100"
CALLER = "+14155550123"


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
                    done = await post("/twilio/voice/status", {"CallSid": sid, "CallStatus": "completed"})
                    if done.status_code != 204:
                        raise RuntimeError(f"status callback failed: {done.status_code} {done.text}")
        finally:
            server.should_exit = True
            await serving
            await dispose_cached_engines()
    print(f"calls {len(latencies)} mean_ms {statistics.fmean(latencies):.1f} max_ms {max(latencies):.1f}")
    print(f"floor_update_with_start_p50_ms {percentile(floors, 0.50):.1f} mean_ms {statistics.fmean(floors):.1f}")
    p99, floor_p99 = percentile(latencies, 0.99), percentile(floors, 0.99)
    print(
        f"webhook_p50_ms {percentile(latencies, 0.50):.1f} p99_ms {p99:.1f}"
        f" floor_p99_ms {floor_p99:.1f} ratio_p99 {p99 / floor_p99:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
