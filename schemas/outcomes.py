"""What a call attempt, and finally a contact, came to."""

from enum import StrEnum


class CallOutcome(StrEnum):
    COMPLETED = "completed"
    QUALIFIED = "qualified"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    VOICEMAIL = "voicemail"
    CALLBACK_REQUESTED = "callback_requested"
    NOT_INTERESTED = "not_interested"
    INVALID_NUMBER = "invalid_number"
    DO_NOT_CALL = "do_not_call"


class FinalOutcome(StrEnum):
    """How a contact's whole journey ended (a superset of the terminal call outcomes)."""

    COMPLETED = "completed"
    QUALIFIED = "qualified"
    NOT_INTERESTED = "not_interested"
    INVALID_NUMBER = "invalid_number"
    DO_NOT_CALL = "do_not_call"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"
    CALLBACK_EXPIRED = "callback_expired"


TERMINAL_CALL_OUTCOMES: frozenset[CallOutcome] = frozenset(
    {
        CallOutcome.COMPLETED,
        CallOutcome.QUALIFIED,
        CallOutcome.NOT_INTERESTED,
        CallOutcome.INVALID_NUMBER,
        CallOutcome.DO_NOT_CALL,
    }
)

DEFAULT_RETRY_OUTCOMES: frozenset[CallOutcome] = frozenset(
    {CallOutcome.NO_ANSWER, CallOutcome.BUSY, CallOutcome.FAILED, CallOutcome.VOICEMAIL}
)
