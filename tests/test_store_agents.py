"""The voice agent's records in the store, against SQLite, or Postgres when DATABASE_URL is set."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from schemas.agent import AgentConfig, AgentTool, InformationCategory, SharedInformation, TranscriptSegment
from store.migrate import alembic_config, upgrade_database
from store.queries import (
    append_transcript,
    delete_agent,
    get_agent,
    information_for,
    list_agents,
    notes_for,
    record_information,
    record_note,
    save_agent,
    transcript_for,
)

Sessions = async_sessionmaker[AsyncSession]
CAMPAIGN = "c-20261121-ab12"
CONTACT = "ext-1"
T0 = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


AGENT_TABLES = {"agents", "notes", "shared_information", "transcript_segments"}


def _revision_and_tables(connection: Connection) -> tuple[str | None, set[str]]:
    return MigrationContext.configure(connection).get_current_revision(), set(inspect(connection).get_table_names())


async def test_migration_0002_downgrades_and_upgrades(db_url: str, store_engine: AsyncEngine) -> None:
    config = alembic_config(db_url)
    assert ScriptDirectory.from_config(config).get_revision("0002").down_revision == "0001"
    head = ScriptDirectory.from_config(config).get_current_head()

    await asyncio.to_thread(command.downgrade, config, "0001")
    async with store_engine.connect() as connection:
        revision, tables = await connection.run_sync(_revision_and_tables)
    assert revision == "0001"
    assert not AGENT_TABLES & tables

    await upgrade_database(db_url)
    async with store_engine.connect() as connection:
        revision, tables = await connection.run_sync(_revision_and_tables)
    assert revision == head
    assert tables >= AGENT_TABLES


async def test_agent_save_replace_get_list_delete(session_factory: Sessions) -> None:
    collector = AgentConfig(
        name="collector",
        instructions="Collect politely.",
        greeting="Hello {name}",
        context={"company": "Acme"},
        tools={AgentTool.TRANSFER_TO_HUMAN: False},
    )
    async with session_factory() as session:
        assert await get_agent(session, "collector") is None
        await save_agent(session, collector)
        await save_agent(session, AgentConfig(name="aaa-sales", instructions="Sell.", active=False))
        await session.commit()

    async with session_factory() as session:
        stored = await get_agent(session, "collector")
        assert stored == collector
        assert stored is not None and stored.tools[AgentTool.TRANSFER_TO_HUMAN] is False
        assert stored.tools[AgentTool.TAKE_NOTE] is True
        assert [agent.name for agent in await list_agents(session)] == ["aaa-sales", "collector"]

        replaced = collector.model_copy(
            update={
                "instructions": "Collect firmly.",
                "tools": {**collector.tools, AgentTool.TAKE_NOTE: False, AgentTool.TRANSFER_TO_HUMAN: True},
                "transfer_number": "+14155550100",
                "active": False,
            }
        )
        await save_agent(session, replaced)
        await save_agent(session, replaced)
        await session.commit()

    async with session_factory() as session:
        stored = await get_agent(session, "collector")
        assert stored == replaced
        assert stored is not None and stored.active is False
        assert AgentTool.TAKE_NOTE not in stored.enabled_tools()
        assert AgentTool.TRANSFER_TO_HUMAN in stored.enabled_tools()
        assert len(await list_agents(session)) == 2

        assert await delete_agent(session, "collector") is True
        assert await delete_agent(session, "collector") is False
        await session.commit()

    async with session_factory() as session:
        assert await get_agent(session, "collector") is None
        assert [agent.name for agent in await list_agents(session)] == ["aaa-sales"]


async def test_notes_are_idempotent_on_key(session_factory: Sessions) -> None:
    async with session_factory() as session:
        await record_note(session, "n-1", CAMPAIGN, CONTACT, 1, "Prefers mornings")
        await record_note(session, "n-2", CAMPAIGN, CONTACT, 1, "Has a dog")
        await session.commit()
    async with session_factory() as session:
        await record_note(session, "n-1", CAMPAIGN, CONTACT, 1, "Prefers mornings (retried)")
        await record_note(session, "n-3", CAMPAIGN, CONTACT, 2, "Called back")
        await record_note(session, "n-4", CAMPAIGN, "ext-2", 1, "Someone else")
        await session.commit()
    async with session_factory() as session:
        assert await notes_for(session, CAMPAIGN, CONTACT) == ["Prefers mornings", "Has a dog", "Called back"]
        assert await notes_for(session, "other-campaign", CONTACT) == []


async def test_information_is_idempotent_and_filtered_by_category(session_factory: Sessions) -> None:
    details, debt = InformationCategory.CONTACT_DETAILS, InformationCategory.DEBT_INFO
    async with session_factory() as session:
        await record_information(session, "i-1", CAMPAIGN, CONTACT, 1, details, "email: a@example.com")
        await record_information(session, "i-2", CAMPAIGN, CONTACT, 1, debt, "owes 120 EUR")
        await record_information(session, "i-3", CAMPAIGN, CONTACT, 1, details, "works nights")
        await session.commit()
    async with session_factory() as session:
        await record_information(session, "i-2", CAMPAIGN, CONTACT, 1, debt, "owes 999 EUR")
        await record_information(session, "i-4", CAMPAIGN, "ext-2", 1, details, "someone else")
        await session.commit()

    async with session_factory() as session:
        everything = await information_for(session, CAMPAIGN, CONTACT)
        assert [(item.category, item.information) for item in everything] == [
            (details, "email: a@example.com"),
            (debt, "owes 120 EUR"),
            (details, "works nights"),
        ]
        assert all(isinstance(item, SharedInformation) for item in everything)
        assert all(item.shared_at is not None and item.shared_at.tzinfo is not None for item in everything)
        only_details = await information_for(session, CAMPAIGN, CONTACT, details)
        assert [item.information for item in only_details] == ["email: a@example.com", "works nights"]
        assert await information_for(session, CAMPAIGN, CONTACT, InformationCategory.OTHER) == []


def segment(index: int, speaker: str = "agent", ended: bool = True) -> TranscriptSegment:
    start = T0 + timedelta(seconds=10 * index)
    return TranscriptSegment(
        speaker=speaker,
        text=f"line {index}",
        started_at=start,
        ended_at=start + timedelta(seconds=5) if ended else None,
    )


async def test_transcript_batches_appended_twice_stay_single_and_ordered(session_factory: Sessions) -> None:
    first = [segment(0), segment(1, "callee")]
    second = [segment(2), segment(3, "callee", ended=False)]
    async with session_factory() as session:
        await append_transcript(session, CAMPAIGN, CONTACT, 1, 2, second)
        await append_transcript(session, CAMPAIGN, CONTACT, 1, 0, first)
        await append_transcript(session, CAMPAIGN, CONTACT, 2, 0, [segment(9)])
        await append_transcript(session, CAMPAIGN, CONTACT, 1, 4, [])
        await session.commit()
    async with session_factory() as session:
        await append_transcript(session, CAMPAIGN, CONTACT, 1, 0, first)
        await append_transcript(session, CAMPAIGN, CONTACT, 1, 2, second)
        await session.commit()

    async with session_factory() as session:
        assert await transcript_for(session, CAMPAIGN, CONTACT, attempt=1) == first + second
        assert await transcript_for(session, CAMPAIGN, CONTACT) == [*first, *second, segment(9)]
        assert await transcript_for(session, CAMPAIGN, CONTACT, attempt=3) == []


async def test_transcript_times_come_back_in_utc(session_factory: Sessions) -> None:
    local = TranscriptSegment(
        speaker="callee", text="hi", started_at=datetime(2026, 11, 21, 17, 0, tzinfo=timezone(timedelta(hours=2)))
    )
    async with session_factory() as session:
        await append_transcript(session, CAMPAIGN, CONTACT, 1, 0, [local])
        await session.commit()
    async with session_factory() as session:
        [stored] = await transcript_for(session, CAMPAIGN, CONTACT)
    assert stored.started_at == T0 and stored.started_at.tzinfo == UTC
    assert stored.ended_at is None
