"""The campaign's lookahead when contacts park for their calling window (time-skipping server).

The campaign starts at most a lookahead of contacts that still need it (waiting to start, for a slot,
or in a call). A contact sleeping until its window opens needs nothing until then, so it must not hold
a place: a campaign started at night would otherwise dial nobody until its first contacts' morning.
"""

from datetime import time, timedelta

from conftest import server_clock
from workflow_helpers import (
    contact,
    eventually,
    new_campaign_id,
    seed,
    settings,
    start_campaign,
    zone_where_it_is,
)

from schemas.campaign import ALL_WEEKDAYS, CallingWindow
from schemas.outcomes import FinalOutcome
from schemas.workflow_io import ReasonInput
from simulator.carrier import SimCarrier
from store import queries
from workflows.campaign import CampaignWorkflow
from workflows.scheduling import next_dial_time

NINE_TO_FIVE = CallingWindow(start=time(9), end=time(17), weekdays=frozenset(ALL_WEEKDAYS))
LOOKAHEAD = 50  # max(2 * max_concurrent_calls, 50) with the helpers' 10 concurrent calls


async def test_contacts_whose_window_is_open_are_dialled_while_the_first_ones_sleep(
    time_env, run_worker, session_factory
):
    now = await time_env.get_current_time()
    asleep, awake = zone_where_it_is(3, now), zone_where_it_is(12, now)
    # More sleepers than the lookahead, all claimed first: they alone would fill it.
    sleepers = [contact(i, "answers", priority=1, timezone=asleep) for i in range(LOOKAHEAD + 10)]
    early_birds = [contact(i, "answers", timezone=awake) for i in range(LOOKAHEAD + 10, LOOKAHEAD + 15)]
    campaign_id = new_campaign_id()
    campaign = settings(window=NINE_TO_FIVE)
    await seed(session_factory, campaign_id, sleepers + early_birds, campaign)
    carrier = SimCarrier(time_scale=0.0, clock=server_clock)
    async with run_worker(carrier) as tq:
        result = await (await start_campaign(time_env.client, tq, campaign_id, campaign)).result()
    assert result.progress.finished == len(sleepers) + len(early_birds)
    async with session_factory() as session:
        assert await queries.outcome_counts(session, campaign_id) == {
            FinalOutcome.COMPLETED: len(sleepers) + len(early_birds)
        }
    dialled_at = {dial.external_id: dial.started_at for dial in carrier.dials}
    morning = next_dial_time(now, NINE_TO_FIVE, asleep)
    assert morning - now > timedelta(hours=5)
    assert all(dialled_at[p.external_id] < now + timedelta(minutes=5) for p in early_birds)
    assert all(dialled_at[p.external_id] >= morning for p in sleepers)


async def test_parked_contacts_free_no_more_than_their_cap(time_env, run_worker, session_factory):
    """With a cap of 5, the 60 sleepers fill the lookahead plus 5: the early birds behind them wait."""
    now = await time_env.get_current_time()
    asleep, awake = zone_where_it_is(3, now), zone_where_it_is(12, now)
    sleepers = [contact(i, "answers", priority=1, timezone=asleep) for i in range(LOOKAHEAD + 10)]
    early_birds = [contact(i, "answers", timezone=awake) for i in range(LOOKAHEAD + 10, LOOKAHEAD + 15)]
    campaign_id = new_campaign_id()
    campaign = settings(window=NINE_TO_FIVE)
    await seed(session_factory, campaign_id, sleepers + early_birds, campaign)
    carrier = SimCarrier(time_scale=0.0, clock=server_clock)
    async with run_worker(carrier) as tq:
        handle = await start_campaign(time_env.client, tq, campaign_id, campaign, max_parked_outside_lookahead=5)
        settled = await eventually(lambda: _parked_progress(handle, LOOKAHEAD + 5))
        await handle.signal(CampaignWorkflow.cancel, ReasonInput(reason="seen enough"))
        await handle.result()
    assert settled.started == LOOKAHEAD + 5
    assert carrier.dials == [], "the early birds were never reached while the sleepers held the places"


async def _parked_progress(handle, started: int):
    p = await handle.query(CampaignWorkflow.progress)
    return p if p.started >= started and p.waiting_window == p.started else None


async def test_contacts_waiting_for_a_slot_still_fill_the_lookahead(time_env, run_worker, session_factory):
    """In the daytime nobody parks: the campaign starts no more than the lookahead while one call runs."""
    campaign_id = new_campaign_id()
    people = [contact(i, "answers") for i in range(LOOKAHEAD + 10)]
    campaign = settings(max_concurrent_calls=1)  # the lookahead stays 50
    await seed(session_factory, campaign_id, people, campaign)
    carrier = SimCarrier(time_scale=0.3, clock=server_clock)  # each call takes about 3 s of real time
    async with run_worker(carrier) as tq:
        handle = await start_campaign(time_env.client, tq, campaign_id, campaign)
        settled = await eventually(lambda: _settled_progress(handle))
        await handle.signal(CampaignWorkflow.cancel, ReasonInput(reason="seen enough"))
        await handle.result()
    assert settled.started - settled.finished == LOOKAHEAD
    assert settled.waiting_slot == LOOKAHEAD - 1 and settled.in_call == 1


async def _settled_progress(handle):
    """The progress once every started, unfinished contact waits for a slot or is in a call."""
    p = await handle.query(CampaignWorkflow.progress)
    return p if p.started > 0 and p.waiting_slot + p.in_call == p.started - p.finished else None
