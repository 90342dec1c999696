"""Engines and session factories for SQLite (embedded stack) and Postgres (shared deployments).

SQLite needs some care to behave like a real transactional database under concurrent asyncio tasks:

* WAL journal mode, so readers never block the writer and vice versa;
* a 10 s busy timeout, so a writer waits for the lock instead of failing at once;
* foreign keys switched on (SQLite ignores them by default, per connection);
* SQLAlchemy, not the ``sqlite3`` driver, emits ``BEGIN``. The driver's legacy mode starts no transaction
  before a SELECT or a SAVEPOINT, which breaks savepoints and repeatable reads. We emit ``BEGIN IMMEDIATE``:
  it takes the write lock when the transaction starts. A deferred ``BEGIN`` that reads and then writes
  fails at once with "database is locked" (``SQLITE_BUSY_SNAPSHOT``, which ignores the busy timeout)
  when another connection committed in between, and select-then-insert is exactly the pattern of the
  idempotency records. The price is that SQLite transactions run one at a time, so keep them short.
  A transaction that only reads may say so (:func:`begin_read_only`): it then begins deferred, takes no
  lock, and (WAL) neither waits for writers nor holds them up. The API's GET requests do this.
"""

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from schemas.settings import Settings, get_settings

SQLITE_BUSY_TIMEOUT_MS = 10_000
# The execution option that marks a read-only transaction; other databases ignore it.
READ_ONLY_OPTION = "ringflow_read_only"

_factories: dict[str, async_sessionmaker[AsyncSession]] = {}


def _ensure_sqlite_directory(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL still survives a crash of the process; only a power cut may lose the
            # last commits. It spares an fsync per commit, which the dial path makes several of per call.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


async def begin_read_only(session: AsyncSession) -> None:
    """Start the session's transaction as one that only reads (call it before the first query).

    On SQLite that transaction takes no write lock; a write inside it would fail under contention.
    """
    await session.connection(execution_options={READ_ONLY_OPTION: True})


def async_url(url: str) -> str:
    """``postgresql://…`` and ``sqlite:///…`` as users write them, turned into the async driver URLs."""
    return Settings.model_construct(database_url=url).sqlalchemy_url


def make_engine(url: str) -> AsyncEngine:
    """An async engine: aiosqlite for SQLite, psycopg 3 for Postgres (sync driver URLs are converted).

    ``pool_pre_ping`` lets a long-lived worker survive a Postgres restart or an idle connection the
    network dropped, at the cost of one round trip per checkout.
    """
    url = async_url(url)
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    if is_sqlite:
        _ensure_sqlite_directory(url)
    engine = create_async_engine(url, pool_pre_ping=True)
    if is_sqlite:
        _configure_sqlite(engine)
    return engine


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose loaded rows stay readable after commit (no lazy reload from an async context)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def get_session_factory(url: str | None = None) -> async_sessionmaker[AsyncSession]:
    """The process-wide session factory for ``url`` (default: the configured database), created once.

    Connections in the pool belong to the event loop that opened them: use the cached factory from one
    loop only (a worker process has exactly one), and call :func:`dispose_cached_engines` before that
    loop ends.
    """
    resolved = async_url(url) if url else get_settings().sqlalchemy_url
    factory = _factories.get(resolved)
    if factory is None:
        factory = make_session_factory(make_engine(resolved))
        _factories[resolved] = factory
    return factory


async def dispose_cached_engines() -> None:
    """Close the pools behind :func:`get_session_factory`, e.g. at worker shutdown."""
    factories = list(_factories.values())
    _factories.clear()
    for factory in factories:
        bind = factory.kw["bind"]
        if isinstance(bind, AsyncEngine):
            await bind.dispose()
