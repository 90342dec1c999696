"""Pure time arithmetic for dialling: calling windows in the contact's zone, and retry backoff.

Kept free of Temporal so it can be unit-tested directly; workflows pass in ``workflow.now()`` and
``workflow.random()`` values so the results stay deterministic on replay.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schemas.campaign import CallingWindow, RetryPolicy


def _local(day_start: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The aware instant of wall-clock ``at`` on ``day_start``'s date in ``zone``.

    A wall time skipped by a spring-forward change (02:30 that night) resolves, by PEP 495's fold=0
    rule, to the pre-change offset: 03:30 on the new clock, never earlier than the person asked.
    """
    return datetime.combine(day_start.date(), at, tzinfo=zone).astimezone(UTC)


def window_intervals(window: CallingWindow, zone_name: str, around: datetime, days: int = 9):
    """Yield the window's open intervals [open, close) as UTC instants, from the day before ``around``."""
    zone = ZoneInfo(zone_name)
    local_day = around.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    overnight = window.end <= window.start
    for offset in range(-1, days):
        day = (local_day.replace(tzinfo=None) + timedelta(days=offset)).replace(tzinfo=zone)
        if day.weekday() not in window.weekdays:
            continue
        opens = _local(day, window.start, zone)
        closes_day = day.replace(tzinfo=None) + timedelta(days=1) if overnight else day.replace(tzinfo=None)
        closes = _local(closes_day.replace(tzinfo=zone), window.end, zone)
        if closes > opens:
            yield opens, closes


def next_dial_time(at: datetime, window: CallingWindow, zone_name: str) -> datetime:
    """``at`` itself when it falls inside the contact's calling window, else the moment the window next opens."""
    if at.tzinfo is None:
        raise ValueError("next_dial_time needs an aware datetime")
    at_utc = at.astimezone(UTC)
    for opens, closes in window_intervals(window, zone_name, at_utc):
        if at_utc < closes:
            return max(at_utc, opens)
    raise ValueError("the calling window never opens in the coming week")  # weekdays are validated non-empty


def in_window(at: datetime, window: CallingWindow, zone_name: str) -> bool:
    return next_dial_time(at, window, zone_name) == at.astimezone(UTC)


def retry_delay(policy: RetryPolicy, failed_attempts: int, unit_random: float) -> timedelta:
    """The wait after the ``failed_attempts``-th unanswered call: backoff plus up to ``jitter_ratio`` more.

    ``unit_random`` in [0, 1) comes from ``workflow.random()`` so replays compute the same wait.
    Jitter only ever lengthens the wait, so a retry never comes sooner than the policy promises.
    """
    base = policy.backoff(failed_attempts)
    return base * (1 + policy.jitter_ratio * unit_random)
