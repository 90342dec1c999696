"""Pure time arithmetic for dialling: calling windows in the contact's zones, the calling-hours policy,
attempt caps, and retry backoff.

Kept free of Temporal so it can be unit-tested directly; workflows pass in ``workflow.now()`` and
``workflow.random()`` values so the results stay deterministic on replay. :func:`decide_dial` is the one
place a dial is judged: every workflow that dials asks it, and records what it answered.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schemas.campaign import CallingWindow, RetryPolicy
from schemas.compliance import (
    LEGAL_FLOOR,
    CallingPolicy,
    DialDecision,
    DialFacts,
    DialVerdict,
    HoursRule,
    SkipCause,
    rule_in,
)

Interval = tuple[datetime, datetime]
HORIZON_DAYS = 9


def _local(day_start: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The aware instant of wall-clock ``at`` on ``day_start``'s date in ``zone``.

    A wall time skipped by a spring-forward change (02:30 that night) resolves, by PEP 495's fold=0
    rule, to the pre-change offset: 03:30 on the new clock, never earlier than the person asked.
    """
    return datetime.combine(day_start.date(), at, tzinfo=zone).astimezone(UTC)


def window_intervals(window: CallingWindow, zone_name: str, around: datetime, days: int = HORIZON_DAYS):
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


# ---- the calling-hours policy ---------------------------------------------------------------------


def rule_window(rule: HoursRule) -> CallingWindow:
    """A rule's hours as a window: an end of midnight is the window's overnight end at 00:00."""
    return CallingWindow(start=rule.start, end=rule.end, weekdays=rule.weekdays)


def _intersect(first: Sequence[Interval], second: Sequence[Interval]) -> list[Interval]:
    """The overlap of two sorted lists of disjoint [open, close) intervals."""
    found: list[Interval] = []
    i = j = 0
    while i < len(first) and j < len(second):
        opens, closes = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if opens < closes:
            found.append((opens, closes))
        if first[i][1] <= second[j][1]:
            i += 1
        else:
            j += 1
    return found


def dial_intervals(window: CallingWindow, rule: HoursRule, zones: Iterable[str], around: datetime) -> list[Interval]:
    """When a dial may start: inside the campaign window and the rule's hours, in every candidate zone at once.

    A number that may be in several zones (a mobile, a country with several) is dialled only while it is
    allowed in all of them, so whichever zone the person is really in, it is allowed there.
    """
    legal = rule_window(rule)
    allowed: list[Interval] | None = None
    for zone in zones:
        here = _intersect(list(window_intervals(window, zone, around)), list(window_intervals(legal, zone, around)))
        allowed = here if allowed is None else _intersect(allowed, here)
    return allowed or []


def next_allowed_time(at: datetime, window: CallingWindow, rule: HoursRule, zones: Sequence[str]) -> datetime | None:
    """``at`` when a dial may start then, else the next moment one may; None when none comes in a week."""
    at_utc = at.astimezone(UTC)
    for opens, closes in dial_intervals(window, rule, zones, at_utc):
        if at_utc < closes:
            return max(at_utc, opens)
    return None


def attempts_allow_at(
    recent: Iterable[datetime], now: datetime, *, per_24h: int | None, per_7d: int | None
) -> tuple[datetime, int, int]:
    """The first moment the attempt caps allow another dial, and the dials counted in the last 24 h and 7 days."""
    times = sorted(recent)
    allowed_at = now
    counts = []
    for cap, span in ((per_24h, timedelta(hours=24)), (per_7d, timedelta(days=7))):
        inside = [t for t in times if now - span < t <= now]
        counts.append(len(inside))
        if cap is not None and len(inside) >= cap:
            allowed_at = max(allowed_at, inside[len(inside) - cap] + span)
    return allowed_at, counts[0], counts[1]


def _window_text(window: CallingWindow) -> str:
    days = ",".join(str(day) for day in sorted(window.weekdays))
    return f"{window.start:%H:%M}-{window.end:%H:%M} days {days}"


def local_times(at: datetime, zones: Iterable[str]) -> dict[str, str]:
    return {zone: at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z") for zone in zones}


def is_override(policy: CallingPolicy, rule: HoursRule) -> bool:
    """Whether ``rule`` is the organization's own and allows more than the legal floor for its region."""
    floor = rule_in(LEGAL_FLOOR, rule.region)
    return rule in policy.rules and floor is not None and rule.widens(floor)


def decide_dial(
    *,
    now: datetime,
    due: datetime,
    zones: Sequence[str],
    region: str,
    window: CallingWindow,
    policy: CallingPolicy,
    facts: DialFacts | None = None,
) -> DialDecision:
    """Judge one dial: dial now, wait until a stated moment, or skip the person for good. The one check.

    Without ``facts`` (the store's do-not-call list and attempt counts, read just before the dial) only
    time is judged: that is how a contact knows how long to sleep. With them, everything is.
    """
    rule = policy.rule_for(region)
    record = {
        "decided_at": now,
        "zones": list(zones),
        "local_times": local_times(now, zones),
        "rule": f"{rule.describe()} ({rule.source})" if rule.source else rule.describe(),
        "window": _window_text(window),
        "legal_basis": rule.legal_basis if is_override(policy, rule) else "",
    }
    waits_for: list[str] = []
    at = max(due, now)
    if at > now:
        waits_for.append("the retry or callback it is due for")
    if facts is not None:
        record["do_not_call_checked_at"] = facts.checked_at
        if facts.on_do_not_call:
            source = f" ({facts.do_not_call_source})" if facts.do_not_call_source else ""
            return DialDecision(
                verdict=DialVerdict.SKIP,
                skip_cause=SkipCause.DO_NOT_CALL,
                reason=f"the number is on the do-not-call list{source}",
                **record,
            )
        per_24h, per_7d = policy.caps_for(rule)
        capped_until, record["attempts_24h"], record["attempts_7d"] = attempts_allow_at(
            facts.recent_attempts, now, per_24h=per_24h, per_7d=per_7d
        )
        if capped_until > at:
            at = capped_until
            waits_for.append(f"the attempt cap ({per_24h or '-'} per 24 hours, {per_7d or '-'} per 7 days)")
    allowed = next_allowed_time(at, window, rule, zones)
    where = f"in {', '.join(zones)}" if len(zones) > 1 else f"in {zones[0]}"
    if allowed is None:
        return DialDecision(
            verdict=DialVerdict.SKIP,
            skip_cause=SkipCause.NO_CALLING_HOURS,
            reason=f"no hour is inside {rule.describe()} and the campaign window {where} at once; "
            "give the contact its time zone",
            **record,
        )
    if allowed > at:
        waits_for.append(f"calling hours {where}")
    if allowed <= now:
        return DialDecision(
            verdict=DialVerdict.DIAL, reason=f"inside {rule.describe()} and the window {where}", **record
        )
    return DialDecision(
        verdict=DialVerdict.WAIT, not_before=allowed, reason="waiting for " + " and ".join(waits_for), **record
    )
