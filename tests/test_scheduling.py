"""Calling windows and backoff as pure functions: zones, DST, overnight windows, weekdays."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from schemas.campaign import CallingWindow, CampaignSettings, RetryPolicy, parse_weekdays
from workflows.scheduling import in_window, next_dial_time, retry_delay

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS_9_TO_8 = CallingWindow(start=time(9), end=time(20), weekdays=frozenset(range(5)))


def test_inside_the_window_dials_now():
    at = datetime(2026, 11, 24, 15, 0, tzinfo=NEW_YORK)  # Tuesday 15:00
    assert next_dial_time(at, WEEKDAYS_9_TO_8, "America/New_York") == at


def test_after_hours_waits_for_the_next_morning_in_the_contacts_zone():
    at = datetime(2026, 11, 24, 21, 30, tzinfo=NEW_YORK)
    assert next_dial_time(at, WEEKDAYS_9_TO_8, "America/New_York") == datetime(2026, 11, 25, 9, tzinfo=NEW_YORK)


def test_friday_evening_waits_for_monday():
    at = datetime(2026, 11, 27, 20, 0, tzinfo=NEW_YORK)  # Friday 20:00, end is exclusive
    assert next_dial_time(at, WEEKDAYS_9_TO_8, "America/New_York") == datetime(2026, 11, 30, 9, tzinfo=NEW_YORK)


def test_the_window_is_the_contacts_local_time_not_utc():
    at = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 21:00 in Tokyo, 07:00 in New York
    assert next_dial_time(at, WEEKDAYS_9_TO_8, "Asia/Tokyo") == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert next_dial_time(at, WEEKDAYS_9_TO_8, "America/New_York") == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def test_spring_forward_morning_opens_at_local_nine():
    at = datetime(2027, 3, 14, 7, 0, tzinfo=UTC)  # 02:00 EST, the change happens at 02:00
    window = CallingWindow(start=time(9), end=time(20), weekdays=frozenset(range(7)))
    assert next_dial_time(at, window, "America/New_York") == datetime(2027, 3, 14, 13, 0, tzinfo=UTC)


def test_fall_back_morning_opens_at_local_nine():
    at = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, before the repeated hour
    window = CallingWindow(start=time(9), end=time(20), weekdays=frozenset(range(7)))
    assert next_dial_time(at, window, "America/New_York") == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)


def test_a_window_start_inside_the_dst_gap_is_never_earlier_than_asked():
    window = CallingWindow(start=time(2, 30), end=time(4), weekdays=frozenset(range(7)))
    opens = next_dial_time(datetime(2027, 3, 14, 5, 0, tzinfo=UTC), window, "America/New_York")
    assert opens.astimezone(NEW_YORK).hour == 3 and opens.astimezone(NEW_YORK).minute == 30


def test_overnight_window_spans_midnight():
    window = CallingWindow(start=time(22), end=time(2), weekdays=frozenset({0}))  # Monday night
    tuesday_1am = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert in_window(tuesday_1am, window, "UTC")
    assert next_dial_time(datetime(2026, 11, 24, 3, 0, tzinfo=UTC), window, "UTC") == datetime(
        2026, 11, 30, 22, 0, tzinfo=UTC
    )


def test_equal_start_and_end_is_around_the_clock():
    window = CallingWindow(start=time(0), end=time(0), weekdays=frozenset(range(7)))
    for hour in (0, 3, 12, 23):
        at = datetime(2026, 11, 24, hour, 59, tzinfo=UTC)
        assert next_dial_time(at, window, "Pacific/Auckland") == at


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="aware"):
        next_dial_time(datetime(2026, 11, 24, 12), WEEKDAYS_9_TO_8, "UTC")


def test_backoff_grows_by_the_coefficient_and_stops_at_the_cap():
    policy = RetryPolicy(
        initial_backoff=timedelta(minutes=10), backoff_coefficient=3, max_backoff=timedelta(hours=1), jitter_ratio=0
    )
    assert [retry_delay(policy, n, 0.99) for n in (1, 2, 3)] == [
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(hours=1),
    ]


def test_jitter_stretches_by_at_most_its_ratio():
    policy = RetryPolicy(initial_backoff=timedelta(minutes=10), jitter_ratio=0.25)
    assert retry_delay(policy, 1, 0.0) == timedelta(minutes=10)
    assert retry_delay(policy, 1, 0.999) < timedelta(minutes=12, seconds=30)


def test_terminal_outcomes_cannot_be_made_retryable():
    with pytest.raises(ValueError, match="cannot be retried"):
        RetryPolicy(retry_outcomes=frozenset({"no_answer", "completed"}))


def test_weekday_and_window_parsing_from_the_command_line():
    assert parse_weekdays("mon-fri") == frozenset(range(5))
    assert parse_weekdays("sat,sun") == frozenset({5, 6})
    assert parse_weekdays("fri-mon") == frozenset({4, 5, 6, 0})
    window = CallingWindow.parse("08:30-17:00", "all")
    assert (window.start, window.end, len(window.weekdays)) == (time(8, 30), time(17), 7)
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        CallingWindow.parse("morning")


@pytest.mark.parametrize(
    "settings",
    [
        {"callback_horizon": "P999999999D"},
        {"ring_timeout": "PT11M"},
        {"retry": {"initial_backoff": "P31D", "max_backoff": "P60D"}},
        {"retry": {"max_backoff": "P91D"}},
        {"callback_horizon": "PT0S"},
    ],
)
def test_waits_beyond_what_a_campaign_could_mean_are_refused(settings: dict) -> None:
    with pytest.raises(ValueError, match=r"callback_horizon|ring_timeout|backoff"):
        CampaignSettings.model_validate(settings)
