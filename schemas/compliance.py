"""The calling-hours policy: the legal floor by region, an organization's own rules and caps, and the
record of every dial decision made under it.

The floor is a table of :class:`HoursRule` by region (ISO country, or country-subdivision such as
``US-FL``); the most specific rule for a contact's region applies. An organization extends the table
with rules of its own. A rule that narrows the floor needs nothing; one that widens it is an override
and must state its legal basis, which every dial made under it records (see docs/compliance.md).
"""

from datetime import datetime, time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.campaign import LocalTime
from schemas.contact import NumberRules

ALL_DAYS = frozenset(range(7))
MIDNIGHT = time(0)
ANY_REGION = "*"


class HoursRule(BaseModel):
    """Local hours, in the called person's zone, when a dial may start in ``region``; ``end`` is exclusive
    and an ``end`` of 00:00 means midnight, the end of the day (``00:00-00:00`` is the whole day)."""

    model_config = ConfigDict(extra="forbid")

    region: str = Field(pattern=r"^(\*|[A-Z]{2}(-[A-Z0-9]{1,3})?)$", description="'*', 'US' or 'US-FL'")
    start: LocalTime
    end: LocalTime
    weekdays: frozenset[int] = Field(default=ALL_DAYS, description="0 (Monday) to 6 (Sunday)")
    max_attempts_per_24h: int | None = Field(
        default=None, ge=1, le=100, description="Dials to one number in any 24 hours, counting every campaign"
    )
    legal_basis: str = Field(
        default="", max_length=500, description="Why this rule may widen the legal floor (required if it does)"
    )
    source: str = Field(default="", max_length=200, description="The law or decision the rule comes from")

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("rule hours are local to each callee: give them without a zone")
        return value

    @model_validator(mode="after")
    def _daytime(self) -> "HoursRule":
        if self.end <= self.start and self.end != MIDNIGHT:
            raise ValueError(f"{self.region}: the rule's end must be after its start, on the same day")
        if not self.weekdays or not self.weekdays <= ALL_DAYS:
            raise ValueError(f"{self.region}: weekdays are 0 (Monday) to 6 (Sunday), at least one")
        return self

    def describe(self) -> str:
        text = f"{self.region} {self.start:%H:%M}-{self.end:%H:%M}"
        if self.weekdays != ALL_DAYS:
            text += " days " + ",".join(str(day) for day in sorted(self.weekdays))
        return text

    def widens(self, floor: "HoursRule") -> bool:
        """Whether this rule allows a moment, or an attempt, that ``floor`` does not."""
        if self.start < floor.start or _end(self) > _end(floor) or not self.weekdays <= floor.weekdays:
            return True
        if floor.max_attempts_per_24h is None:
            return False
        return self.max_attempts_per_24h is None or self.max_attempts_per_24h > floor.max_attempts_per_24h


LEGAL_FLOOR: tuple[HoursRule, ...] = (
    HoursRule(region=ANY_REGION, start=time(8), end=time(21), source="Ringflow default: 08:00-21:00 local"),
    HoursRule(region="US", start=time(8), end=time(21), source="47 CFR 64.1200(c)(1) (TCPA)"),
    *(
        HoursRule(region=region, start=time(8), end=time(20), max_attempts_per_24h=3, source=law)
        for region, law in (
            ("US-FL", "Florida Telephone Solicitation Act, Fla. Stat. 501.059(8)"),
            ("US-OK", "Oklahoma Telephone Solicitation Act of 2022"),
            ("US-MD", "Maryland Stop the Spam Calls Act of 2023"),
        )
    ),
)
"""The floor every organization starts from; ``*`` applies where no country or region rule does."""


def rule_in(rules: "list[HoursRule] | tuple[HoursRule, ...]", region: str) -> HoursRule | None:
    """The most specific rule for ``region`` (``US-FL``, then ``US``, then ``*``) among ``rules``."""
    by_region = {rule.region: rule for rule in rules}
    country = region.split("-")[0] if region else ""
    for key in (region, country, ANY_REGION):
        if key and key in by_region:
            return by_region[key]
    return None


class CallingPolicy(BaseModel):
    """An organization's calling policy: its own rules on top of the legal floor, and its attempt caps."""

    model_config = ConfigDict(extra="forbid")

    rules: list[HoursRule] = Field(
        default_factory=list, description="Added to the legal floor; a rule for a region the floor has replaces it"
    )
    max_attempts_per_24h: int | None = Field(
        default=None, ge=1, le=100, description="Dials to one number in any 24 hours, across all campaigns"
    )
    max_attempts_per_7d: int | None = Field(
        default=None, ge=1, le=500, description="Dials to one number in any 7 days, across all campaigns"
    )
    numbers: NumberRules = Field(
        default_factory=NumberRules,
        description="Which numbers may be imported to dial: vanity and toll-free numbers are refused unless allowed",
    )

    @field_validator("rules")
    @classmethod
    def _overrides_say_why(cls, rules: list[HoursRule]) -> list[HoursRule]:
        regions = [rule.region for rule in rules]
        if len(set(regions)) != len(regions):
            raise ValueError("each region may have one rule")
        for rule in rules:
            floor = rule_in(LEGAL_FLOOR, rule.region)
            if floor is not None and rule.widens(floor) and not rule.legal_basis.strip():
                raise ValueError(
                    f"the rule for {rule.region} allows more than the legal floor ({floor.describe()}, "
                    f"{floor.source}): give its legal_basis to override it"
                )
        return rules

    def rule_for(self, region: str) -> HoursRule:
        """The rule that applies to a callee in ``region``: the organization's most specific one, else the floor's.

        An organization rule for ``US`` does not loosen ``US-FL``: a more specific floor rule still wins
        over a less specific organization rule.
        """
        own, floor = rule_in(self.rules, region), rule_in(LEGAL_FLOOR, region)
        assert floor is not None  # the floor has '*'
        if own is None:
            return floor
        return own if _specificity(own.region) >= _specificity(floor.region) else floor

    def caps_for(self, rule: HoursRule) -> tuple[int | None, int | None]:
        """(per 24 hours, per 7 days): the stricter of the rule's and the organization's."""
        caps = [cap for cap in (rule.max_attempts_per_24h, self.max_attempts_per_24h) if cap is not None]
        return (min(caps) if caps else None), self.max_attempts_per_7d


def any_hour_policy(legal_basis: str) -> CallingPolicy:
    """A policy that overrides every rule of the floor with the whole day and no cap, stating why: for
    an organization whose calls reach nobody's phone (the demo's simulated callees, tests)."""
    return CallingPolicy(
        rules=[
            HoursRule(region=rule.region, start=MIDNIGHT, end=MIDNIGHT, legal_basis=legal_basis) for rule in LEGAL_FLOOR
        ]
    )


def _end(rule: HoursRule) -> tuple[int, time]:
    """The rule's end, ordered so that midnight comes after every other time of the day."""
    return (1, rule.end) if rule.end == MIDNIGHT else (0, rule.end)


def _specificity(region: str) -> int:
    return 0 if region == ANY_REGION else 2 if "-" in region else 1


class DialVerdict(StrEnum):
    DIAL = "dial"
    WAIT = "wait"
    SKIP = "skip"


class SkipCause(StrEnum):
    """Why a skip ends the contact: each is a final outcome of its own."""

    DO_NOT_CALL = "do_not_call"
    NO_CALLING_HOURS = "no_calling_hours"
    LOOKUP = "lookup"
    """The campaign's pre-call lookup said not to call this contact."""


class DialFacts(BaseModel):
    """What the store knows just before a dial: read by one activity, judged by the workflow."""

    checked_at: datetime = Field(description="When the do-not-call list and the attempt counts were read")
    on_do_not_call: bool = False
    do_not_call_source: str = ""
    recent_attempts: list[datetime] = Field(
        default_factory=list, description="When this number was dialled in the last 7 days, by any campaign"
    )
    policy: CallingPolicy = Field(default_factory=CallingPolicy, description="The organization's policy now")


class DialDecision(BaseModel):
    """Why a dial was allowed, delayed or skipped: the audit record of one decision."""

    verdict: DialVerdict
    skip_cause: SkipCause | None = Field(
        default=None, description="For a skip: the number is listed, or never callable"
    )
    decided_at: datetime
    not_before: datetime | None = Field(default=None, description="For a wait: the first moment the dial may go")
    reason: str
    zones: list[str]
    local_times: dict[str, str] = Field(default_factory=dict, description="Zone -> local wall time at decided_at")
    rule: str = Field(default="", description="The hours rule that applied, e.g. 'US-FL 08:00-20:00'")
    window: str = Field(default="", description="The campaign's own window, which narrows the rule")
    legal_basis: str = Field(default="", description="Set when the rule is an organization's override")
    do_not_call_checked_at: datetime | None = None
    attempts_24h: int | None = None
    attempts_7d: int | None = None
