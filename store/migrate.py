"""Bring a database to the newest schema with Alembic, from code (the worker, the API, the tests).

The Alembic files ship inside the package, so this works from a checkout, an editable install or a
wheel alike. Upgrading an up-to-date database is a no-op, and concurrent upgraders are serialised
(see ``migrations/env.py``), so every process may simply call this at start-up.
"""

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

from schemas.settings import get_settings
from store.db import async_url

PACKAGE_DIR = Path(__file__).resolve().parent

# Alembic keeps the running migration context in module globals (``alembic.context``, ``alembic.op``),
# so two commands in threads of one process would tear each other's state down: run one at a time.
_alembic_lock = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    """The Alembic config for ``url`` (default: the configured database), for any Alembic command.

    The URL travels as a config attribute, not as ``sqlalchemy.url``, because the ini parser would
    choke on the ``%`` of a percent-encoded password. ``embedded`` stops env.py from reconfiguring
    the host process' logging from the ini file.
    """
    config = Config(str(PACKAGE_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    config.attributes["url"] = async_url(url) if url else get_settings().sqlalchemy_url
    config.attributes["embedded"] = True
    return config


def upgrade_database_sync(url: str | None = None) -> None:
    """``alembic upgrade head``; blocking. From async code use :func:`upgrade_database`."""
    with _alembic_lock:
        command.upgrade(alembic_config(url), "head")


async def upgrade_database(url: str | None = None) -> None:
    """``alembic upgrade head`` in a worker thread, so the event loop keeps running meanwhile."""
    await asyncio.to_thread(upgrade_database_sync, url)
