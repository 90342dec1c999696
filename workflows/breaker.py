"""A campaign's circuit breaker: pause the campaign when its dials start failing, before it burns its list.

Pure and deterministic (the campaign workflow calls it with workflow time), so the tests drive it
directly as well as through the workflow. Its state is bounded: the dials of one window (capped at
``MAX_RECENT``) and the answers of the latest ``recent_dials`` dials, whatever the list's size.
"""

from dataclasses import dataclass
from datetime import datetime

from schemas.campaign import CircuitBreaker
from schemas.causes import CauseClass
from schemas.workflow_io import BreakerState, DialReport, RecentDial

# The most dials one window remembers: enough for 2 minutes at 16 calls per second; past it the oldest
# go first, and the ratio is taken over the latest ones.
MAX_RECENT = 2_000
# The attempts a trip names: enough to look into, few enough for one event.
NAMED_ATTEMPTS = 20


@dataclass(frozen=True)
class Trip:
    reason: str
    attempt_keys: list[str]


def record_dial(state: BreakerState, rules: CircuitBreaker, report: DialReport, now: datetime) -> Trip | None:
    """Count one dial's result; the trip, if this result makes one."""
    network_failure = report.cause == CauseClass.NETWORK_RETRY
    state.recent.append(RecentDial(at=now, network_failure=network_failure, attempt_key=report.attempt_key))
    _forget_before(state, now - rules.window)
    if not network_failure:
        answered = report.cause == CauseClass.ANSWERED
        if state.baseline_dials < rules.baseline_dials:
            state.baseline_dials += 1
            state.baseline_answered += answered
        else:
            state.answers.append(answered)
            del state.answers[: -rules.recent_dials]
    if not rules.enabled:
        return None
    return _network_trip(state, rules) or _answer_rate_trip(state, rules)


def reset_window(state: BreakerState) -> None:
    """Resumed by hand: judge only what comes next. The baseline, the campaign's own, is kept."""
    state.recent.clear()
    state.answers.clear()


def _forget_before(state: BreakerState, start: datetime) -> None:
    keep = next((i for i, dial in enumerate(state.recent) if dial.at >= start), len(state.recent))
    del state.recent[: max(keep, len(state.recent) - MAX_RECENT)]


def _network_trip(state: BreakerState, rules: CircuitBreaker) -> Trip | None:
    dials = len(state.recent)
    failed = [dial.attempt_key for dial in state.recent if dial.network_failure]
    if dials < rules.min_dials or len(failed) < rules.network_failure_ratio * dials:
        return None
    minutes = rules.window.total_seconds() / 60
    return Trip(
        reason=(
            f"circuit breaker: {len(failed)} of the last {dials} dials failed on the network within "
            f"{minutes:g} min (it trips at {rules.network_failure_ratio:.0%} of at least {rules.min_dials})"
        ),
        attempt_keys=failed[-NAMED_ATTEMPTS:],
    )


def _answer_rate_trip(state: BreakerState, rules: CircuitBreaker) -> Trip | None:
    if rules.answer_rate_fraction is None or len(state.answers) < rules.recent_dials or not state.baseline_answered:
        return None
    baseline = state.baseline_answered / state.baseline_dials
    recent = sum(state.answers) / len(state.answers)
    if recent >= rules.answer_rate_fraction * baseline:
        return None
    return Trip(
        reason=(
            f"circuit breaker: {recent:.0%} of the last {len(state.answers)} dials were answered, against "
            f"{baseline:.0%} of the campaign's first {state.baseline_dials} (it trips below "
            f"{rules.answer_rate_fraction:.0%} of that)"
        ),
        attempt_keys=[dial.attempt_key for dial in state.recent[-NAMED_ATTEMPTS:]],
    )
