"""How closely campaigns keep their calls_per_second, measured where calls leave: the sim carrier.

    python bench/dial_pacing.py

For each rate, a campaign of ``answers`` contacts lasting about 6 s at that rate (50 concurrent calls,
sim time_scale 0.01 so a call takes ~0.1 s) runs on the dev server. From the dial start times:
achieved CPS = (n - 1) / (last - first), its ratio to the configured rate, the busiest sliding
1-second window [s, s + 1) over dial starts s, and how many such windows hold more dials than the
configured rate. Prints figures only; the last line is
``pacing_min_ratio <lowest ratio> over_limit_windows <total>``.
"""

import asyncio
from bisect import bisect_left
from dataclasses import dataclass

from _stack import campaign_settings, contacts, run_campaign, stack

from simulator.carrier import SimCarrier

RATES = (1, 5, 20)
SECONDS_PER_CAMPAIGN = 6
MAX_CONCURRENT_CALLS = 50
TIME_SCALE = 0.01


@dataclass
class Pacing:
    cps: int
    dials: int
    seconds: float
    achieved: float
    busiest_window: int
    over_limit: int

    @property
    def ratio(self) -> float:
        return self.achieved / self.cps


def pacing(cps: int, starts: list[float], seconds: float) -> Pacing:
    starts = sorted(starts)
    span = starts[-1] - starts[0]
    achieved = (len(starts) - 1) / span if span > 0 else float("inf")
    # Dials in [s, s + 1) for each dial start s.
    windows = [bisect_left(starts, s + 1.0) - i for i, s in enumerate(starts)]
    return Pacing(
        cps=cps,
        dials=len(starts),
        seconds=seconds,
        achieved=achieved,
        busiest_window=max(windows),
        over_limit=sum(1 for count in windows if count > cps),
    )


async def measure() -> None:
    carrier = SimCarrier(time_scale=TIME_SCALE)
    results: list[Pacing] = []
    async with stack(carrier) as s:
        for cps in RATES:
            settings = campaign_settings(max_concurrent_calls=MAX_CONCURRENT_CALLS, calls_per_second=cps)
            people = contacts(max(SECONDS_PER_CAMPAIGN, SECONDS_PER_CAMPAIGN * cps), "answers")
            run = await run_campaign(s, settings, people)
            starts = [d.started_monotonic for d in carrier.dials if d.campaign_id == run.campaign_id]
            results.append(pacing(cps, starts, run.seconds))
    print(f"{'cps':>4} {'dials':>6} {'campaign_s':>10} {'achieved':>9} {'ratio':>6} {'busiest_1s':>10} over_limit")
    for r in results:
        print(
            f"{r.cps:>4} {r.dials:>6} {r.seconds:>10.2f} {r.achieved:>9.3f} {r.ratio:>6.3f}"
            f" {r.busiest_window:>10} {r.over_limit:>10}"
        )
    lowest = min(r.ratio for r in results)
    print(f"pacing_min_ratio {lowest:.3f} over_limit_windows {sum(r.over_limit for r in results)}")


if __name__ == "__main__":
    asyncio.run(measure())
