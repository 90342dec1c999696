"""What a deployment runs before the workers start: ``ringflow db upgrade``, ``ringflow temporal setup`` and
``ringflow codec new-key``."""

from datetime import timedelta
from typing import Annotated

import typer
from rich.markup import escape

from cli.common import (
    connect_temporal,
    console,
    duration_option,
    fail,
    format_duration,
    load_settings,
    redacted_url,
    run_command,
)
from schemas.settings import Settings

db_app = typer.Typer(help="The campaign database (SQLite under the data dir, or DATABASE_URL).", no_args_is_help=True)
codec_app = typer.Typer(
    help="Payload encryption keys: phone numbers, names and transcripts are sealed in Temporal.", no_args_is_help=True
)
temporal_app = typer.Typer(
    help="The Temporal namespace Ringflow runs in (self-hosted or Temporal Cloud).", no_args_is_help=True
)

DEFAULT_RETENTION = timedelta(days=30)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to the configured database (DATABASE_URL, else SQLite under the data dir)."""
    settings = load_settings()
    run_command(_db_upgrade(settings))


async def _db_upgrade(settings: Settings) -> None:
    from store.migrate import upgrade_database

    await upgrade_database(settings.sqlalchemy_url)
    console.print(f"{redacted_url(settings.sqlalchemy_url)} is at the newest schema", highlight=False)


@codec_app.command("new-key")
def codec_new_key(
    key_id: Annotated[str, typer.Argument(help="A new id, e.g. the date: 2026-11 (letters, digits, . _ -)")],
) -> None:
    """Print a new `key_id:base64key` entry: put it FIRST in RINGFLOW_CODEC_KEYS and keep the old keys after it."""
    from infra.codec import CodecConfigError, new_codec_key

    try:
        entry = new_codec_key(key_id)
    except CodecConfigError as err:
        fail(str(err), code=2)
    print(entry)


@temporal_app.command("setup")
def temporal_setup(
    retention: Annotated[
        timedelta | None,
        typer.Option(
            parser=duration_option,
            metavar="DURATION",
            help="How long a namespace this creates keeps closed workflows [30d]; an existing one keeps its own",
        ),
    ] = None,
) -> None:
    """Create RINGFLOW_TEMPORAL_NAMESPACE if it is missing and register the search attributes the workflows
    set (CampaignId, Outcome, Attempt). Safe to run on every deploy: what exists is left as it is."""
    settings = load_settings()
    run_command(_temporal_setup(settings, retention or DEFAULT_RETENTION))


async def _temporal_setup(settings: Settings, retention: timedelta) -> None:
    from worker.temporal_setup import setup_namespace

    report = await setup_namespace(await connect_temporal(settings), retention)
    what = f"created (retention {format_duration(retention)})" if report.namespace_created else "exists"
    console.print(f"namespace {escape(report.namespace)} {what}; search attributes registered", highlight=False)
