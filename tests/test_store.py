"""The store against SQLite, or against Postgres when DATABASE_URL is set (as in CI)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from schemas.api import ContactCounts
from schemas.calls import CallbackRequest, DialResult
from schemas.campaign import CampaignSettings
from schemas.contact import Contact
from schemas.outcomes import CallOutcome, FinalOutcome
from schemas.workflow_io import CampaignStatus
from store import contacts as store_contacts
from store.contacts import add_contacts
from store.db import begin_read_only, make_engine, make_session_factory
from store.migrate import alembic_config, upgrade_database
from store.models import Base, CallbackRow, ContactRow
from store.queries import (
    AttemptNotFoundError,
    CampaignNotFoundError,
    attempt_result,
    attempts_for,
    begin_attempt,
    callbacks_for,
    cancel_undispatched,
    claim_next_contacts,
    count_contacts,
    create_campaign,
    finish_attempt,
    get_campaign,
    list_campaigns,
    outcome_counts,
    record_callback,
    record_outcome,
    set_campaign_status,
    unfinished_dispatched_external_ids,
)
from store.reports import ContactTally, contact_tallies

pytest_plugins = ["store_fixtures"]

Sessions = async_sessionmaker[AsyncSession]
CAMPAIGN = "c-20261121-ab12"


def contact(external_id: str, priority: int = 0, phone: str | None = None) -> Contact:
    number = phone or f"+1415555{int(external_id.rsplit('-', 1)[-1]) % 10000:04d}"
    return Contact(external_id=external_id, name=f"Name {external_id}", phone=number, priority=priority)


async def new_campaign(sessions: Sessions, contacts: list[Contact], campaign_id: str = CAMPAIGN) -> None:
    async with sessions() as session:
        await create_campaign(session, campaign_id, "Autumn renewals", CampaignSettings())
        await add_contacts(session, campaign_id, contacts)
        await session.commit()


def _schema_state(connection: Connection) -> tuple[str | None, list[object]]:
    context = MigrationContext.configure(connection)
    return context.get_current_revision(), compare_metadata(context, Base.metadata)


async def test_migrations_are_idempotent_and_match_the_models(db_url: str, store_engine: AsyncEngine) -> None:
    await upgrade_database(db_url)
    await asyncio.gather(upgrade_database(db_url), upgrade_database(db_url))
    async with store_engine.connect() as connection:
        revision, differences = await connection.run_sync(_schema_state)
    assert revision == ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    assert differences == []


async def test_campaign_create_is_idempotent_and_status_changes(session_factory: Sessions) -> None:
    settings = CampaignSettings(max_concurrent_calls=3)
    async with session_factory() as session:
        await create_campaign(session, CAMPAIGN, "First name", settings)
        await create_campaign(session, CAMPAIGN, "Second name", CampaignSettings(), CampaignStatus.PAUSED)
        await session.commit()
    async with session_factory() as session:
        row = await get_campaign(session, CAMPAIGN)
        assert row is not None
        assert (row.name, row.status) == ("First name", CampaignStatus.RUNNING)
        assert row.campaign_settings == settings
        assert row.created_at.tzinfo is UTC
        await set_campaign_status(session, CAMPAIGN, CampaignStatus.CANCELLING)
        await session.commit()
        assert [c.id for c in await list_campaigns(session)] == [CAMPAIGN]
        assert (await get_campaign(session, CAMPAIGN)).status == CampaignStatus.CANCELLING
        assert await get_campaign(session, "nope") is None
        with pytest.raises(CampaignNotFoundError):
            await set_campaign_status(session, "nope", CampaignStatus.PAUSED)


async def test_add_contacts_skips_duplicates_and_continues_seq(
    session_factory: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_contacts, "INSERT_CHUNK", 3)  # several round trips with a handful of rows
    first = [contact(f"p-{i}") for i in range(5)]
    async with session_factory() as session:
        await create_campaign(session, CAMPAIGN, "n", CampaignSettings())
        result = await add_contacts(session, CAMPAIGN, [*first, contact("p-2")])
        assert (result.added, result.duplicates) == (5, ["p-2"])
        again = await add_contacts(session, CAMPAIGN, [contact("p-4"), contact("p-5"), contact("p-5"), contact("p-6")])
        assert (again.added, again.duplicates) == (2, ["p-4", "p-5"])
        await session.commit()
        assert await count_contacts(session, CAMPAIGN) == 7
        rows = (await session.scalars(select(ContactRow).order_by(ContactRow.seq))).all()
        assert [(r.external_id, r.seq) for r in rows] == [(f"p-{i}", i + 1) for i in range(7)]
        assert rows[0].timezone == "America/Los_Angeles"
        assert rows[0].status == "pending"
        with pytest.raises(CampaignNotFoundError):
            await add_contacts(session, "nope", first)


async def test_claim_by_priority_then_list_order_never_twice(session_factory: Sessions) -> None:
    contacts = [contact("p-1"), contact("p-2", priority=5), contact("p-3"), contact("p-4", priority=5)]
    contacts += [contact("p-5", priority=-1), contact("p-6")]
    await new_campaign(session_factory, contacts)
    claimed: list[str] = []
    remaining: list[int] = []
    async with session_factory() as session:
        for _ in range(4):
            page = await claim_next_contacts(session, CAMPAIGN, 2, f"claim-{len(remaining)}")
            await session.commit()
            claimed += [c.external_id for c in page.contacts]
            remaining.append(page.remaining)
    assert claimed == ["p-2", "p-4", "p-1", "p-3", "p-6", "p-5"]
    assert remaining == [4, 2, 0, 0]
    async with session_factory() as session:
        assert await unfinished_dispatched_external_ids(session, CAMPAIGN) == ["p-1", "p-2", "p-3", "p-4", "p-5", "p-6"]
        row = (await session.scalars(select(ContactRow).where(ContactRow.external_id == "p-2"))).one()
        assert row.status == "active"
        assert row.dispatched_at is not None and row.dispatched_at.tzinfo is UTC


async def test_a_retried_claim_returns_the_page_its_key_already_claimed(session_factory: Sessions) -> None:
    """The claim committed, then its worker died: the retry, with the same key, gets that page back."""
    await new_campaign(session_factory, [contact(f"p-{i}") for i in range(5)])
    async with session_factory() as session:
        first = await claim_next_contacts(session, CAMPAIGN, 2, "campaign-x/run/0")
        await session.commit()
    async with session_factory() as session:
        again = await claim_next_contacts(session, CAMPAIGN, 2, "campaign-x/run/0")
        following = await claim_next_contacts(session, CAMPAIGN, 2, "campaign-x/run/1")
        await session.commit()
    assert [c.external_id for c in first.contacts] == [c.external_id for c in again.contacts] == ["p-0", "p-1"]
    assert [c.external_id for c in following.contacts] == ["p-2", "p-3"]
    assert again.remaining == 3 and following.remaining == 1


async def test_concurrent_claimers_share_the_list_without_overlap(session_factory: Sessions) -> None:
    await new_campaign(session_factory, [contact(f"p-{i}", priority=i % 3) for i in range(60)])

    async def claimer() -> list[str]:
        mine: list[str] = []
        while True:
            async with session_factory() as session:
                page = await claim_next_contacts(session, CAMPAIGN, 4, f"claim-{uuid.uuid4().hex}")
                await session.commit()
            if not page.contacts:
                return mine
            mine += [c.external_id for c in page.contacts]

    results = await asyncio.gather(*(claimer() for _ in range(4)))
    everything = [external_id for result in results for external_id in result]
    assert len(everything) == len(set(everything)) == 60


async def test_open_claims_skip_each_other_on_postgres(session_factory: Sessions, db_url: str) -> None:
    """Two claims in flight at once: the second must skip the rows the first holds, not wait or repeat."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite runs one write transaction at a time: claims cannot overlap")
    await new_campaign(session_factory, [contact(f"p-{i}") for i in range(10)])
    async with session_factory() as first, session_factory() as second:
        page_one = await claim_next_contacts(first, CAMPAIGN, 3, "first")
        page_two = await asyncio.wait_for(claim_next_contacts(second, CAMPAIGN, 3, "second"), timeout=5)
        await first.commit()
        await second.commit()
    assert [c.external_id for c in page_one.contacts] == ["p-0", "p-1", "p-2"]
    assert [c.external_id for c in page_two.contacts] == ["p-3", "p-4", "p-5"]


async def test_begin_attempt_is_idempotent_and_race_safe(session_factory: Sessions) -> None:
    await new_campaign(session_factory, [contact("p-1")])
    key = "contact-c-p-1#1"
    async with session_factory() as first, session_factory() as second:
        row, created = await begin_attempt(first, key, CAMPAIGN, "p-1", 1, "sim")
        # The second begin waits on the first one's uncommitted insert (Postgres: the unique index;
        # SQLite: the write lock) and must then find that row instead of creating another.
        racing = asyncio.create_task(begin_attempt(second, key, CAMPAIGN, "p-1", 1, "sim"))
        await asyncio.sleep(0.3)
        await first.commit()
        other, other_created = await asyncio.wait_for(racing, timeout=10)
        await second.commit()
    assert (created, other_created) == (True, False)
    assert other.id == row.id and other.state == "dialling"

    async def begin(key: str) -> bool:
        async with session_factory() as session:
            _, created = await begin_attempt(session, key, CAMPAIGN, "p-1", 2, "sim")
            await session.commit()
            return created

    assert sorted(await asyncio.gather(*(begin("contact-c-p-1#2") for _ in range(5)))) == [False] * 4 + [True]


async def test_finish_attempt_records_result_once(session_factory: Sessions) -> None:
    await new_campaign(session_factory, [contact("p-1")])
    dialled = datetime(2026, 11, 21, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    callback = CallbackRequest(at=dialled + timedelta(days=1), reason="after lunch")
    result = DialResult(
        outcome=CallOutcome.CALLBACK_REQUESTED,
        answered=True,
        dialled_at=dialled,
        duration_seconds=42.5,
        carrier="sim",
        carrier_call_id="call-1",
        detail="asked for tomorrow",
        callback=callback,
    )
    async with session_factory() as session:
        row, _ = await begin_attempt(session, "k#1", CAMPAIGN, "p-1", 1, "sim")
        assert attempt_result(row) is None
        await finish_attempt(session, "k#1", result)
        await finish_attempt(session, "k#1", result.model_copy(update={"outcome": CallOutcome.BUSY}))
        await session.commit()
        with pytest.raises(AttemptNotFoundError):
            await finish_attempt(session, "never-begun", result)

    async with session_factory() as session:
        (attempt,) = await attempts_for(session, CAMPAIGN, "p-1")
        assert attempt.state == "finished"
        assert attempt.ended_at is not None and attempt.ended_at.tzinfo is UTC
        assert attempt_result(attempt) == result
        assert attempt_result(attempt).dialled_at == dialled
        again, created = await begin_attempt(session, "k#1", CAMPAIGN, "p-1", 1, "sim")
        assert not created and attempt_result(again) == result
        row = (await session.scalars(select(ContactRow).where(ContactRow.external_id == "p-1"))).one()
        assert row.attempts == 1


async def test_new_callback_replaces_the_scheduled_one(session_factory: Sessions) -> None:
    await new_campaign(session_factory, [contact("p-1")])
    asked = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    async with session_factory() as session:
        await record_callback(session, CAMPAIGN, "p-1", asked, asked, "tomorrow morning")
        await record_callback(session, CAMPAIGN, "p-1", asked, asked, "tomorrow morning")
        later = asked + timedelta(hours=3)
        await record_callback(session, CAMPAIGN, "p-1", later, later.astimezone(timezone(timedelta(hours=-5))), "noon")
        await record_callback(session, CAMPAIGN, "p-1", later, later, "noon")
        await session.commit()
        rows = await callbacks_for(session, CAMPAIGN, "p-1")
        assert [(r.scheduled_for, r.status) for r in rows] == [(asked, "replaced"), (later, "scheduled")]
        assert rows[1].scheduled_for.tzinfo is UTC and rows[1].reason == "noon"

        await record_outcome(session, CAMPAIGN, "p-1", FinalOutcome.COMPLETED, "talked")
        await session.commit()
        assert [r.status for r in await callbacks_for(session, CAMPAIGN, "p-1")] == ["replaced", "done"]
        assert await callbacks_for(session, CAMPAIGN, "p-2") == []


async def test_record_outcome_is_an_idempotent_upsert(session_factory: Sessions) -> None:
    await new_campaign(session_factory, [contact("p-1"), contact("p-2")])
    async with session_factory() as session:
        await record_outcome(session, CAMPAIGN, "p-1", FinalOutcome.QUALIFIED, "wants a demo")
        await session.commit()
        first = (await session.scalars(select(ContactRow).where(ContactRow.external_id == "p-1"))).one().finished_at
        await record_outcome(session, CAMPAIGN, "p-1", FinalOutcome.QUALIFIED, "wants a demo")
        await record_callback(session, CAMPAIGN, "p-2", datetime.now(UTC), datetime.now(UTC), "")
        await record_outcome(session, CAMPAIGN, "p-2", FinalOutcome.CANCELLED, "campaign cancelled")
        await record_outcome(session, CAMPAIGN, "p-2", FinalOutcome.CANCELLED, "campaign cancelled")
        await session.commit()

        assert await outcome_counts(session, CAMPAIGN) == {"qualified": 1, "cancelled": 1}
        contacts = (
            await session.scalars(
                select(ContactRow).order_by(ContactRow.external_id).execution_options(populate_existing=True)
            )
        ).all()
        assert [(c.status, c.final_outcome, c.final_reason) for c in contacts] == [
            ("finished", "qualified", "wants a demo"),
            ("cancelled", "cancelled", "campaign cancelled"),
        ]
        assert first is not None and contacts[0].finished_at == first
        assert (await session.scalars(select(CallbackRow.status))).all() == ["cancelled"]

        await record_outcome(session, CAMPAIGN, "p-1", FinalOutcome.NOT_INTERESTED, "changed their mind")
        await session.commit()
        assert await outcome_counts(session, CAMPAIGN) == {"not_interested": 1, "cancelled": 1}


async def test_cancel_undispatched_spares_dispatched_contacts(session_factory: Sessions) -> None:
    await new_campaign(session_factory, [contact(f"p-{i}") for i in range(5)])
    async with session_factory() as session:
        await claim_next_contacts(session, CAMPAIGN, 2, "first")
        await record_outcome(session, CAMPAIGN, "p-0", FinalOutcome.COMPLETED, "done")
        assert await cancel_undispatched(session, CAMPAIGN) == 3
        assert await cancel_undispatched(session, CAMPAIGN) == 0
        await session.commit()
        page = await claim_next_contacts(session, CAMPAIGN, 10, "second")
        assert (page.contacts, page.remaining) == ([], 0)
        assert await unfinished_dispatched_external_ids(session, CAMPAIGN) == ["p-1"]
        assert await outcome_counts(session, CAMPAIGN) == {"completed": 1, "cancelled": 3}
        statuses = (await session.execute(select(ContactRow.external_id, ContactRow.status))).all()
        assert {external_id: status for external_id, status in statuses} == {
            "p-0": "finished",
            "p-1": "active",
            "p-2": "cancelled",
            "p-3": "cancelled",
            "p-4": "cancelled",
        }


async def test_a_read_only_transaction_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    """SQLite (always, even where the suite runs on Postgres, whose readers never wait): every other
    transaction takes the write lock at BEGIN (so it would wait the 10 s busy timeout here); a read-only
    one reads the last committed state at once while a writer holds it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'read-only.db'}"
    await upgrade_database(url)
    engine = make_engine(url)
    try:
        await _read_beside_an_open_write(make_session_factory(engine))
    finally:
        await engine.dispose()


async def _read_beside_an_open_write(session_factory: Sessions) -> None:
    async with session_factory() as writer:
        await create_campaign(writer, CAMPAIGN, "committed", CampaignSettings())
        await writer.commit()
        await set_campaign_status(writer, CAMPAIGN, CampaignStatus.PAUSED)  # holds the write lock, uncommitted
        async with session_factory() as reader:
            await begin_read_only(reader)
            row = await asyncio.wait_for(get_campaign(reader, CAMPAIGN), timeout=2)
            assert row.status == CampaignStatus.RUNNING
        await writer.rollback()


def _tally_of_rows(rows: list[ContactRow]) -> ContactTally:
    """What the views counted before the database did: every contact row loaded and counted one by one."""
    counts, outcomes = ContactCounts(total=len(rows)), {}
    for row in rows:
        setattr(counts, row.status, getattr(counts, row.status) + 1)  # pending, active, finished, cancelled
        if row.final_outcome is not None:
            outcomes[row.final_outcome] = outcomes.get(row.final_outcome, 0) + 1
    return ContactTally(counts, outcomes)


async def test_contact_tallies_count_each_campaign_as_its_rows_do(session_factory: Sessions) -> None:
    """A campaign in every state at once (pending, claimed, finished with several outcomes, cancelled before
    its dial) beside a smaller one: the one GROUP BY gives each the counts its rows give one by one."""
    other = "c-20261121-other"
    await new_campaign(session_factory, [contact(f"p-{i}") for i in range(12)])
    await new_campaign(session_factory, [contact(f"q-{i}") for i in range(3)], campaign_id=other)
    async with session_factory() as session:
        claimed = await claim_next_contacts(session, CAMPAIGN, 8, "claim-mixed")
        outcomes = [
            FinalOutcome.QUALIFIED,
            FinalOutcome.NOT_INTERESTED,
            FinalOutcome.QUALIFIED,
            FinalOutcome.UNREACHABLE,
        ]
        for reference, outcome in zip(claimed.contacts, outcomes, strict=False):
            assert await record_outcome(session, CAMPAIGN, reference.external_id, outcome, "")
        await claim_next_contacts(session, other, 1, "claim-other")
        await session.commit()
    async with session_factory() as session:
        await cancel_undispatched(session, other)
        await session.commit()
    async with session_factory() as session:
        tallies = await contact_tallies(session, [CAMPAIGN, other, "c-empty"])
        rows = list((await session.scalars(select(ContactRow))).all())
    assert tallies == {
        CAMPAIGN: _tally_of_rows([row for row in rows if row.campaign_id == CAMPAIGN]),
        other: _tally_of_rows([row for row in rows if row.campaign_id == other]),
        "c-empty": ContactTally(ContactCounts(), {}),
    }
    assert tallies[CAMPAIGN].counts == ContactCounts(total=12, pending=4, active=4, finished=4)
    assert tallies[CAMPAIGN].outcomes == {"qualified": 2, "not_interested": 1, "unreachable": 1}
    assert tallies[other].counts == ContactCounts(total=3, active=1, cancelled=2)
    assert tallies[other].outcomes == {"cancelled": 2}
