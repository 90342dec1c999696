"""Campaign settings: pacing, retries, calling hours, callbacks."""

from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, WithJsonSchema, field_validator, model_validator

from schemas.causes import CauseRules
from schemas.outcomes import DEFAULT_RETRY_OUTCOMES, TERMINAL_CALL_OUTCOMES, CallOutcome

ALL_WEEKDAYS = (0, 1, 2, 3, 4, 5, 6)
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RetryPolicy(BaseModel):
    """Redials after an unanswered attempt wait ``initial * coefficient^(n-1)``, capped at ``maximum``."""

    max_attempts: int = Field(default=4, ge=1, le=50)
    # Upper bounds keep every wait inside what date arithmetic in a workflow can represent, far beyond
    # any sensible campaign.
    initial_backoff: timedelta = Field(default=timedelta(minutes=30), le=timedelta(days=30))
    backoff_coefficient: float = Field(default=2.0, ge=1.0, le=10.0)
    max_backoff: timedelta = Field(default=timedelta(hours=6), le=timedelta(days=90))
    jitter_ratio: float = Field(
        default=0.1, ge=0.0, le=0.5, description="Each wait is stretched by up to this fraction, deterministically"
    )
    retry_outcomes: frozenset[CallOutcome] = DEFAULT_RETRY_OUTCOMES

    @field_validator("retry_outcomes")
    @classmethod
    def _retryable(cls, value: frozenset[CallOutcome]) -> frozenset[CallOutcome]:
        terminal = value & (TERMINAL_CALL_OUTCOMES | {CallOutcome.CALLBACK_REQUESTED})
        if terminal:
            names = ", ".join(sorted(o.value for o in terminal))
            raise ValueError(f"these outcomes cannot be retried: {names}")
        return value

    @model_validator(mode="after")
    def _positive(self) -> "RetryPolicy":
        if self.initial_backoff <= timedelta(0):
            raise ValueError("initial_backoff must be positive")
        if self.max_backoff < self.initial_backoff:
            raise ValueError("max_backoff must be at least initial_backoff")
        return self

    def backoff(self, attempt: int) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1-based), before jitter."""
        seconds = self.initial_backoff.total_seconds() * self.backoff_coefficient ** (attempt - 1)
        return min(timedelta(seconds=seconds), self.max_backoff)


LocalTime = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
            "description": "A local wall-clock time, HH:MM[:SS], with no zone: it is read in each callee's own zone",
            "examples": ["09:00"],
        }
    ),
]
"""A time of day in the callee's zone. OpenAPI's ``format: time`` is RFC 3339's full-time, which requires an offset
these times never have, so a schema-driven client is told the real shape instead."""


class CallingWindow(BaseModel):
    """Local hours, in the contact's own time zone, when a dial may start. ``end`` is exclusive.

    ``end`` before ``start`` is an overnight window (22:00-02:00); ``start == end`` is all day.
    """

    start: LocalTime = time(9, 0)
    end: LocalTime = time(20, 0)
    weekdays: frozenset[int] = frozenset(ALL_WEEKDAYS[:5])

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("window times are local to each contact: give them without a zone")
        return value

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: frozenset[int]) -> frozenset[int]:
        if not value:
            raise ValueError("the calling window needs at least one weekday")
        if not value <= set(ALL_WEEKDAYS):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return value

    @classmethod
    def parse(cls, hours: str, days: str | None = None) -> "CallingWindow":
        """``"09:00-20:00"`` and ``"mon-fri"`` / ``"mon,wed,sat"`` / ``"all"``, as typed on the command line."""
        try:
            start_text, end_text = hours.split("-")
            start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
        except ValueError:
            raise ValueError(f"window {hours!r} is not of the form HH:MM-HH:MM") from None
        weekdays = parse_weekdays(days) if days else frozenset(ALL_WEEKDAYS[:5])
        return cls(start=start, end=end, weekdays=weekdays)


def parse_weekdays(text: str) -> frozenset[int]:
    text = text.strip().lower()
    if text in ("all", "every", "daily"):
        return frozenset(ALL_WEEKDAYS)
    days: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            first, last = (WEEKDAY_NAMES.index(p.strip()[:3]) for p in part.split("-"))
            days.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)])
        elif part:
            if part[:3] not in WEEKDAY_NAMES:
                raise ValueError(f"{part!r} is not a weekday")
            days.add(WEEKDAY_NAMES.index(part[:3]))
    return frozenset(days)


class CircuitBreaker(BaseModel):
    """When a campaign pauses itself instead of burning its list (see docs/campaign-safety.md).

    It trips on either test, over the dials whose results came in recently: network failures (the
    ``network_retry`` class) of at least ``network_failure_ratio`` among at least ``min_dials`` dials in the
    last ``window``; or, once ``baseline_dials`` dials have set the campaign's own answer rate, an answer rate
    over the last ``recent_dials`` dials below ``answer_rate_fraction`` of it. Resuming is by hand.
    """

    enabled: bool = True
    window: timedelta = Field(default=timedelta(minutes=2), ge=timedelta(seconds=10), le=timedelta(hours=1))
    min_dials: int = Field(default=10, ge=1, le=10_000)
    network_failure_ratio: float = Field(default=0.5, gt=0.0, le=1.0)
    answer_rate_fraction: float | None = Field(
        default=0.25,
        gt=0.0,
        lt=1.0,
        description="Trip when the recent answer rate falls below this fraction of the baseline; null: never",
    )
    baseline_dials: int = Field(default=50, ge=10, le=10_000)
    recent_dials: int = Field(default=50, ge=10, le=500)


class PreCallLookup(BaseModel):
    """An HTTP lookup before each dial: your system may add to the call's context, or say not to call.

    Ringflow POSTs (or GETs, with query parameters) the contact: ``campaign_id``, ``external_id``, ``name``,
    ``phone``, ``attempt``, ``attributes``; with an ``Idempotency-Key`` header, the same on a retried lookup.
    The answer is a JSON object: ``{"skip": true, "reason": "..."}`` ends the contact as ``skipped`` with that
    reason, recorded as a dial decision; ``{"context": {...}}`` is merged into the call's context, which the
    agent reads. See the README, "How a campaign runs".
    """

    url: str = Field(
        max_length=2048, pattern=r"^https?://", description="http:// or https://; a private host needs a setting"
    )
    method: Literal["POST", "GET"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict, description="Sent with each lookup, e.g. an API key")
    timeout: timedelta = Field(default=timedelta(seconds=3), ge=timedelta(milliseconds=100), le=timedelta(seconds=30))
    on_failure: Literal["dial", "skip"] = Field(
        default="dial",
        description="When the lookup cannot answer (after its retries): dial without it, or skip the contact",
    )


class CampaignSettings(BaseModel):
    max_concurrent_calls: int = Field(default=10, ge=1, le=1000)
    calls_per_second: float = Field(default=1.0, gt=0, le=100)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    window: CallingWindow = Field(default_factory=CallingWindow)
    callback_horizon: timedelta = Field(
        default=timedelta(days=14), le=timedelta(days=366), description="How far ahead a callback may be booked"
    )
    max_callbacks: int = Field(
        default=5, ge=0, le=50, description="Callbacks one contact may book; a person who always says 'later' ends"
    )
    ring_timeout: timedelta = Field(
        default=timedelta(seconds=30), le=timedelta(minutes=10), description="Unanswered after this long"
    )
    causes: CauseRules = Field(
        default_factory=CauseRules, description="Which network results are final, person or network retries"
    )
    breaker: CircuitBreaker = Field(default_factory=CircuitBreaker)
    pre_call_lookup: PreCallLookup | None = Field(default=None, description="An HTTP lookup before each dial")
    caller_id_pool: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The organization's caller-ID pool whose numbers this campaign's calls show (local presence, "
        "daily caps, quarantine: docs/campaign-safety.md); None: the carrier's own number",
    )

    @field_validator("callback_horizon")
    @classmethod
    def _horizon(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("callback_horizon must be positive")
        return value
