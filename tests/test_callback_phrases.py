"""resolve_when: the phrases callers use, in their own zone, DST-correct."""

from datetime import UTC, datetime

import pytest

from simulator.scripted_llm import extract_time_phrase
from voice_worker.phrases import resolve_when

# Saturday 29 March 2025, 12:00 UTC = 12:00 in London (GMT); BST starts at 01:00 UTC on Sunday 30 March.
NOW = datetime(2025, 3, 29, 12, 0, tzinfo=UTC)
LONDON = "Europe/London"


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("tomorrow at 10", "2025-03-30T10:00:00+01:00"),
        ("tomorrow at 10:30am", "2025-03-30T10:30:00+01:00"),
        ("Tomorrow at 3pm.", "2025-03-30T15:00:00+01:00"),
        ("tomorrow", "2025-03-30T09:00:00+01:00"),
        ("tomorrow evening", "2025-03-30T18:00:00+01:00"),
        ("in two hours", "2025-03-29T14:00:00+00:00"),
        ("in 2 minutes", "2025-03-29T12:02:00+00:00"),
        ("in half an hour", "2025-03-29T12:30:00+00:00"),
        ("in twelve minutes", "2025-03-29T12:12:00+00:00"),
        ("next Monday morning", "2025-03-31T09:00:00+01:00"),
        ("Monday at 3pm", "2025-03-31T15:00:00+01:00"),
        ("friday afternoon", "2025-04-04T14:00:00+01:00"),
        ("tonight", "2025-03-29T19:00:00+00:00"),
        ("at 4pm", "2025-03-29T16:00:00+00:00"),
        ("at 4", "2025-03-29T16:00:00+00:00"),
        ("at 11am", "2025-03-30T11:00:00+01:00"),  # already passed today: tomorrow
        ("2025-04-01T10:00", "2025-04-01T10:00:00+01:00"),  # naive ISO: the contact's wall clock
        ("2025-04-01T10:00:00+00:00", "2025-04-01T11:00:00+01:00"),
    ],
)
def test_phrases(phrase: str, expected: str) -> None:
    at = resolve_when(phrase, NOW, LONDON)
    assert at.isoformat() == expected
    assert str(at.tzinfo) == LONDON


def test_tomorrow_across_spring_forward_is_wall_clock_not_24_hours() -> None:
    """The night London loses an hour: "tomorrow at 12" is 23 hours away, not 24."""
    at = resolve_when("tomorrow at 12pm", NOW, LONDON)
    assert at.isoformat() == "2025-03-30T12:00:00+01:00"
    assert (at - NOW).total_seconds() == 23 * 3600


def test_fall_back_keeps_wall_clock_in_new_york() -> None:
    now = datetime(2025, 11, 1, 16, 0, tzinfo=UTC)  # Saturday noon EDT; EST from Sunday 2am
    at = resolve_when("tomorrow at 10", now, "America/New_York")
    assert at.isoformat() == "2025-11-02T10:00:00-05:00"
    assert (at - now).total_seconds() == 23 * 3600


def test_relative_durations_are_elapsed_time_across_dst() -> None:
    late = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)  # 00:30 GMT, clocks jump at 01:00 UTC
    at = resolve_when("in two hours", late, LONDON)
    assert at.isoformat() == "2025-03-30T03:30:00+01:00"
    assert (at - late).total_seconds() == 2 * 3600


def test_the_zone_decides_the_day() -> None:
    late_utc = datetime(2025, 3, 29, 23, 30, tzinfo=UTC)  # already Sunday in Riyadh
    assert resolve_when("tomorrow at 10", late_utc, "Asia/Riyadh").isoformat() == "2025-03-31T10:00:00+03:00"
    assert resolve_when("tomorrow at 10", late_utc, LONDON).isoformat() == "2025-03-30T10:00:00+01:00"


def test_weekday_named_today_means_next_week() -> None:
    assert resolve_when("Saturday at 10am", NOW, LONDON).isoformat() == "2025-04-05T10:00:00+01:00"


@pytest.mark.parametrize("phrase", ["whenever", "tomorrow at 25", "at 13pm", "", "in many hours"])
def test_unknown_phrases_raise_a_sayable_error(phrase: str) -> None:
    with pytest.raises(ValueError, match=rf"^I couldn't understand '{phrase}' as a time$"):
        resolve_when(phrase, NOW, LONDON)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        resolve_when("tomorrow", datetime(2025, 3, 29, 12, 0), LONDON)


@pytest.mark.parametrize(
    ("said", "phrase"),
    [
        ("I'm busy, call me back tomorrow at 10.", "tomorrow at 10"),
        ("Can you try in two hours?", "in two hours"),
        ("next monday morning works", "next monday morning"),
        ("اتصل بي غدا", "tomorrow"),
        ("اتصل بي غدا الساعة ١٠", "tomorrow at 10"),
        ("بعد ساعتين", "in two hours"),
        ("call me later", None),
    ],
)
def test_scripted_llm_extracts_phrases_resolve_when_understands(said: str, phrase: str | None) -> None:
    assert extract_time_phrase(said) == phrase
    if phrase:
        resolve_when(phrase, NOW, LONDON)
