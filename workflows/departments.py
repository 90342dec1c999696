"""A department's business hours: open now, and when it next opens, in its own zone. Pure, for the workflows.

Hours are calling windows (``schemas.campaign.CallingWindow``) read in the department's zone, so the zone
and DST arithmetic is ``workflows.scheduling``'s, the same as a contact's calling hours.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from schemas.departments import Department, TransferResult
from workflows.scheduling import next_dial_time


def next_opening(department: Department, at: datetime) -> datetime:
    """``at`` itself when the department is open then, else the first moment any of its windows opens."""
    return min(next_dial_time(at, window, department.timezone) for window in department.hours)


def is_open(department: Department, at: datetime) -> bool:
    return next_opening(department, at) == at.astimezone(UTC)


def say_local(department: Department, at: datetime) -> str:
    """A time as the caller hears it: the department's local day and time, with its zone."""
    return at.astimezone(ZoneInfo(department.timezone)).strftime("%A %d %B at %H:%M %Z")


BUSY_CALLBACK_DELAY = timedelta(minutes=30)
"""After a transfer nobody answered while open: the callback comes no sooner than this."""


def callback_time(department: Department, now: datetime) -> datetime:
    """When to call back a caller the department could not take: closed, the moment it opens; open (nobody
    answered), half an hour on if it is still open then, else its next opening."""
    if is_open(department, now):
        return next_opening(department, now + BUSY_CALLBACK_DELAY)
    return next_opening(department, now)


def transferring_sentence(department: Department) -> str:
    return f"I'm transferring you to {department.name} now; please hold."


def unanswered_why(result: TransferResult) -> str:
    """Why a transfer did not go through, as the caller hears it."""
    return "not answering right now" if result == TransferResult.NO_ANSWER else "unreachable right now"


def callback_sentence(department: Department, why: str, at: datetime) -> str:
    return f"The {department.name} team is {why}. They will call you back on {say_local(department, at)}."


def message_sentence(department: Department, why: str) -> str:
    return f"The {department.name} team is {why}. I've taken a message, and the {department.name} team will get it."


def message_note(department: Department, reason: str) -> str:
    """The note a message fallback takes on the call, tagged with the department."""
    return f"[{department.name}] message: {reason or 'the caller asked for them'}"
