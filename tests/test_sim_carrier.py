"""SimCarrier: persona scripts, determinism, the dial ledger, and the guards the dial activity relies on."""

import asyncio
import csv
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.calls import DialRequest, DialResult
from schemas.contact import PERSONAS, Contact
from schemas.outcomes import NETWORK_OUTCOMES, CallOutcome
from schemas.settings import Settings
from simulator.carrier import (
    PERSONA_WEIGHTS,
    SCRIPTS,
    DuplicateDialError,
    SimCarrier,
    choose_persona,
    persona_of,
    read_ledger,
)
from telephony import CALL_LOST_DETAIL, Carrier
from worker.carriers import make_carrier

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
DEMO_CSV = Path(__file__).resolve().parent.parent / "cli" / "samples" / "demo_contacts.csv"

HUMAN = (CallOutcome.COMPLETED, True, "human", "completed", 200)
EXPECTED = {
    "answers": HUMAN,
    "qualifies": HUMAN,
    "busy": (CallOutcome.BUSY, False, "", "busy", 486),
    "never_answers": (CallOutcome.NO_ANSWER, False, "", "no-answer", 480),
    "voicemail": (CallOutcome.VOICEMAIL, True, "machine_start", "completed", 200),
    "callback": HUMAN,
    "callback_tomorrow": HUMAN,
    "not_interested": HUMAN,
    "do_not_call": HUMAN,
    "invalid_number": (CallOutcome.INVALID_NUMBER, False, "", "failed", 404),
}
"""Network facts only: what a persona says (and so what the call comes to) is for the agent to hear."""


def request(
    persona: str | None = "answers",
    *,
    key: str = "contact-c1-x1#1",
    phone: str = "+14155552671",
    timezone: str | None = "America/Los_Angeles",
    ring_timeout: timedelta = timedelta(seconds=30),
) -> DialRequest:
    contact = Contact(external_id="x1", phone=phone, timezone=timezone, persona=persona)
    return DialRequest(
        idempotency_key=key,
        campaign_id="c1",
        contact=contact,
        attempt=1,
        calls_per_second=5,
        ring_timeout=ring_timeout,
        workflow_id="contact-c1-x1",
    )


def instant(clock_value: datetime = NOW, **kwargs: Any) -> SimCarrier:
    return SimCarrier(time_scale=0, clock=lambda: clock_value, **kwargs)


def run_without_suspending(coro: Coroutine[Any, Any, DialResult]) -> DialResult:
    """Drive ``coro`` one step; it must finish in that step, i.e. it never slept or awaited anything."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise AssertionError("the call suspended: time_scale=0 must not sleep")


def test_every_persona_has_a_script_and_a_weight() -> None:
    assert set(SCRIPTS) == set(PERSONAS) == {persona for persona, _ in PERSONA_WEIGHTS} == set(EXPECTED)


@pytest.mark.parametrize("persona", PERSONAS)
async def test_the_sim_carrier_reports_only_network_facts(persona: str) -> None:
    carrier = instant()
    result = await carrier.dial(request(persona))

    assert (
        result.outcome,
        result.answered,
        result.answered_by,
        result.network_status,
        result.status_code,
    ) == EXPECTED[persona]
    assert result.outcome in NETWORK_OUTCOMES
    assert result.carrier == "sim" and result.carrier_call_id.startswith("sim-")
    assert result.dialled_at == NOW
    assert result.duration_seconds == SCRIPTS[persona].talk
    assert carrier.dials[0].outcome is result.outcome


def test_a_persona_is_an_attribute_of_the_contact_not_a_field() -> None:
    contact = Contact(external_id="x1", phone="+14155552671", persona="Busy")
    assert contact.attributes == {"persona": "busy"}
    assert "persona" not in Contact.model_fields
    assert persona_of(contact) == "busy"
    with pytest.raises(ValueError, match="unknown persona 'chatty'"):
        Contact(external_id="x1", phone="+14155552671", persona="chatty")


async def test_persona_from_phone_is_deterministic() -> None:
    req = request(None, phone="+442079460018", timezone=None)
    first, second = await instant().dial(req), await instant().dial(req)
    assert first == second
    assert first.detail.startswith(f"persona {choose_persona('+442079460018')}")

    # With the real clock only the wall-clock fields may differ.
    live = await SimCarrier(time_scale=0).dial(req)
    volatile = {"dialled_at"}
    assert live.model_dump(exclude=volatile) == first.model_dump(exclude=volatile)


def test_persona_choice_is_stable_across_processes_and_follows_the_weights() -> None:
    phones = [f"+1415555{i:04d}" for i in range(2000)]
    here = [choose_persona(p) for p in phones[:50]]
    script = "import sys; from simulator.carrier import choose_persona; print(*map(choose_persona, sys.argv[1:]))"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(DEMO_CSV.parents[2])}
    out = subprocess.run(
        [sys.executable, "-c", script, *phones[:50]], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == here

    counts = Counter(choose_persona(p) for p in phones)
    assert set(counts) == set(PERSONAS)
    assert counts.most_common(1)[0][0] == "answers"


async def test_time_scale_zero_never_sleeps() -> None:
    carrier = instant()
    for n, persona in enumerate(PERSONAS):
        result = run_without_suspending(carrier.dial(request(persona, key=f"k{n}")))
        assert result.outcome is EXPECTED[persona][0]


async def test_scaled_call_takes_its_scripted_time() -> None:
    scale = 0.01
    started = time.monotonic()
    result = await SimCarrier(time_scale=scale).dial(request("answers"))
    assert result.outcome is CallOutcome.COMPLETED
    assert time.monotonic() - started >= (SCRIPTS["answers"].ring + SCRIPTS["answers"].talk) * scale


async def test_ring_timeout_cuts_rings_short() -> None:
    short = timedelta(seconds=2)
    late_pickup = await instant().dial(request("answers", ring_timeout=short))
    assert (late_pickup.outcome, late_pickup.answered) == (CallOutcome.NO_ANSWER, False)

    carrier = SimCarrier(time_scale=0.01)
    started = time.monotonic()
    await carrier.dial(request("never_answers", ring_timeout=timedelta(seconds=5)))
    assert time.monotonic() - started >= 5 * 0.01


async def test_ledger_records_every_dial_start_across_carriers(tmp_path: Path) -> None:
    ledger = tmp_path / "audit" / "dials.jsonl"
    assert read_ledger(ledger) == []
    worker_a, worker_b = instant(ledger_path=ledger), instant(ledger_path=ledger)

    await worker_a.dial(request("busy", key="k1"))
    await worker_b.dial(request("answers", key="k2"))
    await worker_a.dial(request(None, key="k3"))

    lines = read_ledger(ledger)
    assert [line["idempotency_key"] for line in lines] == ["k1", "k2", "k3"]
    assert lines[0]["pid"] == os.getpid()
    assert lines[1]["phone"] == "+14155552671" and lines[1]["campaign_id"] == "c1"
    assert lines[1]["started_at"] == NOW.isoformat().replace("+00:00", "Z")
    assert lines[2]["outcome"] is None, "written when the call starts, before it has an outcome"


async def test_duplicate_key_raises_and_is_not_dialled(tmp_path: Path) -> None:
    ledger = tmp_path / "dials.jsonl"
    carrier = instant(ledger_path=ledger)
    await carrier.dial(request("answers"))

    with pytest.raises(DuplicateDialError):
        await carrier.dial(request("answers"))

    assert len(carrier.dials) == 1 and len(read_ledger(ledger)) == 1
    assert carrier.in_flight == 0


async def test_recover_without_a_dial_reports_the_call_lost(tmp_path: Path) -> None:
    ledger = tmp_path / "dials.jsonl"
    carrier = instant(ledger_path=ledger)

    result = await carrier.recover(request("answers"))

    assert (result.outcome, result.detail) == (CallOutcome.FAILED, CALL_LOST_DETAIL)
    assert carrier.dials == [] and read_ledger(ledger) == []


async def test_recover_returns_a_finished_or_running_call() -> None:
    carrier = instant()
    done = await carrier.dial(request("qualifies", key="done"))
    assert await carrier.recover(request("qualifies", key="done")) == done

    slow = SimCarrier(time_scale=1.0)
    call = asyncio.create_task(slow.dial(request("busy", key="running")))
    await asyncio.sleep(0)
    impatient = asyncio.create_task(slow.recover(request("busy", key="running")))
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert not call.done(), "a cancelled watcher must not hang up the call it watches"
    recovered = await slow.recover(request("busy", key="running"))

    assert recovered == await call
    assert recovered.outcome is CallOutcome.BUSY
    assert len(slow.dials) == 1


async def test_cancel_mid_call_hangs_up_and_frees_the_line() -> None:
    carrier = SimCarrier(time_scale=1.0)
    call = asyncio.create_task(carrier.dial(request("never_answers")))
    await asyncio.sleep(0)
    assert carrier.in_flight == 1

    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    assert carrier.in_flight == 0
    record = carrier.dials[0]
    assert record.outcome is CallOutcome.FAILED and record.ended_monotonic is not None
    recovered = await carrier.recover(request("never_answers"))
    assert (recovered.outcome, recovered.detail) == (CallOutcome.FAILED, "call hung up: the dial was cancelled")


async def test_max_in_flight_under_concurrency() -> None:
    carrier = SimCarrier(time_scale=0.01)

    results = await asyncio.gather(*(carrier.dial(request("busy", key=f"k{n}")) for n in range(7)))

    assert {r.outcome for r in results} == {CallOutcome.BUSY}
    assert (carrier.max_in_flight, carrier.in_flight) == (7, 0)
    assert all(d.ended_monotonic is not None for d in carrier.dials)


def test_make_carrier_from_settings(tmp_path: Path) -> None:
    settings = Settings(carrier="sim", sim_time_scale=0, sim_ledger_path=tmp_path / "l.jsonl")
    carrier = make_carrier(settings)

    assert isinstance(carrier, SimCarrier) and isinstance(carrier, Carrier)
    assert carrier.name == "sim"
    assert carrier.time_scale == 0
    assert carrier.ledger_path == tmp_path / "l.jsonl"

    with pytest.raises(ValueError, match="unknown carrier 'carrier-pigeon': use sim, livekit_sip or twilio"):
        make_carrier(Settings(carrier="carrier-pigeon"))
    with pytest.raises(ValueError, match="carrier 'twilio' needs RINGFLOW_TWILIO_ACCOUNT_SID"):
        make_carrier(Settings(carrier="twilio", twilio_account_sid=None))


def test_demo_contacts_are_valid_and_mixed() -> None:
    with DEMO_CSV.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    contacts = [
        Contact(**{k: v for k, v in row.items() if k != "company"}, attributes={"company": row["company"]})
        for row in rows
    ]

    assert 35 <= len(contacts) <= 45
    assert len({c.external_id for c in contacts}) == len({c.phone for c in contacts}) == len(contacts)
    assert any("persona" not in c.attributes for c in contacts), "some rows exercise the phone-hash persona"
    assert {c.priority for c in contacts} == {0, 1, 2, 3}
    assert len({c.zone for c in contacts}) >= 10
    assert set(Counter(persona_of(c) for c in contacts)) == set(PERSONAS)
