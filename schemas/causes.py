"""Why a dial ended as it did, as a class that decides what happens next: retries by cause.

A carrier reports raw facts (a SIP response code, Twilio's final status and error code, machine
detection's verdict). :func:`classify` turns them into one :class:`CauseClass`, in one place, for every
carrier, the simulator included:

- ``final``: the number itself is the problem (unallocated, invalid, a fax): it is never dialled again;
- ``person_retry``: the person did not take the call (busy, no answer, voicemail): the campaign's own
  backoff, and the attempt counts against the person's ``max_attempts``;
- ``network_retry``: the network or our own setup failed (5xx, 503, timeouts, rate limits, a trunk that
  refuses us): retried soon, never counted against the person, and counted by the campaign's breaker;
- ``answered``: someone picked up; what the call came to is the agent's disposition.

Codes are matched in this order: machine detection (only for an answered call), the SIP code, the
Twilio error code, the carrier's final status, then the network outcome. Each campaign may override any
code's class in its settings (``CampaignSettings.causes``); the defaults are below.
"""

from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from schemas.outcomes import CallOutcome


class CauseClass(StrEnum):
    FINAL = "final"
    PERSON_RETRY = "person_retry"
    NETWORK_RETRY = "network_retry"
    ANSWERED = "answered"


F, P, N, A = CauseClass.FINAL, CauseClass.PERSON_RETRY, CauseClass.NETWORK_RETRY, CauseClass.ANSWERED

SIP_CLASSES: dict[int, CauseClass] = {
    # The callee or their phone: the person may answer another time.
    408: P,  # Request Timeout: the ring timed out
    480: P,  # Temporarily Unavailable (ambiguous: set it to network_retry for a trunk that uses it so)
    486: P,  # Busy Here
    487: P,  # Request Terminated: the INVITE was cancelled while ringing
    600: P,  # Busy Everywhere
    603: P,  # Decline
    # The number: never again.
    404: F,  # Not Found
    410: F,  # Gone
    484: F,  # Address Incomplete
    485: F,  # Ambiguous
    604: F,  # Does Not Exist Anywhere
    # Our side or the carrier's: the trunk refuses us, or the network is failing or limiting us.
    401: N,
    403: N,
    407: N,
    429: N,
    488: N,  # Not Acceptable Here: no common codec, a setup problem
    503: N,
    504: N,
    606: N,  # Not Acceptable
}
"""SIP response codes with a class of their own; any other 5xx is ``network_retry``, any other 4xx or 6xx
``person_retry`` (see :func:`sip_class`)."""

TWILIO_ERROR_CLASSES: dict[int, CauseClass] = {
    13223: F,  # Dial: invalid phone number format
    13224: F,  # Dial: invalid phone number
    21211: F,  # Invalid 'To' phone number
    21214: F,  # 'To' phone number cannot be reached
    21217: F,  # Phone number does not appear to be valid
    21401: F,  # Invalid phone number
    21610: F,  # The number has opted out (STOP): honoured as final
    13227: N,  # No international authorization (geo permissions): a setup problem for every such dial
    20003: N,  # Authentication failed
    20429: N,  # Too many requests
    20500: N,  # Internal server error
    20503: N,  # Service unavailable
    21210: N,  # The caller id is not verified for the account
    21215: N,  # Geo permission for the called region is off
    31005: N,  # Connection error
    31009: N,  # Transport error
    32009: N,  # SIP trunk: the trunk refused the call
}
"""Twilio error codes (REST refusals, or a failed call's error) and their class."""

TWILIO_STATUS_CLASSES: dict[str, CauseClass] = {
    "busy": P,
    "no-answer": P,
    "failed": N,
    "canceled": N,
    "caller-id-unavailable": N,  # a caller-id pool with no number that may dial: nothing rang
}
"""A carrier's final call status (Twilio's statuses, which the sim carrier mirrors)."""

ANSWERED_BY_CLASSES: dict[str, CauseClass] = {
    "human": A,
    "unknown": A,
    "": A,
    "fax": F,
    "machine_start": P,
    "machine_end_beep": P,
    "machine_end_silence": P,
    "machine_end_other": P,
}
"""Machine detection's verdict on an answered call (Twilio's ``AnsweredBy``)."""

OUTCOME_CLASSES: dict[CallOutcome, CauseClass] = {
    CallOutcome.COMPLETED: A,
    CallOutcome.VOICEMAIL: P,
    CallOutcome.NO_ANSWER: P,
    CallOutcome.BUSY: P,
    CallOutcome.FAILED: N,
    CallOutcome.INVALID_NUMBER: F,
    CallOutcome.DO_NOT_CALL: F,
}
"""The last resort: the network outcome, when no code says more."""


class NetworkRetry(BaseModel):
    """How a dial that failed on the network is tried again: soon, and not as one of the person's tries."""

    initial_delay: timedelta = Field(default=timedelta(minutes=1), ge=timedelta(seconds=1), le=timedelta(hours=6))
    backoff_coefficient: float = Field(default=2.0, ge=1.0, le=10.0)
    max_delay: timedelta = Field(default=timedelta(minutes=15), ge=timedelta(seconds=1), le=timedelta(days=1))
    max_retries: int = Field(
        default=5, ge=0, le=50, description="Network failures in a row one contact may have before it ends unreachable"
    )

    def delay(self, failures: int) -> timedelta:
        """The wait after ``failures`` network failures in a row (1-based)."""
        seconds = self.initial_delay.total_seconds() * self.backoff_coefficient ** (failures - 1)
        return min(timedelta(seconds=seconds), self.max_delay)


class CauseRules(BaseModel):
    """A campaign's overrides of the default classes, and how network failures are retried."""

    sip: dict[int, CauseClass] = Field(default_factory=dict, description="SIP response code → class")
    twilio_error: dict[int, CauseClass] = Field(default_factory=dict, description="Twilio error code → class")
    status: dict[str, CauseClass] = Field(default_factory=dict, description="Carrier final status → class")
    answered_by: dict[str, CauseClass] = Field(default_factory=dict, description="Machine-detection verdict → class")
    network_retry: NetworkRetry = Field(default_factory=NetworkRetry)

    @field_validator("sip")
    @classmethod
    def _sip_codes(cls, value: dict[int, CauseClass]) -> dict[int, CauseClass]:
        wrong = sorted(code for code in value if not 300 <= code <= 699)
        if wrong:
            raise ValueError(f"not a SIP failure code (300-699): {', '.join(map(str, wrong))}")
        if any(cause == A for cause in value.values()):
            raise ValueError("a SIP failure code cannot mean answered")
        return value


def sip_class(code: int, rules: CauseRules | None = None) -> CauseClass:
    """The class of a SIP failure response: the campaign's, a known code's, else by the code's range."""
    if rules is not None and code in rules.sip:
        return rules.sip[code]
    if code in SIP_CLASSES:
        return SIP_CLASSES[code]
    return N if 500 <= code < 600 else P


def classify(
    *,
    outcome: CallOutcome,
    answered: bool = False,
    status_code: int | None = None,
    error_code: int | None = None,
    network_status: str = "",
    answered_by: str = "",
    rules: CauseRules | None = None,
) -> CauseClass:
    """The one place a dial's raw network facts become a class (see the module's docstring)."""
    rules = rules or CauseRules()
    if outcome == CallOutcome.DO_NOT_CALL:
        return F  # refused at the door by compliance: no code of the network applies
    if answered:
        verdict = answered_by.lower()
        return rules.answered_by.get(verdict) or ANSWERED_BY_CLASSES.get(verdict) or OUTCOME_CLASSES.get(outcome, A)
    if status_code is not None and status_code >= 300:
        return sip_class(status_code, rules)
    if error_code is not None:
        found = rules.twilio_error.get(error_code) or TWILIO_ERROR_CLASSES.get(error_code)
        if found is not None:
            return found
    if outcome == CallOutcome.INVALID_NUMBER:
        return F
    if network_status:
        found = rules.status.get(network_status) or TWILIO_STATUS_CLASSES.get(network_status)
        if found is not None:
            return found
    return OUTCOME_CLASSES.get(outcome, N)
