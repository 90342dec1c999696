"""Latency of the REST API's read paths and of the codec server, on loopback, after a real campaign.

    python bench/api_latency.py [N]      # N contacts in the campaign, default 200

The stack: a Temporal dev server (payloads sealed with a key of this run), a worker built as
``ringflow worker`` builds it (sim carrier at time scale 0, the offline scripted agent, so answered
calls leave transcripts, notes and shared information) and ``create_app`` served by a real uvicorn
(``worker.http_server.serving``) on a free port, worker and API in this process. An organization
uploads an N-contact CSV through ``POST /v1/campaigns/upload`` and polls ``GET /v1/campaigns/{id}``
until the campaign has ended. Then each endpoint gets ``requests_per_endpoint(N)`` requests,
``CONCURRENCY`` in flight (``_p50_ms``, ``_p99_ms``, ``_rps``), and ``SERIAL_REQUESTS`` one at a time
(``_alone_p50_ms``: the service time without queueing). Timed at the client, response read; the
httpx client shares this process's event loop with the server, as a sidecar would share a core.
On SQLite every transaction, reads included, starts with ``BEGIN IMMEDIATE`` (``store/db.py``), so
concurrent requests take turns at the lock and the p99 shows SQLite's busy-wait backoff;
``DATABASE_URL=postgresql://…`` measures against the deployed store.

* ``campaign_detail``: ``GET /v1/campaigns/{id}``, store counts plus a query to the campaign workflow;
* ``calls_list``: ``GET /v1/calls?campaign_id=…&limit=50``;
* ``call_detail``: ``GET /v1/calls/{id}`` (transcript, notes, information, callbacks), over answered calls;
* ``information``: ``GET /v1/information?limit=50``;
* ``codec_decode``: ``POST /codec/decode`` of ``CODEC_BATCH`` payloads sealed first through ``/codec/encode``.

Last, the codec alone: ``EncryptionCodec`` sealing and opening ``RAW_PAYLOADS`` DialRequest payloads
(with agent and context, as the contact workflow sends them), in microseconds per payload. Prints
figures only; the last line sums them up.
"""

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
from _stack import database, dev_server
from google.protobuf import json_format
from sqlalchemy import text
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter

from api.main import create_app
from infra.codec import EncryptionCodec, new_codec_key, parse_codec_keys
from schemas.agent import AgentConfig
from schemas.calls import DialRequest
from schemas.contact import Contact
from schemas.settings import Settings
from store.db import dispose_cached_engines, get_session_factory
from store.orgs import create_org
from worker.http_server import bound_port, serving
from worker.main import build_worker

CONCURRENCY = 8
WARMUP_REQUESTS = 16
SERIAL_REQUESTS = 50
CODEC_BATCH = 20
"""Payloads per ``/codec/decode`` request: about what the Web UI asks for one page of a history."""
OPERATOR_TOKEN = "bench-operator-token"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
"""The codec server answers the operator token only, never an organization's key (as the Web UI calls it)."""
RAW_PAYLOADS = 1000
RAW_ROUNDS = 5
CAMPAIGN_TIMEOUT_SECONDS = 600.0
PERSONAS = ("qualifies", "answers", "not_interested", "busy", "never_answers", "voicemail")
"""Callers who end in one attempt (no callbacks left waiting); ``qualifies`` shares information."""
AGENT = {
    "name": "bench",
    "instructions": "You are Sam from Ringflow. Be brief and polite.",
    "greeting": "Hi, this is Sam from Ringflow. Do you have a minute?",
    "context": {"offer": "a free month of Pro"},
}
CAMPAIGN_SETTINGS = (
    '{"window": {"start": "00:00", "end": "00:00", "weekdays": [0, 1, 2, 3, 4, 5, 6]},'
    ' "max_concurrent_calls": 100, "calls_per_second": 100, "retry": {"max_attempts": 1}}'
)


def requests_per_endpoint(contacts: int) -> int:
    """Enough samples for a p99 worth reading, few enough that ``make bench`` (N=500) stays quick."""
    return max(200, min(contacts, 1000))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def contacts_csv(count: int) -> bytes:
    # +44 20 7946 0xxx is Ofcom's range for drama: valid, never a real line.
    rows = [f"p{i:05d},Person {i},+44207946{i % 10000:04d},{PERSONAS[i % len(PERSONAS)]},Acme" for i in range(count)]
    return ("external_id,name,phone,persona,company\n" + "\n".join(rows) + "\n").encode()


def typical_payload() -> Payload:
    """A DialRequest as the contact workflow sends it to the dial activity, serialized like any payload."""
    request = DialRequest(
        idempotency_key="contact-c-0123456789-p00042#1",
        campaign_id="c-0123456789",
        contact=Contact(
            external_id="p00042",
            name="Person 42",
            phone="+442079460042",
            persona="answers",
            attributes={"company": "Acme", "plan": "trial"},
        ),
        attempt=1,
        calls_per_second=10.0,
        workflow_id="contact-c-0123456789-p00042",
        agent=AgentConfig.model_validate(AGENT),
        context={"offer": "a free month of Pro", "account_manager": "Lee"},
    )
    return pydantic_data_converter.payload_converter.to_payloads([request])[0]


async def timed(
    request: Callable[[int], Awaitable[httpx.Response]], count: int, concurrency: int, label: str
) -> tuple[list[float], float]:
    """Milliseconds of each of ``count`` requests, ``concurrency`` in flight, and the seconds they all took."""
    latencies: list[float] = []
    next_index = 0

    async def lane() -> None:
        nonlocal next_index
        while next_index < count:
            index, next_index = next_index, next_index + 1
            started = time.perf_counter()
            response = await request(index)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{label}: {response.status_code} {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


async def measure_endpoint(label: str, count: int, request: Callable[[int], Awaitable[httpx.Response]]) -> str:
    """Warm up, then ``count`` requests ``CONCURRENCY`` at a time, then a few one at a time (the bare
    service time, without queueing behind the others); prints the figures, returns ``p50/p99``."""
    await timed(request, WARMUP_REQUESTS, CONCURRENCY, label)
    latencies, seconds = await timed(request, count, CONCURRENCY, label)
    alone, _ = await timed(request, SERIAL_REQUESTS, 1, label)
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    print(f"api_{label}_p50_ms {p50:.1f}")
    print(f"api_{label}_p99_ms {p99:.1f}")
    print(f"api_{label}_rps {count / seconds:.0f}")
    print(f"api_{label}_alone_p50_ms {percentile(alone, 0.50):.1f}")
    return f"{label} {p50:.1f}/{p99:.1f}"


async def run_campaign(http: httpx.AsyncClient, count: int) -> str:
    """Upload the CSV, wait for the campaign's workflow to end; returns the campaign id."""
    agent = await http.post("/v1/agents", json=AGENT)
    if agent.status_code != 201:
        raise RuntimeError(f"agent: {agent.status_code} {agent.text}")
    started = time.perf_counter()
    created = await http.post(
        "/v1/campaigns/upload",
        files={"file": ("bench.csv", contacts_csv(count), "text/csv")},
        data={"agent_name": AGENT["name"], "settings": CAMPAIGN_SETTINGS},
    )
    if created.status_code != 201 or created.json()["import_report"]["imported"] != count:
        raise RuntimeError(f"upload: {created.status_code} {created.text[:500]}")
    print(f"upload_ms {(time.perf_counter() - started) * 1000:.0f}")
    campaign_id = created.json()["campaign"]["id"]
    deadline = time.monotonic() + CAMPAIGN_TIMEOUT_SECONDS
    while True:
        response = await http.get(f"/v1/campaigns/{campaign_id}")
        # A loaded machine may answer one poll with an error (the workflow query timing out): poll on.
        body = response.json() if response.status_code == 200 else {"status": response.status_code}
        progress = body.get("progress") or {}
        if body["status"] == "completed" and progress.get("status") == "completed":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"campaign {campaign_id} still running after {CAMPAIGN_TIMEOUT_SECONDS:.0f} s: {body}")
        await asyncio.sleep(0.25)
    print(f"campaign_seconds {time.perf_counter() - started:.1f}")
    if progress["finished"] != count:
        raise RuntimeError(f"campaign {campaign_id} finished {progress['finished']} of {count} contacts")
    return campaign_id


async def answered_call_ids(http: httpx.AsyncClient, campaign_id: str) -> list[str]:
    """Every answered call of the campaign (they have transcripts), paging through the list."""
    ids: list[str] = []
    offset = 0
    while True:
        page = (await http.get("/v1/calls", params={"campaign_id": campaign_id, "limit": 500, "offset": offset})).json()
        ids += [call["id"] for call in page["items"] if call["answered"]]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return ids


async def measure_api(contacts: int) -> str:
    count = requests_per_endpoint(contacts)
    async with database() as url, dev_server() as env:
        print(f"database {url.split(':', 1)[0]}")
        sessions = get_session_factory(url)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            task_queue=f"bench-api-{uuid.uuid4().hex[:8]}",
            sim_time_scale=0.0,
            operator_token=OPERATOR_TOKEN,
        )
        async with sessions() as session:
            _, key = await create_org(session, "Bench")
            await session.commit()
        app = create_app(settings, env.client, sessions)
        try:
            async with (
                build_worker(env.client, settings, sessions=sessions),
                serving(app, "127.0.0.1", 0, purpose="the API under benchmark") as server,
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{bound_port(server)}",
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=60.0,
                    limits=httpx.Limits(max_connections=CONCURRENCY),
                ) as http,
            ):
                campaign_id = await run_campaign(http, contacts)
                if not url.startswith("sqlite"):
                    # The tables were filled seconds ago; without statistics Postgres picks nested loops
                    # (calls_list ~40 ms instead of ~1). Autovacuum would analyze within a minute or so.
                    async with sessions() as session:
                        await session.execute(text("ANALYZE"))
                        await session.commit()
                return await measure_endpoints(http, campaign_id, count)
        finally:
            await dispose_cached_engines()


async def measure_endpoints(http: httpx.AsyncClient, campaign_id: str, count: int) -> str:
    """Each endpoint timed in turn; returns their ``p50/p99`` for the summary line."""
    calls = await answered_call_ids(http, campaign_id)
    information = (await http.get("/v1/information", params={"limit": 50})).json()["items"]
    print(f"requests_per_endpoint {count} concurrency {CONCURRENCY}")
    print(f"answered_calls {len(calls)} information_items_shown {len(information)}")
    sealed = await http.post(
        "/codec/encode",
        json={"payloads": [json_format.MessageToDict(typical_payload())] * CODEC_BATCH},
        headers=OPERATOR,
    )
    if sealed.status_code != 200:
        raise RuntimeError(f"codec encode: {sealed.status_code} {sealed.text[:300]}")
    batch = sealed.content
    opened = await http.post("/codec/decode", content=batch, headers={**OPERATOR, "Content-Type": "application/json"})
    if opened.json()["payloads"] != [json_format.MessageToDict(typical_payload())] * CODEC_BATCH:
        raise RuntimeError(f"codec decode did not give back what was encoded: {opened.status_code} {opened.text[:300]}")
    probes: dict[str, Callable[[int], Awaitable[httpx.Response]]] = {
        "campaign_detail": lambda _: http.get(f"/v1/campaigns/{campaign_id}"),
        "calls_list": lambda _: http.get("/v1/calls", params={"campaign_id": campaign_id, "limit": 50}),
        "call_detail": lambda index: http.get(f"/v1/calls/{calls[index % len(calls)]}"),
        "information": lambda _: http.get("/v1/information", params={"limit": 50}),
        "codec_decode": lambda _: http.post(
            "/codec/decode", content=batch, headers={**OPERATOR, "Content-Type": "application/json"}
        ),
    }
    return ", ".join([await measure_endpoint(label, count, probe) for label, probe in probes.items()])


async def measure_codec() -> str:
    """Microseconds per payload to seal, and to open, ``RAW_PAYLOADS`` typical payloads (best of a few rounds)."""
    codec = EncryptionCodec(parse_codec_keys(new_codec_key("bench")))
    payloads = [typical_payload()] * RAW_PAYLOADS
    encode_seconds, decode_seconds = [], []
    for _ in range(RAW_ROUNDS):
        started = time.perf_counter()
        sealed = await codec.encode(payloads)
        encoded = time.perf_counter()
        opened = await codec.decode(sealed)
        decode_seconds.append(time.perf_counter() - encoded)
        encode_seconds.append(encoded - started)
        if opened != payloads:
            raise RuntimeError("the codec did not give back the payloads it sealed")
    encode_us = min(encode_seconds) / RAW_PAYLOADS * 1e6
    decode_us = min(decode_seconds) / RAW_PAYLOADS * 1e6
    print(f"codec_payload_bytes {payloads[0].ByteSize()} sealed_bytes {sealed[0].ByteSize()}")
    print(f"codec_encode_us_per_payload {encode_us:.1f}")
    print(f"codec_decode_us_per_payload {decode_us:.1f}")
    print(f"codec_roundtrip_us_per_payload {encode_us + decode_us:.1f}")
    return f"codec {encode_us + decode_us:.1f} us/payload"


async def measure(contacts: int) -> None:
    print(f"contacts {contacts}")
    api_summary = await measure_api(contacts)
    codec_summary = await measure_codec()
    print(f"api_latency p50/p99 ms: {api_summary}; {codec_summary}")


if __name__ == "__main__":
    asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
