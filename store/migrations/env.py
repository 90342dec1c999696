"""Alembic environment of the Ringflow store.

The URL is, first found: ``config.attributes["url"]`` (what :mod:`store.migrate` passes), ``-x url=…``
on the command line, the settings. Migrations run on an async engine, driven by ``asyncio.run``: that
works in the thread :func:`store.migrate.upgrade_database` uses and from the CLI; if this thread
already runs an event loop, the migration gets a thread of its own.

The whole upgrade is one transaction. On Postgres it first takes an advisory lock, so processes that
start together (workers, test sessions) migrate one after the other and the later ones find the
schema at head; on SQLite the engine's ``BEGIN IMMEDIATE`` serialises them the same way.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from schemas.settings import get_settings
from store.db import async_url, make_engine
from store.models import Base

# pg_advisory_xact_lock key: any constant, as long as every Ringflow process uses the same one.
MIGRATION_LOCK_KEY = 0x52494E47464C4F57  # "RINGFLOW"

config = context.config
if config.config_file_name is not None and not config.attributes.get("embedded"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    return async_url(url) if url else get_settings().sqlalchemy_url


def run_migrations_offline() -> None:
    """``alembic upgrade head --sql``: print the DDL instead of running it."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _migrate(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_online() -> None:
    engine = make_engine(_url())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_migrate_online())
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(_migrate_online())).result()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
