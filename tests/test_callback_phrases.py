"""resolve_when: the phrases callers use, in English or Arabic, in their own zone, DST-correct."""

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


# Saturday 29 March 2025 12:00 UTC is 08:00 in New York (EDT) and 15:00 in Riyadh.
@pytest.mark.parametrize(
    ("phrase", "zone", "expected"),
    [
        ("at noon", "America/New_York", "2025-03-29T12:00:00-04:00"),
        ("tomorrow at ten", "America/New_York", "2025-03-30T10:00:00-04:00"),
        ("half past ten", "America/New_York", "2025-03-29T10:30:00-04:00"),
        ("next Tuesday after 3pm", "America/New_York", "2025-04-01T15:00:00-04:00"),
        ("quarter to four tomorrow", "America/New_York", "2025-03-30T15:45:00-04:00"),
        ("in a couple of hours", "America/New_York", "2025-03-29T10:00:00-04:00"),
        ("بكرة الساعة عشرة", "Asia/Riyadh", "2025-03-30T10:00:00+03:00"),
        ("غدا الساعة العاشرة صباحا", "Asia/Riyadh", "2025-03-30T10:00:00+03:00"),
        ("بعد ساعتين", "Asia/Riyadh", "2025-03-29T17:00:00+03:00"),
        ("غداً الساعة ٨ مساءً", "Asia/Riyadh", "2025-03-30T20:00:00+03:00"),
        ("الثلاثاء القادم الساعة 3 العصر", "Asia/Riyadh", "2025-04-01T15:00:00+03:00"),
        ("بعد نص ساعة", "Asia/Riyadh", "2025-03-29T15:30:00+03:00"),
        ("الساعة الرابعة", "Asia/Riyadh", "2025-03-29T16:00:00+03:00"),  # a bare 4 is the afternoon in Arabic too
        ("الساعة الحادية عشرة", "Asia/Riyadh", "2025-03-30T11:00:00+03:00"),  # already past: tomorrow
    ],
)
def test_callees_own_words_in_english_and_arabic(phrase: str, zone: str, expected: str) -> None:
    at = resolve_when(phrase, NOW, zone)
    assert at.isoformat() == expected
    assert str(at.tzinfo) == zone


def test_arabic_durations_are_elapsed_time_across_dst() -> None:
    """ "بعد ساعتين" spoken in London half an hour before the clocks jump: two real hours later."""
    late = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)
    assert resolve_when("بعد ساعتين", late, LONDON).isoformat() == "2025-03-30T03:30:00+01:00"


def test_a_day_without_a_time_is_its_morning_in_arabic_too() -> None:
    assert resolve_when("بكرة", NOW, "Asia/Riyadh").isoformat() == "2025-03-30T09:00:00+03:00"


@pytest.mark.parametrize(
    "phrase", ["whenever", "tomorrow at 25", "at 13pm", "", "in many hours", "مش عارف", "بكرة الساعة 30"]
)
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
        ("Sorry, call me back at noon.", "at noon"),
        ("Call me back half past ten.", "half past ten"),
        ("اتصل بي غدا", "غدا"),
        ("اتصل بي غدا الساعة ١٠", "غدا الساعة ١٠"),
        ("بعد ساعتين", "بعد ساعتين"),
        ("أنا مشغول، اتصل بي بكرة الساعة عشرة", "بكرة الساعة عشرة"),
        ("call me later", None),
    ],
)
def test_scripted_llm_passes_the_callees_own_words(said: str, phrase: str | None) -> None:
    """No translation: what the scripted model hands schedule_callback is a piece of what was said."""
    assert extract_time_phrase(said) == phrase
    if phrase:
        assert phrase in said
        resolve_when(phrase, NOW, LONDON)
