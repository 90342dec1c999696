"""Erasing one person (``DELETE /v1/people/{phone}``, ``ringflow people erase``): their rows go, other
people's stay, an opt-out survives as a keyed hash, and their payloads in Temporal histories no longer
decrypt (their data keys are destroyed) while everyone else's still do."""

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from api_helpers import FAST, eventually, person, phone
from codec_test_keys import TEST_ONLY_CODEC_KEYS
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from test_codec_histories import payloads_in, raw_history
from typer.testing import CliRunner
from workflow_helpers import ANY_HOUR

from api.main import create_app
from api.services.people import PER_CONTACT_TABLES
from cli.app import app as cli_app
from infra.codec import (
    DATA_KEY_METADATA,
    EncryptionCodec,
    PayloadErasedError,
    build_data_converter,
    ensure_dev_dnc_hash_key,
    parse_codec_keys,
)
from schemas.settings import Settings, get_settings
from schemas.workflow_io import campaign_workflow_id, contact_workflow_id
from simulator.agent_call import make_agent_call
from simulator.carrier import SimCarrier
from store import compliance, dnc
from store.db import make_engine, make_session_factory
from store.migrate import upgrade_database
from store.models import (
    CampaignRow,
    ContactRow,
    DoNotCallRow,
    InboundCallRow,
    NoteRow,
    PayloadDataKeyRow,
    TranscriptSegmentRow,
)
from store.orgs import create_org
from worker.http_server import bound_port, serving
from worker.main import build_worker

HASH_KEY = base64.b64encode(b"erasure-test-only-not-a-secret!!").decode()
AGENT = {
    "name": "sam",
    "instructions": "You are Sam from Ringflow. Be brief and polite.",
    "greeting": "Hi, this is Sam from Ringflow. Do you have a minute?",
}
ERASED = phone(1)
OTHER = phone(2)


@pytest.fixture
def hash_key(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RINGFLOW_DNC_HASH_KEY", HASH_KEY)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def shredding_codec(sessions: async_sessionmaker[AsyncSession]) -> EncryptionCodec:
    """The suite's key, with per-workflow data keys kept in the test's store (as ``codec_for`` does)."""
    return EncryptionCodec(parse_codec_keys(TEST_ONLY_CODEC_KEYS), data_key_sessions=lambda: sessions)


class Stack:
    def __init__(self, client: Client, sessions: async_sessionmaker[AsyncSession], a: httpx.AsyncClient, b_id: str):
        self.client, self.sessions, self.http, self.org_b = client, sessions, a, b_id


@pytest_asyncio.fixture
async def stack(dev_env, session_factory, db_url, hash_key) -> AsyncIterator[Stack]:
    """API, worker and client on the dev server whose codec seals each person's workflows with a data key."""
    client = Client(
        **{**dev_env.client.config(), "data_converter": build_data_converter(shredding_codec(session_factory))}
    )
    settings = Settings(_env_file=None, database_url=db_url, task_queue=f"tq-erase-{uuid.uuid4().hex[:8]}")  # type: ignore[call-arg]
    async with session_factory() as session:
        org_a, key_a = await create_org(session, "Org A")
        org_b, _ = await create_org(session, "Org B")
        await compliance.set_policy(session, org_a.id, ANY_HOUR, changed_by="tests")  # it calls at any hour of day
        await session.commit()
    carrier = SimCarrier(time_scale=0.0, agent_call=make_agent_call(client))
    async with build_worker(client, settings, sessions=session_factory, carrier=carrier):
        server = serving(create_app(settings, client, session_factory), "127.0.0.1", 0, purpose="the API under test")
        base_url = f"http://127.0.0.1:{bound_port(await server.__aenter__())}"
        async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {key_a}"}, timeout=30) as a:
            try:
                yield Stack(client, session_factory, a, org_b.id)
            finally:
                await server.__aexit__(None, None, None)


async def run_campaign(http: httpx.AsyncClient, people: list[dict], *, callbacks: int = 0) -> str:
    body = {"name": "erasure", "agent_name": "sam", "settings": FAST, "contacts": people}
    created = await http.post("/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaign"]["id"]
    await eventually(
        lambda: http.get(f"/v1/campaigns/{campaign_id}"),
        lambda body: (
            body["progress"] is not None
            and body["progress"]["finished"] == len(people) - callbacks
            and body["progress"]["waiting_callback"] == callbacks
        ),
    )
    return campaign_id


async def rows_of(sessions, table, campaign_id: str, external_id: str) -> int:
    async with sessions() as session:
        return await session.scalar(
            select(func.count()).where(table.campaign_id == campaign_id, table.external_id == external_id)
        )


async def test_erasing_a_person_deletes_their_rows_keeps_the_opt_out_hashed_and_shreds_their_histories(stack):
    http = stack.http
    assert (await http.post("/v1/agents", json=AGENT)).status_code == 201
    first = await run_campaign(http, [person(1, "qualifies"), person(2, "qualifies")])
    # The same person again in a second campaign, waiting for a callback: a workflow still running.
    second = await run_campaign(http, [person(3, "callback_tomorrow", phone=ERASED)], callbacks=1)
    assert (await http.post("/v1/dnc", json={"phone": ERASED, "reason": "asked on the call"})).status_code == 201
    async with stack.sessions() as session:
        session.add(CampaignRow(id="c-org-b", org_id=stack.org_b, name="b", status="completed", settings={}))
        await session.flush()
        session.add(ContactRow(campaign_id="c-org-b", external_id="b1", phone=ERASED, timezone="UTC", seq=1))
        session.add(
            InboundCallRow(
                call_sid="CA1",
                org_id=await org_of(session, first),
                to_number=OTHER,
                from_number=ERASED,
                agent_name="sam",
            )
        )
        session.add(NoteRow(campaign_id="inbound", external_id="CA1", attempt=1, idempotency_key="n-CA1", note="x"))
        await session.commit()
    assert await rows_of(stack.sessions, TranscriptSegmentRow, first, "p1") > 0

    assert (await http.delete("/v1/people/555")).status_code == 422
    erased = await http.delete(f"/v1/people/{ERASED}")
    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert report["phone"] == ERASED and report["do_not_call_hashed"] is True
    assert report["erased"]["contacts"] == 2 and report["erased"]["inbound_calls"] == 1
    assert report["erased"]["notes"] >= 2 and report["erased"]["transcript_segments"] > 0
    assert report["erased"]["callbacks"] == 1 and report["erased"]["call_attempts"] == 2
    assert report["erased"]["dial_decisions"] == 2, "why each of their dials went is theirs too"
    assert report["workflows_terminated"] == 1 and report["data_keys_destroyed"] == 2

    for campaign_id, external_id in ((first, "p1"), (second, "p3"), ("inbound", "CA1")):
        for table in (ContactRow, *PER_CONTACT_TABLES):
            assert await rows_of(stack.sessions, table, campaign_id, external_id) == 0, (table, external_id)
    assert await rows_of(stack.sessions, TranscriptSegmentRow, first, "p2") > 0, "another person's calls stay"
    assert await rows_of(stack.sessions, ContactRow, "c-org-b", "b1") == 1, "another organization's data stays"

    async with stack.sessions() as session:
        org_a = await org_of(session, first)
        listed = list((await session.scalars(select(DoNotCallRow.phone).where(DoNotCallRow.org_id == org_a))).all())
        assert ERASED not in listed and len(listed) == 1 and listed[0].startswith(dnc.ERASED_PREFIX)
        assert await dnc.dnc_among(session, org_a, [ERASED, OTHER]) == {ERASED}
        assert await dnc.campaign_contact_on_dnc(session, first, ERASED)
        assert await dnc.get_dnc(session, org_a, ERASED) is not None
        assert await session.scalar(select(func.count()).select_from(PayloadDataKeyRow)) >= 1  # p2's

    # Raw histories: the erased person's payloads were all sealed with their data keys, which are gone.
    fresh = shredding_codec(stack.sessions)  # no cached keys
    for workflow_id in (contact_workflow_id(first, "p1"), contact_workflow_id(second, "p3")):
        sealed = list(payloads_in(await raw_history(stack.client, workflow_id)))
        personal = [p for p in sealed if DATA_KEY_METADATA in p.metadata]
        assert personal, workflow_id
        for payload in personal:
            with pytest.raises(PayloadErasedError):
                await fresh.decode([payload])
        # What the campaign's side wrote there (the child's summary, signals to the campaign) keeps the
        # deployment key and names nobody: ids only, as workflow ids do.
        readable = b"".join(p.SerializeToString() for p in await fresh.decode([p for p in sealed if p not in personal]))
        assert ERASED.removeprefix("+").encode() not in readable and b"Person " not in readable
    kept = list(payloads_in(await raw_history(stack.client, contact_workflow_id(first, "p2"))))
    assert any(DATA_KEY_METADATA in p.metadata for p in kept)
    assert OTHER.encode() in b"".join(p.SerializeToString() for p in await fresh.decode(kept))
    # The campaign's history holds its children's inputs, sealed with each child's data key (the erased
    # person's no longer decrypt), and claimed pages of references: nothing readable there names them.
    erased_here, readable = 0, []
    for payload in payloads_in(await raw_history(stack.client, campaign_workflow_id(first))):
        try:
            readable += await fresh.decode([payload])
        except PayloadErasedError:
            erased_here += 1
    assert erased_here > 0
    campaign_text = b"".join(p.SerializeToString() for p in readable)
    assert ERASED.removeprefix("+").encode() not in campaign_text and b"Person 1" not in campaign_text

    again = await http.delete(f"/v1/people/{ERASED}")
    assert again.status_code == 200 and set(again.json()["erased"].values()) == {0}


async def org_of(session: AsyncSession, campaign_id: str) -> str:
    return await session.scalar(select(CampaignRow.org_id).where(CampaignRow.id == campaign_id))


async def test_an_opted_out_person_is_not_erased_without_a_hash_key(session_factory, monkeypatch):
    from api.services.people import ErasureRefusedError, erase_person

    monkeypatch.delenv("RINGFLOW_DNC_HASH_KEY", raising=False)
    monkeypatch.setenv("RINGFLOW_DATA_DIR", "/nonexistent-ringflow-data")
    get_settings.cache_clear()
    try:
        async with session_factory() as session:
            org, _ = await create_org(session, "Refusing")
            session.add(CampaignRow(id="c-refuse", org_id=org.id, name="r", status="completed", settings={}))
            await session.flush()
            session.add(ContactRow(campaign_id="c-refuse", external_id="r1", phone=ERASED, timezone="UTC", seq=1))
            await dnc.add_to_dnc(session, org.id, ERASED, "stop")
            await session.commit()
        with pytest.raises(ErasureRefusedError, match="RINGFLOW_DNC_HASH_KEY"):
            await erase_person(None, session_factory, org_id=org.id, phone=ERASED)
        assert await rows_of(session_factory, ContactRow, "c-refuse", "r1") == 1
        async with session_factory() as session:
            assert await dnc.dnc_among(session, org.id, [ERASED]) == {ERASED}
    finally:
        get_settings.cache_clear()


async def _seed_cli_store(url: str) -> None:
    await upgrade_database(url)
    engine = make_engine(url)
    async with make_session_factory(engine)() as session:
        session.add(CampaignRow(id="c-cli", org_id="default", name="cli", status="completed", settings={}))
        await session.flush()
        for external_id, number in (("k1", ERASED), ("k2", OTHER)):
            session.add(ContactRow(campaign_id="c-cli", external_id=external_id, phone=number, timezone="UTC", seq=1))
            session.add(
                NoteRow(
                    campaign_id="c-cli",
                    external_id=external_id,
                    attempt=1,
                    idempotency_key=f"n-{external_id}",
                    note="noted",
                )
            )
        await session.commit()
    await engine.dispose()


async def _cli_rows(url: str) -> dict[str, int]:
    engine = make_engine(url)
    async with make_session_factory(engine)() as session:
        rows = await session.execute(select(ContactRow.external_id, func.count()).group_by(ContactRow.external_id))
        counts = dict(rows.all())
        counts["notes"] = await session.scalar(select(func.count()).select_from(NoteRow))
    await engine.dispose()
    return counts


def test_the_cli_erases_a_person_of_the_default_organization(dev_env, tmp_path: Path, monkeypatch, hash_key):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    asyncio.run(_seed_cli_store(url))
    monkeypatch.delenv("RINGFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("RINGFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RINGFLOW_CODEC_KEYS", TEST_ONLY_CODEC_KEYS)
    monkeypatch.setenv("RINGFLOW_TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    get_settings.cache_clear()
    runner = CliRunner()

    bad = runner.invoke(cli_app, ["people", "erase", "555", "--yes"])
    assert bad.exit_code != 0
    result = runner.invoke(cli_app, ["people", "erase", "+44 20 7946 0001", "--yes"])
    assert result.exit_code == 0, result.output
    assert "contacts: 1" in result.output and "notes: 1" in result.output
    assert asyncio.run(_cli_rows(url)) == {"k2": 1, "notes": 1}


def test_the_dev_stack_makes_its_do_not_call_hash_key_once_and_keeps_it(tmp_path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, dnc_hash_key=None)  # type: ignore[call-arg]
    ensure_dev_dnc_hash_key(settings)
    key = dnc.dnc_hash_key(settings)
    assert key is not None and len(key) >= dnc.DNC_HASH_KEY_MIN_BYTES
    assert (tmp_path / dnc.DNC_HASH_KEY_FILE).stat().st_mode & 0o777 == 0o600
    ensure_dev_dnc_hash_key(settings)
    assert dnc.dnc_hash_key(settings) == key, "a second start keeps the key: erased entries still match"
