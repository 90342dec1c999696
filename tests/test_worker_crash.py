"""Kill the worker process in the middle of a campaign on the dev server: nothing is lost or dialled twice."""

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

from codec_test_keys import TEST_ONLY_CODEC_KEYS
from sqlalchemy import select
from workflow_helpers import contact, eventually, new_campaign_id, seed, settings, start_campaign

from schemas.outcomes import CallOutcome, FinalOutcome
from simulator.carrier import read_ledger
from store import queries
from store.models import AttemptRow
from telephony.base import CALL_LOST_DETAIL

PERSONAS = ["answers", "busy", "qualifies", "voicemail", "not_interested", "callback"]


def _start_worker(dev_env, db_url: str, task_queue: str, ledger: Path, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "RINGFLOW_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "RINGFLOW_TASK_QUEUE": task_queue,
        "DATABASE_URL": db_url,
        "RINGFLOW_SIM_TIME_SCALE": "0.05",
        "RINGFLOW_SIM_LEDGER_PATH": str(ledger),
        "RINGFLOW_CODEC_KEYS": TEST_ONLY_CODEC_KEYS,
    }
    return subprocess.Popen([sys.executable, "-m", "worker"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


async def test_killing_the_worker_mid_campaign_loses_no_contact_and_dials_no_attempt_twice(
    dev_env, db_url, session_factory, tmp_path
):
    campaign_id = new_campaign_id()
    task_queue = f"crash-{campaign_id}"
    people = [contact(i, PERSONAS[i % len(PERSONAS)]) for i in range(100)]
    campaign = settings(
        max_concurrent_calls=10,
        calls_per_second=25,
        max_attempts=2,
        initial_backoff=timedelta(seconds=1),
        max_backoff=timedelta(seconds=2),
    )
    await seed(session_factory, campaign_id, people, campaign)
    ledger, log = tmp_path / "dials.jsonl", tmp_path / "worker.log"

    first = _start_worker(dev_env, db_url, task_queue, ledger, log)
    try:
        handle = await start_campaign(dev_env.client, task_queue, campaign_id, campaign)
        await eventually(lambda: len(read_ledger(ledger)) >= 40, within=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        dials_before_crash = len(read_ledger(ledger))
        second = _start_worker(dev_env, db_url, task_queue, ledger, log)
        try:
            result = await asyncio.wait_for(handle.result(), timeout=240)
        finally:
            second.terminate()
            second.wait(timeout=15)
    finally:
        if first.poll() is None:
            first.kill()

    dials = read_ledger(ledger)
    keys = Counter(d["idempotency_key"] for d in dials)
    assert [k for k, n in keys.items() if n > 1] == [], "an attempt was dialled twice"
    assert len({d["pid"] for d in dials}) == 2, "the second worker should have taken over"
    assert dials_before_crash < len(dials) < 100 * 3
    progress = result.progress
    assert progress.finished == progress.started == 100
    async with session_factory() as session:
        stored = await queries.outcome_counts(session, campaign_id)
        dialling = await queries.dialling_count(session, campaign_id)
        attempts = (
            await session.execute(
                select(AttemptRow.idempotency_key, AttemptRow.network_outcome, AttemptRow.detail).where(
                    AttemptRow.campaign_id == campaign_id
                )
            )
        ).all()
    assert sum(stored.values()) == progress.finished == 100, log.read_text()[-3000:]
    assert stored.get(FinalOutcome.CANCELLED.value, 0) == 0
    assert dialling == 0, "an attempt was left dialling"
    # Every call the carrier placed is a finished attempt in the store. An attempt begun in the store whose
    # call never reached the carrier (the worker died in between) is recorded as a lost call, never dialled.
    stored_keys = {key for key, _, _ in attempts}
    assert set(keys) <= stored_keys, "a call the carrier placed has no attempt in the store"
    never_dialled = [(outcome, detail) for key, outcome, detail in attempts if key not in keys]
    assert all(entry == (CallOutcome.FAILED.value, CALL_LOST_DETAIL) for entry in never_dialled), never_dialled
