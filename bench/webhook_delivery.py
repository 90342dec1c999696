"""Webhook delivery, end to end on loopback: event recorded (outbox) → delivery workflow → signed POST → 2xx.

    python bench/webhook_delivery.py [EVENTS]   (default 500)

A dev server, a migrated database and a ringflow worker deliver EVENTS events, ten per contact (so one
contact's arrive in order, contacts in parallel), to a local aiohttp receiver that verifies each signature
and answers 200. Latency runs from just before the event is recorded to the receiver's answer. Last line:
``webhook_delivery_p50_ms <x> p99_ms <y> events_per_s <z>``.
"""

import asyncio
import statistics
import sys
import time
import uuid

from _stack import database, dev_server
from aiohttp import web
from standardwebhooks import Webhook

from api.services import webhooks
from schemas.settings import Settings
from schemas.webhooks import WebhookEndpointIn, WebhookEventType
from simulator.carrier import SimCarrier
from store.db import dispose_cached_engines, get_session_factory
from store.orgs import create_org
from worker.main import build_worker

PER_CONTACT = 10
ORG = "bench-hooks"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(count: int) -> None:
    created: dict[str, float] = {}
    arrived: dict[str, float] = {}
    everything = asyncio.Event()
    verifier: list[Webhook] = []

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        verifier[0].verify(body, dict(request.headers))
        arrived.setdefault(request.headers["webhook-id"], time.perf_counter())
        if len(arrived) >= count:
            everything.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hooks", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with database() as url, dev_server() as env:
        sessions = get_session_factory(url)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            task_queue=f"bench-hooks-{uuid.uuid4().hex[:8]}",
            webhook_allow_private_urls=True,  # the receiver is on loopback
        )
        async with sessions() as session:
            await create_org(session, "Bench", org_id=ORG)
            await session.commit()
            endpoint = await webhooks.create(
                session, settings, org_id=ORG, endpoint=WebhookEndpointIn(url=f"http://127.0.0.1:{port}/hooks")
            )
        verifier.append(Webhook(endpoint.secret))

        async def contact(index: int, events: int) -> None:
            ordering_key = f"contact:bench/p{index:05d}"
            for step in range(events):
                started = time.perf_counter()
                async with sessions() as session:
                    event_id = await webhooks.emit(
                        session,
                        env.client,
                        settings,
                        org_id=ORG,
                        event_type=WebhookEventType.CALL_ENDED,
                        key=f"{ordering_key}/{step}",
                        ordering_key=ordering_key,
                        data={"contact": index, "step": step},
                    )
                created[event_id] = started

        try:
            async with build_worker(env.client, settings, sessions=sessions, carrier=SimCarrier(time_scale=0.0)):
                began = time.perf_counter()
                contacts = (count + PER_CONTACT - 1) // PER_CONTACT
                await asyncio.gather(*(contact(i, min(PER_CONTACT, count - i * PER_CONTACT)) for i in range(contacts)))
                await asyncio.wait_for(everything.wait(), timeout=600)
                ended = max(arrived.values())
        finally:
            await dispose_cached_engines()
            await runner.cleanup()
    latencies = [(arrived[event_id] - created[event_id]) * 1000 for event_id in created]
    print(f"events {len(latencies)} mean_ms {statistics.fmean(latencies):.1f} max_ms {max(latencies):.1f}")
    print(
        f"webhook_delivery_p50_ms {percentile(latencies, 0.50):.1f} p99_ms {percentile(latencies, 0.99):.1f} "
        f"events_per_s {len(latencies) / (ended - began):.1f}"
    )


if __name__ == "__main__":
    asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
