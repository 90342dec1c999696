"""DialPacer: the exact per-campaign spacing of call starts within one worker process.

Only lower bounds on time are asserted (the pacer guarantees them); upper bounds would flake on a
loaded machine.
"""

import asyncio
import itertools
import time

import pytest

from telephony.base import DialPacer

EPSILON = 1e-9


async def _turn(pacer: DialPacer, campaign_id: str, cps: float) -> tuple[float, float]:
    granted = await pacer.wait_turn(campaign_id, cps)
    return granted, time.monotonic()


async def test_concurrent_callers_are_spaced_by_the_rate() -> None:
    pacer, cps, callers = DialPacer(), 20.0, 21
    started = time.monotonic()

    turns = await asyncio.gather(*(_turn(pacer, "camp", cps) for _ in range(callers)))

    grants = sorted(granted for granted, _ in turns)
    gaps = [later - earlier for earlier, later in itertools.pairwise(grants)]
    assert min(gaps) >= 1 / cps - EPSILON
    assert all(woke >= granted for granted, woke in turns), "nobody may dial before their turn"
    # Never faster than the rate; how close it comes to the rate is a figure for bench/dial_pacing.py.
    assert (callers - 1) / (grants[-1] - grants[0]) <= cps + EPSILON
    assert time.monotonic() - started >= (callers - 1) / cps - EPSILON


async def test_campaigns_do_not_wait_for_each_other() -> None:
    pacer = DialPacer()
    backlog = [asyncio.create_task(pacer.wait_turn("slow", 1.0)) for _ in range(10)]
    await asyncio.sleep(0)  # every backlog task has now reserved a slot, the last 9 s away
    try:
        before = time.monotonic()
        granted = await asyncio.wait_for(pacer.wait_turn("fast", 20.0), timeout=2)
        assert granted < before + 1.0, "the fast campaign was queued behind the slow one"
    finally:
        for task in backlog:
            task.cancel()
        await asyncio.gather(*backlog, return_exceptions=True)


async def test_concurrent_campaigns_each_keep_their_own_spacing() -> None:
    pacer, cps = DialPacer(), 20.0

    turns = await asyncio.gather(*(_turn(pacer, campaign, cps) for _ in range(8) for campaign in ("a", "b")))

    per_campaign = {"a": sorted(g for g, _ in turns[0::2]), "b": sorted(g for g, _ in turns[1::2])}
    for grants in per_campaign.values():
        assert min(b - a for a, b in itertools.pairwise(grants)) >= 1 / cps - EPSILON
    # Interleaved in time: the two campaigns ran side by side, not one after the other.
    assert max(g[0] for g in per_campaign.values()) < min(g[-1] for g in per_campaign.values())


async def test_a_cancelled_waiter_never_lets_the_next_caller_closer() -> None:
    pacer, cps = DialPacer(), 10.0
    first = await pacer.wait_turn("camp", cps)
    waiter = asyncio.create_task(pacer.wait_turn("camp", cps))
    await asyncio.sleep(0)  # it waits for first + 0.1 s
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter

    third = await pacer.wait_turn("camp", cps)

    assert third >= first + 1 / cps - EPSILON


async def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        await DialPacer().wait_turn("camp", 0)
