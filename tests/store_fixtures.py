"""Database fixtures for any test that needs the store. Register them in a test module or conftest with

    pytest_plugins = ["store_fixtures"]

``DATABASE_URL`` set (CI: ``postgresql://postgres@127.0.0.1:5432/test``) selects that Postgres database,
where the session works in a schema of its own, dropped at the end; otherwise the session gets a
fresh SQLite file in a temporary directory. Pass ``db_url`` on to anything that opens the database
(settings, worker subprocesses): for Postgres it carries the schema. The schema is migrated once per
session with :func:`store.migrate.upgrade_database`, which is idempotent and serialised, so other
fixtures may call it again with ``db_url``.

``session_factory`` empties the store's tables before each test that uses it (never ``alembic_version``,
so the schema stays at head for everyone).
"""

import os
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from schemas.settings import get_settings
from store.db import async_url, make_engine, make_session_factory
from store.migrate import upgrade_database
from store.models import Base


async def clean_store(engine: AsyncEngine) -> None:
    """Delete every row of the store's tables. On Postgres, fail after 10 s rather than hang forever
    when a connection left open elsewhere holds a lock on them."""
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            await connection.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                await connection.exec_driver_sql(f"DELETE FROM {table}")


@pytest_asyncio.fixture(scope="session")
async def db_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The async SQLAlchemy URL of the test database, migrated to head."""
    configured = os.environ.get("DATABASE_URL")
    if not configured:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('store') / 'ringflow-test.db'}"
        await upgrade_database(url)
        yield url
        return
    async with _private_schema(async_url(configured)) as url:
        await upgrade_database(url)
        yield url


@asynccontextmanager
async def _private_schema(base_url: str) -> AsyncIterator[str]:
    """A schema of this test session's own in the Postgres database, dropped at the end.

    The URL puts it first on the ``search_path`` (``options=-csearch_path=…``), so every engine,
    Alembic run and worker subprocess given the URL works inside it, and test runs that share the
    database (developers and CI jobs on one server) cannot truncate each other's tables.
    """
    schema = f"ringflow_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base_url)
    try:
        async with admin.begin() as connection:
            await connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield (
            make_url(base_url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        try:
            async with admin.begin() as connection:
                await connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                await connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        except DBAPIError as exc:
            warnings.warn(f"could not drop test schema {schema}: {exc}", stacklevel=1)
        await admin.dispose()


@pytest_asyncio.fixture(scope="session")
async def store_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def session_factory(store_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test database, whose store tables are empty when the test starts."""
    await clean_store(store_engine)
    return make_session_factory(store_engine)


@pytest.fixture
def cli_store_url(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite file as the CLI's store (``DATABASE_URL``), with a data directory of its own."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.delenv("RINGFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("RINGFLOW_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
