"""Migration 0005 keeps every fact of a store written before it: the simulator's persona moves into the
contact's attributes, an attempt's recorded outcome becomes its network outcome too, and the ``outcomes``
table folds into the contact (reason and time). Runs on SQLite and, in CI, on Postgres."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import Connection, MetaData, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store.migrate import alembic_config, upgrade_database

DECIDED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def _insert(connection: Connection, table: str, **values: Any) -> None:
    connection.execute(Table(table, MetaData(), autoload_with=connection).insert().values(**values))


def _seed_before_0005(connection: Connection) -> None:
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    _insert(
        connection, "campaigns", id="c-old", name="old", status="completed", settings={}, created_at=now, updated_at=now
    )
    contact = {
        "campaign_id": "c-old",
        "timezone": "Europe/Dublin",
        "priority": 0,
        "status": "finished",
        "updated_at": now,
    }
    _insert(connection, "contacts", external_id="p1", name="Ann", phone="+35315550001", persona="qualifies",
            attributes={"company": "Acme"}, seq=1, final_outcome="qualified", attempts=1, **contact)  # fmt: skip
    _insert(connection, "contacts", external_id="p2", name="Bo", phone="+35315550002", persona=None,
            attributes={}, seq=2, final_outcome="unreachable", attempts=1, **contact)  # fmt: skip
    _insert(connection, "call_attempts", idempotency_key="contact-c-old-p1#1", campaign_id="c-old", external_id="p1",
            attempt=1, carrier="sim", state="finished", started_at=now, ended_at=now, outcome="qualified",
            answered=True, duration_seconds=8.0, carrier_call_id="", detail="", callback_reason="")  # fmt: skip
    _insert(connection, "outcomes", campaign_id="c-old", external_id="p1", final_outcome="qualified",
            reason="a good lead", attempts=1, decided_at=DECIDED)  # fmt: skip
    _insert(connection, "outcomes", campaign_id="c-old", external_id="p2", final_outcome="unreachable",
            reason="1 attempts without an answer", attempts=1, decided_at=DECIDED)  # fmt: skip


def _read_after(connection: Connection) -> tuple[list[tuple], list[tuple]]:
    metadata = MetaData()
    contacts = Table("contacts", metadata, autoload_with=connection)
    attempts = Table("call_attempts", metadata, autoload_with=connection)
    people = connection.execute(
        select(contacts.c.external_id, contacts.c.attributes, contacts.c.final_outcome, contacts.c.final_reason)
        .where(contacts.c.campaign_id == "c-old")
        .order_by(contacts.c.seq)
    ).all()
    calls = connection.execute(
        select(attempts.c.network_outcome, attempts.c.outcome).where(attempts.c.campaign_id == "c-old")
    ).all()
    return [tuple(row) for row in people], [tuple(row) for row in calls]


async def test_migration_0005_carries_personas_attempt_outcomes_and_outcome_reasons(
    db_url: str, store_engine: AsyncEngine
) -> None:
    config = alembic_config(db_url)
    await asyncio.to_thread(command.downgrade, config, "0004")
    try:
        async with store_engine.begin() as connection:
            await connection.run_sync(_seed_before_0005)
        await upgrade_database(db_url)
        async with store_engine.connect() as connection:
            people, calls = await connection.run_sync(_read_after)
            finished_at = (
                await connection.exec_driver_sql(
                    "SELECT finished_at FROM contacts WHERE campaign_id = 'c-old' AND external_id = 'p1'"
                )
            ).scalar_one()
    finally:
        await upgrade_database(db_url)  # the other tests need the head schema whatever happened here
        async with store_engine.begin() as connection:
            await connection.exec_driver_sql("DELETE FROM call_attempts WHERE campaign_id = 'c-old'")
            await connection.exec_driver_sql("DELETE FROM contacts WHERE campaign_id = 'c-old'")
            await connection.exec_driver_sql("DELETE FROM campaigns WHERE id = 'c-old'")

    assert people == [
        ("p1", {"company": "Acme", "persona": "qualifies"}, "qualified", "a good lead"),
        ("p2", {}, "unreachable", "1 attempts without an answer"),
    ]
    assert calls == [("qualified", "qualified")]
    assert finished_at is not None
