"""Campaign throughput against the floor of bare workflows, on the dev server with instant sim calls.

    python bench/campaign_throughput.py [N]      # N contacts, default 1000

The campaign: N ``answers`` contacts, all-day window, 200 concurrent calls, 100 calls/s (the most
settings allow, so it can never pass 100 contacts/s). The floor: N ``BareWorkflow`` runs (one echo
activity and a 1 ms timer, see ``_floor.py``) started concurrently by the client (at most 200
starts in flight) on a worker configured like the ringflow one. Both are timed from the first
start to the last result, after a small warm-up of each. Prints figures only; the last line is
``throughput_ratio <campaign rate / floor rate>``.
"""

import asyncio
import sys

from _floor import floor_worker, run_floor
from _stack import CampaignRun, Stack, campaign_settings, contacts, run_campaign, stack

from simulator.carrier import SimCarrier

MAX_CONCURRENT_CALLS = 200
CALLS_PER_SECOND = 100.0
WARMUP = 20


async def measure(count: int) -> None:
    carrier = SimCarrier(time_scale=0.0)
    settings = campaign_settings(max_concurrent_calls=MAX_CONCURRENT_CALLS, calls_per_second=CALLS_PER_SECOND)
    async with stack(carrier) as s:
        bare_queue = f"{s.task_queue}-bare"
        async with floor_worker(s.client, bare_queue):
            # Warm both paths (sandbox imports, connections) so neither measurement pays for it.
            await run_campaign(s, settings, contacts(WARMUP, "answers"))
            await run_floor(s.client, bare_queue, WARMUP)

            run = await run_campaign(s, settings, contacts(count, "answers"))
            floor_seconds = await run_floor(s.client, bare_queue, count)
        report(s, carrier, count, run, floor_seconds)


def report(s: Stack, carrier: SimCarrier, count: int, run: CampaignRun, floor_seconds: float) -> None:
    seconds, started = run.seconds, run.started
    campaign_rate = count / seconds
    floor_rate = count / floor_seconds
    dials = sorted(d.started_monotonic for d in carrier.dials if d.campaign_id == run.campaign_id)
    print(f"contacts {count}")
    print(f"database {s.database_url.split(':', 1)[0]}")
    print(f"campaign_seconds {seconds:.2f}")
    if len(dials) > 1:
        span = dials[-1] - dials[0]
        print(f"campaign_first_dial_after_seconds {dials[0] - started:.2f}")
        print(f"campaign_dial_span_seconds {span:.2f} (dial rate {(len(dials) - 1) / span:.1f}/s)")
        print(f"campaign_after_last_dial_seconds {started + seconds - dials[-1]:.2f}")
    print(f"pacer_ceiling {CALLS_PER_SECOND:.0f} contacts/s (calls_per_second)")
    print(f"floor_seconds {floor_seconds:.2f}")
    print(f"campaign_rate {campaign_rate:.1f}")
    print(f"floor_rate {floor_rate:.1f}")
    print(f"campaign_vs_ceiling {campaign_rate / CALLS_PER_SECOND:.2f}")
    print(f"throughput_ratio {campaign_rate / floor_rate:.2f}")


if __name__ == "__main__":
    asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
