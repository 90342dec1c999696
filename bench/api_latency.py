"""Latency of the read paths a user hits on a large campaign, through the REST API, the dashboard and the
codec server, on loopback.

    python bench/api_latency.py [N]      # N contacts in the campaign, default 200 (issue 14: 10000)

The stack: a Temporal dev server (payloads sealed with a key of this run) and ``create_app`` served by a
real uvicorn (``worker.http_server.serving``) on a free port, in this process; no worker, since the bench
measures the API, not the dialler. An organization uploads an N-contact CSV through
``POST /v1/campaigns/upload`` (a draft: the store's CSV import path), then :func:`seed_calls` writes
straight into the store what dialling most of it would have left, in bulk: the campaign running, 70% of
the contacts finished with their dials (two for the busy and unanswered), 5% in a call, the rest pending;
answered calls with a transcript and a note, qualified ones with shared information. The running
campaign has no workflow, so its live progress is absent (one ``describe`` call answers that). Then each
endpoint gets ``requests_per_endpoint(N)`` requests, ``CONCURRENCY`` in flight (``_p50_ms``,
``_p99_ms``, ``_rps``), and ``SERIAL_REQUESTS`` one at a time (``_alone_p50_ms``: the service time
without queueing). Timed at the client, response read; the httpx client shares this process's event
loop with the server, as a sidecar would share a core. On SQLite every transaction, reads included,
starts with ``BEGIN IMMEDIATE`` (``store/db.py``), so concurrent requests take turns at the lock and the
p99 shows SQLite's busy-wait backoff; ``DATABASE_URL=postgresql://…`` measures against the deployed
store (a database of the bench's own on that server: ``_stack.database``).

* ``campaign_detail``: ``GET /v1/campaigns/{id}``, store counts plus the campaign workflow's progress;
* ``campaign_stats``: ``GET /v1/campaigns/{id}/stats``, which the campaign page reloads as contacts finish;
* ``contacts_first``: ``GET /v1/contacts?campaign_id=…&limit=50``, with its total (the campaign page's table);
* ``contacts_cursor``: the same list's page after a ``next_cursor`` taken halfway down it;
* ``calls_list``: ``GET /v1/calls?campaign_id=…&limit=50``;
* ``call_detail``: ``GET /v1/calls/{id}`` (transcript, notes, information, callbacks), over answered calls;
* ``campaign_page``: ``GET /campaigns/{id}``, the dashboard's HTML page;
* ``sse_tick``: ``GET /v1/campaigns/{id}/events`` until its first event (a snapshot of the campaign);
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from _stack import database, dev_server
from google.protobuf import json_format
from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter

from api.main import create_app
from infra.codec import EncryptionCodec, new_codec_key, parse_codec_keys
from schemas.agent import AgentConfig
from schemas.calls import DialRequest
from schemas.contact import Contact
from schemas.settings import Settings
from schemas.workflow_io import CampaignStatus
from store.db import dispose_cached_engines, get_session_factory
from store.models import (
    ATTEMPT_DIALLING,
    ATTEMPT_FINISHED,
    CONTACT_ACTIVE,
    CONTACT_FINISHED,
    AttemptRow,
    CampaignRow,
    ContactRow,
    NoteRow,
    SharedInformationRow,
    TranscriptSegmentRow,
)
from store.orgs import create_org
from worker.http_server import bound_port, serving

CONCURRENCY = 8
WARMUP_REQUESTS = 16
SERIAL_REQUESTS = 50
CODEC_BATCH = 20
"""Payloads per ``/codec/decode`` request: about what the Web UI asks for one page of a history."""
OPERATOR_TOKEN = "bench-operator-token"
UNLIMITED = "1000000/minute"
"""The bench's key sends thousands of requests a minute: the per-key limit (600/minute) would answer 429s."""
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
"""The codec server answers the operator token only, never an organization's key (as the Web UI calls it)."""
RAW_PAYLOADS = 1000
RAW_ROUNDS = 5
PERSONAS = ("qualifies", "answers", "not_interested", "busy", "never_answers", "voicemail")
PERSONA_CALLS = {
    "qualifies": (True, "qualified", "qualified", 1),
    "answers": (True, "completed", "completed", 1),
    "not_interested": (True, "not_interested", "not_interested", 1),
    "busy": (False, "busy", "unreachable", 2),
    "never_answers": (False, "no_answer", "unreachable", 2),
    "voicemail": (False, "voicemail", "unreachable", 2),
}
"""Each persona's calls as :func:`seed_calls` writes them: answered, the call's outcome, the contact's final
outcome, dials; ``qualifies`` also shares information."""
FINISHED_PHASES = 14
ACTIVE_PHASES = 1
"""Of every 20 contacts, 14 have finished, 1 is in a call and 5 wait to be dialled."""
CALL_SECONDS = 42.0
TRANSCRIPT = (
    ("agent", "Hi, this is Sam from Ringflow. Do you have a minute?"),
    ("callee", "Sure, go ahead."),
    ("agent", "We are offering a free month of Pro. Would that interest you?"),
    ("callee", "Maybe; send me an email and I will have a look."),
    ("agent", "Will do. Thanks for your time!"),
    ("callee", "Bye."),
)
SEED_CHUNK = 5000
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
    """Enough samples for a p99 worth reading, few enough that ``make bench`` (N=300) stays quick."""
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


async def create_draft(http: httpx.AsyncClient, count: int) -> str:
    """The agent and an N-contact draft campaign, through the API's CSV upload; returns the campaign id."""
    agent = await http.post("/v1/agents", json=AGENT)
    if agent.status_code != 201:
        raise RuntimeError(f"agent: {agent.status_code} {agent.text}")
    started = time.perf_counter()
    created = await http.post(
        "/v1/campaigns/upload",
        files={"file": ("bench.csv", contacts_csv(count), "text/csv")},
        data={"agent_name": AGENT["name"], "settings": CAMPAIGN_SETTINGS, "start": "false"},
    )
    if created.status_code != 201 or created.json()["import_report"]["imported"] != count:
        raise RuntimeError(f"upload: {created.status_code} {created.text[:500]}")
    print(f"upload_ms {(time.perf_counter() - started) * 1000:.0f}")
    return str(created.json()["campaign"]["id"])


@dataclass
class Seeded:
    """The rows :func:`seed_calls` writes, by table, in the order they go in (attempts before what hangs on them)."""

    contacts: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    transcripts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    information: list[dict[str, Any]] = field(default_factory=list)


def _dials(campaign_id: str, org_id: str, contact: Any, index: int, now: datetime, seeded: Seeded) -> None:
    """The contact's state and dials, as the dialler would have left them at this point of the campaign: the
    ``index``th contact first dialled ``index`` seconds after three hours ago (retries ten minutes apart)."""
    phase = index % 20
    persona = PERSONAS[index % len(PERSONAS)]
    if phase >= FINISHED_PHASES + ACTIVE_PHASES:
        return  # not dialled yet
    answered, call_outcome, final_outcome, dials = PERSONA_CALLS[persona]
    active = phase >= FINISHED_PHASES
    if active:
        dials = 1
    started = now - timedelta(hours=3) + timedelta(seconds=index)
    for attempt in range(1, dials + 1):
        key = f"contact-{campaign_id}-{contact.external_id}#{attempt}"
        begun = started + timedelta(minutes=10 * (attempt - 1))
        in_call = active and attempt == dials
        seeded.attempts.append(
            {
                "idempotency_key": key,
                "campaign_id": campaign_id,
                "external_id": contact.external_id,
                "attempt": attempt,
                "carrier": "sim",
                "org_id": org_id,
                "phone": contact.phone,
                "state": ATTEMPT_DIALLING if in_call else ATTEMPT_FINISHED,
                "started_at": begun,
                "ended_at": None if in_call else begun + timedelta(seconds=CALL_SECONDS if answered else 20),
                "network_outcome": None if in_call else ("completed" if answered else call_outcome),
                "outcome": None if in_call or not answered else call_outcome,
                "answered": answered and not in_call,
                "duration_seconds": CALL_SECONDS if answered and not in_call else 0.0,
                "carrier_call_id": f"sim-{key}",
                "detail": "",
                "dialled_at": begun,
                "network_status": "" if in_call else ("answered" if answered else call_outcome),
                "answered_by": "human" if answered and not in_call else "",
                "disposition": None,
                "disposition_reason": "",
            }
        )
        if not answered or in_call:
            continue
        of_call = {"campaign_id": campaign_id, "external_id": contact.external_id, "attempt": attempt}
        for seq, (speaker, line) in enumerate(TRANSCRIPT):
            said = begun + timedelta(seconds=5 * seq)
            seeded.transcripts.append(
                {**of_call, "seq": seq, "speaker": speaker, "text": line, "started_at": said, "ended_at": said}
            )
        seeded.notes.append({**of_call, "idempotency_key": f"{key}/note", "note": "Asked for a follow-up email."})
        if persona == "qualifies":
            seeded.information.append(
                {**of_call, "idempotency_key": f"{key}/info", "category": "qualification", "information": "Mornings"}
            )
    ended = started + timedelta(minutes=10 * (dials - 1), seconds=CALL_SECONDS)
    seeded.contacts.append(
        {
            "id": contact.id,
            "status": CONTACT_ACTIVE if active else CONTACT_FINISHED,
            "dispatched_at": started,
            "attempts": dials - 1 if active else dials,
            "final_outcome": None if active else final_outcome,
            "finished_at": None if active else ended,
            "updated_at": started if active else ended,
        }
    )


async def seed_calls(sessions: async_sessionmaker[AsyncSession], campaign_id: str) -> None:
    """Turn the draft into a running campaign most of whose contacts were dialled (see the module's docstring):
    the rows a dialler would have written, in bulk, straight into the store."""
    started = time.perf_counter()
    async with sessions() as session:
        campaign = await session.get_one(CampaignRow, campaign_id)
        campaign.status = CampaignStatus.RUNNING.value
        org_id = campaign.org_id
        rows = (
            await session.execute(
                select(ContactRow.id, ContactRow.external_id, ContactRow.phone)
                .where(ContactRow.campaign_id == campaign_id)
                .order_by(ContactRow.seq)
            )
        ).all()
        seeded = Seeded()
        now = datetime.now(UTC)
        for index, contact in enumerate(rows):
            _dials(campaign_id, org_id, contact, index, now, seeded)
        for model, values in (
            (AttemptRow, seeded.attempts),
            (TranscriptSegmentRow, seeded.transcripts),
            (NoteRow, seeded.notes),
            (SharedInformationRow, seeded.information),
        ):
            for first in range(0, len(values), SEED_CHUNK):
                await session.execute(insert(model), values[first : first + SEED_CHUNK])
        for first in range(0, len(seeded.contacts), SEED_CHUNK):
            await session.execute(update(ContactRow), seeded.contacts[first : first + SEED_CHUNK])
        await session.commit()
        engine = session.bind
    if engine.dialect.name == "postgresql":
        # Rows written seconds ago: without statistics Postgres plans for empty tables (nested loops where a
        # hash join belongs), and without a visibility map an index-only scan still visits the table.
        # Autovacuum would vacuum and analyze them within a minute or so; VACUUM takes no transaction.
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
    print(
        f"seeded_calls {len(seeded.attempts)} transcript_segments {len(seeded.transcripts)} "
        f"seed_ms {(time.perf_counter() - started) * 1000:.0f}"
    )


async def answered_call_ids(http: httpx.AsyncClient, campaign_id: str) -> list[str]:
    """Every answered call of the campaign (they have transcripts), paging through the list by cursor."""
    ids: list[str] = []
    params: dict[str, Any] = {"campaign_id": campaign_id, "limit": 500}
    while True:
        page = (await http.get("/v1/calls", params=params)).json()
        ids += [call["id"] for call in page["items"] if call["answered"]]
        if page["next_cursor"] is None:
            return ids
        params["cursor"] = page["next_cursor"]


async def first_event(http: httpx.AsyncClient, path: str) -> httpx.Response:
    """Open a server-sent event stream, read up to its first event, close it; the response, for its status."""
    async with http.stream("GET", path) as stream:
        if stream.status_code == 200:
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    break
            else:
                raise RuntimeError(f"{path}: the stream ended before its first event")
        return stream


async def measure_api(contacts: int) -> str:
    count = requests_per_endpoint(contacts)
    async with database() as url, dev_server() as env:
        print(f"database {url.split(':', 1)[0]}")
        sessions = get_session_factory(url)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            task_queue=f"bench-api-{uuid.uuid4().hex[:8]}",
            operator_token=OPERATOR_TOKEN,
            rate_limit_api_per_key=UNLIMITED,
        )
        async with sessions() as session:
            _, key = await create_org(session, "Bench")
            await session.commit()
        app = create_app(settings, env.client, sessions)
        try:
            async with (
                serving(app, "127.0.0.1", 0, purpose="the API under benchmark") as server,
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{bound_port(server)}",
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=60.0,
                    limits=httpx.Limits(max_connections=CONCURRENCY),
                ) as http,
            ):
                campaign_id = await create_draft(http, contacts)
                await seed_calls(sessions, campaign_id)
                return await measure_endpoints(http, campaign_id, count)
        finally:
            await dispose_cached_engines()


async def measure_endpoints(http: httpx.AsyncClient, campaign_id: str, count: int) -> str:
    """Each endpoint timed in turn; returns their ``p50/p99`` for the summary line."""
    calls = await answered_call_ids(http, campaign_id)
    information = (await http.get("/v1/information", params={"limit": 50})).json()["items"]
    contacts = {"campaign_id": campaign_id, "limit": 50}
    total = (await http.get("/v1/contacts", params=contacts)).json()["total"]
    # The cursor after the list's middle contact: contacts_cursor's page starts halfway down.
    middle = await http.get("/v1/contacts", params={**contacts, "limit": 1, "offset": total // 2})
    cursor = middle.json()["next_cursor"]
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
        "campaign_stats": lambda _: http.get(f"/v1/campaigns/{campaign_id}/stats"),
        "contacts_first": lambda _: http.get("/v1/contacts", params=contacts),
        "contacts_cursor": lambda _: http.get("/v1/contacts", params={**contacts, "cursor": cursor}),
        "calls_list": lambda _: http.get("/v1/calls", params={"campaign_id": campaign_id, "limit": 50}),
        "call_detail": lambda index: http.get(f"/v1/calls/{calls[index % len(calls)]}"),
        "campaign_page": lambda _: http.get(f"/campaigns/{campaign_id}"),
        "sse_tick": lambda _: first_event(http, f"/v1/campaigns/{campaign_id}/events"),
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
