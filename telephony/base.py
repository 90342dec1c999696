"""What every carrier offers the dial activity, and the pacing applied just before a call leaves."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

from schemas.calls import DialRequest, DialResult
from schemas.outcomes import NETWORK_OUTCOMES, CallOutcome

CALL_LOST_DETAIL = "call lost: the dialling process stopped before it ended"

CallPlaced = Callable[[str], Awaitable[None]]
"""Told the carrier's id for a call the moment the network has it, so a retry can find that call."""


@runtime_checkable
class Carrier(Protocol):
    """Places calls. One implementation per telephony provider (``sim`` now; SIP and Twilio later).

    The dial activity calls ``dial`` on its first attempt and ``recover`` on every retry, because a
    retried activity cannot know whether the previous attempt's call reached the network: dialling
    again could ring the same person twice, which is the one thing a dialler must never do.
    """

    name: str

    async def dial(self, request: DialRequest, placed: CallPlaced | None = None) -> DialResult:
        """Place the call and return once it has ended.

        The caller guarantees at most one ``dial`` per ``request.idempotency_key``. A carrier whose
        calls are known by an id of the network's (Twilio's CallSid) awaits ``placed`` with it as soon
        as it has it; carriers that find their calls from the request alone need not.
        """
        ...

    async def recover(self, request: DialRequest, call_id: str = "") -> DialResult:
        """Find out what became of a call a previous activity attempt started, without dialling again.

        That attempt's process may have died mid-call. ``call_id`` is what it passed to ``placed``, if
        it got that far. A carrier that cannot find the call returns outcome ``FAILED`` with detail
        :data:`CALL_LOST_DETAIL`, so the contact's retry policy decides.
        """
        ...


class DialPacer:
    """Spaces call starts per campaign at least ``1 / calls_per_second`` apart within this process.

    The campaign workflow already hands out dial grants at the campaign's rate, but each grant
    then travels through a workflow task, an activity schedule and a worker's poll, and each hop
    adds tens of milliseconds of jitter. Grants issued 125 ms apart can therefore reach the
    carrier 5 ms apart, and carriers count bursts per second. This pacer is the last hop before
    the carrier, so it restores the spacing; the workflow keeps the global budget.

    Callers of one campaign queue on a lock and each is released no sooner than ``1 / cps`` after
    the previous caller's *actual* release (not its planned one): a sleep that wakes late then
    delays the next call instead of squeezing it closer. The caller must dial without awaiting
    anything else in between. A caller cancelled while waiting leaves no mark.
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_release: dict[str, float] = {}

    async def wait_turn(self, campaign_id: str, calls_per_second: float) -> float:
        """Wait until this caller may dial; return that moment on the ``time.monotonic`` clock."""
        if calls_per_second <= 0:
            raise ValueError("calls_per_second must be positive")
        interval = 1.0 / calls_per_second
        lock = self._locks.setdefault(campaign_id, asyncio.Lock())
        async with lock:
            previous = self._last_release.get(campaign_id)
            if previous is not None:
                delay = previous + interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            released = time.monotonic()
            self._last_release[campaign_id] = released
        return released


def dial_result(
    carrier: str,
    outcome: CallOutcome,
    dialled_at: datetime,
    *,
    answered: bool = False,
    duration: float = 0.0,
    call_id: str = "",
    detail: str = "",
    status: str = "",
    code: int | None = None,
    error_code: int | None = None,
    answered_by: str = "",
) -> DialResult:
    """The DialResult a network carrier reports, with the duration rounded to milliseconds.

    Network facts only: ``outcome`` is one of :data:`~schemas.outcomes.NETWORK_OUTCOMES`; ``status`` and
    ``code`` are the network's final status text and SIP code, ``error_code`` Twilio's; ``answered_by`` is
    machine detection's verdict ("unknown" for an answered call no detector looked at).
    """
    if outcome not in NETWORK_OUTCOMES:
        raise ValueError(f"a carrier reports network outcomes only, not {outcome.value!r}")
    return DialResult(
        outcome=outcome,
        answered=answered,
        dialled_at=dialled_at,
        duration_seconds=round(duration, 3),
        carrier=carrier,
        carrier_call_id=call_id,
        detail=detail,
        network_status=status,
        status_code=code,
        error_code=error_code,
        answered_by=answered_by or ("unknown" if answered else ""),
    )
