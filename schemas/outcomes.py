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
    WRONG_PERSON = "wrong_person"


class FinalOutcome(StrEnum):
    """How a contact's whole journey ended (a superset of the terminal call outcomes)."""

    COMPLETED = "completed"
    QUALIFIED = "qualified"
    NOT_INTERESTED = "not_interested"
    INVALID_NUMBER = "invalid_number"
    DO_NOT_CALL = "do_not_call"
    WRONG_PERSON = "wrong_person"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"
    CALLBACK_EXPIRED = "callback_expired"
    NO_CALLING_HOURS = "no_calling_hours"
    """No moment is inside calling hours in every zone the number may ring in: give it a time zone."""
    SKIPPED = "skipped"
    """The campaign's pre-call lookup said not to call this person; its reason is the final reason."""


NETWORK_OUTCOMES: frozenset[CallOutcome] = frozenset(
    {
        CallOutcome.COMPLETED,
        CallOutcome.VOICEMAIL,
        CallOutcome.NO_ANSWER,
        CallOutcome.BUSY,
        CallOutcome.FAILED,
        CallOutcome.INVALID_NUMBER,
    }
)
"""What a carrier may report: facts of the network. ``COMPLETED`` means "connected, no disposition";
what the conversation came to is the agent's disposition, never the carrier's.
The dial activity adds ``DO_NOT_CALL`` for a number it refused to dial (a compliance decision)."""

TERMINAL_CALL_OUTCOMES: frozenset[CallOutcome] = frozenset(
    {
        CallOutcome.COMPLETED,
        CallOutcome.QUALIFIED,
        CallOutcome.NOT_INTERESTED,
        CallOutcome.INVALID_NUMBER,
        CallOutcome.DO_NOT_CALL,
        CallOutcome.WRONG_PERSON,
    }
)

DEFAULT_RETRY_OUTCOMES: frozenset[CallOutcome] = frozenset(
    {CallOutcome.NO_ANSWER, CallOutcome.BUSY, CallOutcome.FAILED, CallOutcome.VOICEMAIL}
)
