"""The ``ringflow`` command line without a server: parsing, and the errors users see for their mistakes."""

import asyncio
import re
from datetime import time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.app import app
from cli.campaigns import build_campaign_settings
from cli.common import format_duration, parse_duration, parse_window
from schemas.campaign import ALL_WEEKDAYS
from schemas.settings import get_settings
from store.db import dispose_cached_engines, get_session_factory
from store.models import CampaignRow

runner = CliRunner()


def _flat(text: str) -> str:
    """Output without rich's box drawing and line wrapping, so assertions read whole sentences."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text)).strip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("6h", timedelta(hours=6)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 1.5H ", timedelta(minutes=90)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("span", "text"), [(timedelta(hours=8), "8h"), (timedelta(seconds=90), "1m30s"), (timedelta(days=2), "2d")]
)
def test_durations_print_as_typed(span: timedelta, text: str) -> None:
    assert format_duration(span) == text
    assert parse_duration(text) == span


@pytest.mark.parametrize("text", ["", "10", "m", "5x", "1h 30", "-5m", "0s", "h1"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_window_and_days() -> None:
    window = parse_window("08:30-18:00", "mon,wed,sat")
    assert (window.start, window.end, window.weekdays) == (time(8, 30), time(18), frozenset({0, 2, 5}))
    assert parse_window(None, "all").weekdays == frozenset(ALL_WEEKDAYS)
    assert parse_window("10:00-16:00", None).weekdays == frozenset(range(5))


@pytest.mark.parametrize(
    ("hours", "days", "message"),
    [
        ("9-5", None, "HH:MM-HH:MM"),
        ("25:00-26:00", None, "HH:MM-HH:MM"),
        (None, "funday", "--days 'funday' is not a list of weekdays"),
        (None, "mon-xyz", "is not a list of weekdays"),
    ],
)
def test_bad_windows(hours: str | None, days: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_window(hours, days)


def test_options_override_only_what_is_given() -> None:
    settings = build_campaign_settings(
        max_concurrent=3,
        cps=2.5,
        max_attempts=5,
        initial_backoff=timedelta(minutes=5),
        callback_horizon=timedelta(days=3),
    )
    assert (settings.max_concurrent_calls, settings.calls_per_second) == (3, 2.5)
    assert (settings.retry.max_attempts, settings.retry.initial_backoff) == (5, timedelta(minutes=5))
    assert settings.retry.max_backoff == timedelta(hours=6)
    assert settings.callback_horizon == timedelta(days=3)


def test_backoffs_out_of_order_are_named_by_their_options() -> None:
    with pytest.raises(ValueError, match="--initial-backoff 8h is longer than --max-backoff 6h"):
        build_campaign_settings(initial_backoff=timedelta(hours=8))


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("dev", "demo", "campaign", "db"):
        assert command in result.output


def test_missing_csv_is_a_usage_error() -> None:
    result = runner.invoke(app, ["campaign", "start", "/no/such/contacts.csv"])
    assert result.exit_code == 2
    assert "'/no/such/contacts.csv' does not exist" in _flat(result.output)
    assert "Traceback" not in result.output


def test_bad_duration_option_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("external_id,phone\na,+14155550123\n")
    result = runner.invoke(app, ["campaign", "start", str(path), "--initial-backoff", "soon"])
    assert result.exit_code == 2
    assert "'soon' is not a duration" in _flat(result.output)


def test_bad_window_option_fails_before_anything_is_read(tmp_path: Path) -> None:
    result = runner.invoke(app, ["campaign", "start", str(tmp_path / "absent.csv"), "--window", "9am-5pm"])
    assert result.exit_code == 2
    assert "does not exist" in _flat(result.output)
    path = tmp_path / "contacts.csv"
    path.write_text("external_id,phone\na,+14155550123\n")
    result = runner.invoke(app, ["campaign", "start", str(path), "--window", "9am-5pm"])
    assert result.exit_code == 2
    assert "error: window '9am-5pm' is not of the form HH:MM-HH:MM" in _flat(result.output)


def test_csv_without_good_rows_is_refused_with_its_report(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("external_id,phone\na,123\nb,not a number\n")
    result = runner.invoke(app, ["campaign", "start", str(path)])
    assert result.exit_code == 1
    output = _flat(result.output)
    assert "0 contact(s) imported, 2 row(s) rejected" in output
    assert "2 a" in output and "3 b" in output
    assert "error: no valid contacts" in output
    assert "Traceback" not in result.output


def test_non_utf8_csv_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes("external_id,name,phone\na,J\xfcrgen,+4930123456\n".encode("latin-1"))
    result = runner.invoke(app, ["campaign", "start", str(path)])
    assert result.exit_code == 1
    assert "not UTF-8 text" in _flat(result.output)


def test_demo_with_openai_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = runner.invoke(app, ["demo", "--llm", "openai"])
    assert result.exit_code == 2
    assert "OPENAI_API_KEY" in result.output


def test_demo_refuses_an_unknown_model() -> None:
    result = runner.invoke(app, ["demo", "--llm", "gpt-0"])
    assert result.exit_code == 2
    assert "'scripted' or 'openai'" in result.output


def test_a_campaign_on_a_carrier_missing_its_settings_is_refused_before_anything_is_stored(
    tmp_path: Path, cli_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RINGFLOW_CARRIER", "livekit_sip")
    get_settings.cache_clear()
    path = tmp_path / "contacts.csv"
    path.write_text("external_id,phone\na,+442079460001\n")
    result = runner.invoke(app, ["campaign", "start", str(path)])
    assert result.exit_code == 1
    assert "the carrier 'livekit_sip' is not configured: set RINGFLOW_LIVEKIT_URL" in _flat(result.output)
    assert "Traceback" not in result.output

    async def campaigns_stored() -> int:
        async with get_session_factory(cli_store_url)() as session:
            count = await session.scalar(select(func.count()).select_from(CampaignRow))
        await dispose_cached_engines()
        return count or 0

    assert asyncio.run(campaigns_stored()) == 0
