"""What every carrier offers the dial activity, and the pacing applied just before a call leaves."""

import asyncio
import threading
import time
from typing import Protocol, runtime_checkable

from schemas.calls import DialRequest, DialResult

CALL_LOST_DETAIL = "call lost: the dialling process stopped before it ended"


@runtime_checkable
class Carrier(Protocol):
    """Places calls. One implementation per telephony provider (``sim`` now; SIP and Twilio later).

    The dial activity calls ``dial`` on its first attempt and ``recover`` on every retry, because a
    retried activity cannot know whether the previous attempt's call reached the network: dialling
    again could ring the same person twice, which is the one thing a dialler must never do.
    """

    name: str

    async def dial(self, request: DialRequest) -> DialResult:
        """Place the call and return once it has ended.

        The caller guarantees at most one ``dial`` per ``request.idempotency_key``.
        """
        ...

    async def recover(self, request: DialRequest) -> DialResult:
        """Find out what became of a call a previous activity attempt started, without dialling again.

        That attempt's process may have died mid-call. A carrier that cannot find the call returns
        outcome ``FAILED`` with detail :data:`CALL_LOST_DETAIL`, so the contact's retry policy decides.
        """
        ...


class DialPacer:
    """Spaces call starts per campaign to exactly ``1 / calls_per_second`` within this process.

    The campaign workflow already hands out dial grants at the campaign's rate, but each grant
    then travels through a workflow task, an activity schedule and a worker's poll, and each hop
    adds tens of milliseconds of jitter. Grants issued 50 ms apart can therefore reach the
    carrier 5 ms apart, and carriers count bursts per second. This pacer is the last hop before
    the carrier, so it restores the exact spacing; the workflow keeps the global budget.

    Each caller reserves its slot under a short lock and then sleeps outside it, so a thousand
    waiting callers hold no lock and cost one timer each. The lock is a ``threading.Lock`` rather
    than an ``asyncio.Lock`` because the critical section never awaits, and it then stays correct
    if workers in several threads or event loops share one pacer.

    A caller cancelled while waiting keeps its reserved slot: later callers stay spaced from it,
    which can only make the spacing wider, never narrower.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_grant: dict[str, float] = {}

    async def wait_turn(self, campaign_id: str, calls_per_second: float) -> float:
        """Wait until this caller may dial; return that moment on the ``time.monotonic`` clock.

        The turn is ``max(now, previous grant + 1 / calls_per_second)``: measured from the
        previous *granted* time, not from when the previous caller happened to wake up, so no
        two grants for one campaign are ever closer than ``1 / calls_per_second``.
        """
        if calls_per_second <= 0:
            raise ValueError("calls_per_second must be positive")
        interval = 1.0 / calls_per_second
        with self._lock:
            now = time.monotonic()
            previous = self._last_grant.get(campaign_id)
            turn = now if previous is None else max(now, previous + interval)
            self._last_grant[campaign_id] = turn
        delay = turn - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return turn
