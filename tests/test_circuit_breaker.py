"""A campaign's circuit breaker: a dead trunk pauses the campaign instead of burning its list (issue 15)."""

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from workflow_helpers import FlakyTrunk, contact, eventually, new_campaign_id, seed, settings, start_campaign

from schemas.calls import outbound_call_id
from schemas.campaign import CircuitBreaker
from schemas.causes import CauseClass, CauseRules, NetworkRetry
from schemas.outcomes import FinalOutcome
from schemas.workflow_io import BreakerState, CampaignStatus, DialReport
from simulator.carrier import SimCarrier
from store import queries
from store import webhooks as store_webhooks
from store.models import DEFAULT_ORG_ID, CampaignRow, WebhookEventRow
from workflows import breaker
from workflows.campaign import CampaignWorkflow

T0 = datetime(2026, 11, 30, 10, tzinfo=UTC)
FAST_NETWORK_RETRIES = settings(
    max_concurrent_calls=3,
    calls_per_second=20,
    causes=CauseRules(network_retry=NetworkRetry(initial_delay=timedelta(seconds=1))),
)
"""Network failures retried within a second, so a resumed campaign finishes while the test waits."""
N, P, A = CauseClass.NETWORK_RETRY, CauseClass.PERSON_RETRY, CauseClass.ANSWERED


def feed(state: BreakerState, rules: CircuitBreaker, causes: list[CauseClass], *, every=timedelta(seconds=1)):
    """Record one dial per cause, ``every`` apart; the first trip, if any, with the dial that made it."""
    for index, cause in enumerate(causes):
        trip = breaker.record_dial(state, rules, DialReport(attempt_key=f"k{index}", cause=cause), T0 + index * every)
        if trip is not None:
            return index + 1, trip
    return None


def test_half_of_ten_dials_failing_on_the_network_trips_it_and_names_them() -> None:
    found = feed(BreakerState(), CircuitBreaker(), [A, N, P, N, A, N, P, N, A, N])
    assert found is not None
    dials, trip = found
    assert dials == 10
    assert trip.reason.startswith("circuit breaker: 5 of the last 10 dials failed on the network within 2 min")
    assert trip.attempt_keys == ["k1", "k3", "k5", "k7", "k9"]


def test_fewer_than_the_minimum_dials_or_under_the_ratio_never_trips() -> None:
    assert feed(BreakerState(), CircuitBreaker(), [N] * 9) is None
    assert feed(BreakerState(), CircuitBreaker(), [N, A, A, N, P, A, N, A, A, N, A, A] * 5) is None  # 4 in 12


def test_failures_older_than_the_window_are_forgotten() -> None:
    state = BreakerState()
    assert feed(state, CircuitBreaker(), [N] * 8) is None  # under the minimum of ten dials
    later = T0 + timedelta(minutes=5)
    for index in range(2):  # eight failures and two more dials, but not within two minutes of each other
        report = DialReport(attempt_key=f"late{index}", cause=A)
        assert breaker.record_dial(state, CircuitBreaker(), report, later) is None
    assert [dial.attempt_key for dial in state.recent] == ["late0", "late1"]


def test_an_answer_rate_collapsing_against_the_campaigns_own_baseline_trips_it() -> None:
    rules = CircuitBreaker(baseline_dials=20, recent_dials=20, answer_rate_fraction=0.25)
    state = BreakerState()
    assert feed(state, rules, [A, P] * 10) is None  # baseline: half answered
    found = feed(state, rules, [P] * 19 + [A])  # then one in twenty: under a quarter of a half
    assert found is not None
    assert found[1].reason.startswith("circuit breaker: 5% of the last 20 dials were answered, against 50%")


def test_a_steady_answer_rate_or_a_disabled_breaker_never_trips() -> None:
    rules = CircuitBreaker(baseline_dials=20, recent_dials=20)
    assert feed(BreakerState(), rules, [A, P, P, P] * 30) is None
    assert feed(BreakerState(), CircuitBreaker(enabled=False), [N] * 50) is None


def test_resuming_judges_only_what_comes_next_and_keeps_the_baseline() -> None:
    state = BreakerState()
    assert feed(state, CircuitBreaker(), [N] * 10) is not None
    breaker.reset_window(state)
    assert state.recent == [] and state.answers == []
    assert feed(state, CircuitBreaker(), [N] * 9) is None


def test_its_memory_is_bounded_whatever_the_rate() -> None:
    state = BreakerState()
    feed(state, CircuitBreaker(enabled=False), [A] * (breaker.MAX_RECENT + 500), every=timedelta(milliseconds=10))
    assert len(state.recent) == breaker.MAX_RECENT
    assert len(state.answers) == CircuitBreaker().recent_dials


async def test_a_trip_is_a_campaign_tripped_event_naming_its_reason_and_calls(session_factory) -> None:
    campaign_id = new_campaign_id()
    await seed(session_factory, campaign_id, [contact(1, "answers")], settings())
    async with session_factory() as session:
        await store_webhooks.create_endpoint(session, DEFAULT_ORG_ID, "https://hooks.example.com/", ["*"])
        await queries.begin_attempt(session, "key-1", campaign_id, "p0001", 1, "sim")
        await queries.set_campaign_status(
            session, campaign_id, CampaignStatus.PAUSED, pause_reason="circuit breaker: 10 of 10", tripped_by=["key-1"]
        )
        await store_webhooks.campaign_status_event(session, campaign_id, "running", CampaignStatus.PAUSED, tripped=True)
        await session.commit()
        [event] = (
            await session.scalars(select(WebhookEventRow).where(WebhookEventRow.type == "campaign.tripped"))
        ).all()
    data = event.payload["data"]
    assert data["pause_reason"] == "circuit breaker: 10 of 10"
    assert data["tripped_by"] == [f"/v1/calls/{outbound_call_id(campaign_id, 'p0001', 1)}"]


async def test_a_dead_trunk_trips_the_campaign_within_the_window_instead_of_burning_its_list(
    dev_env, run_worker, session_factory
):
    campaign_id = new_campaign_id()
    people = [contact(i, "answers") for i in range(60)]
    campaign = FAST_NETWORK_RETRIES
    await seed(session_factory, campaign_id, people, campaign)
    carrier = SimCarrier(time_scale=0.0, fault="trunk_down")
    async with run_worker(carrier, dev_env) as tq:
        handle = await start_campaign(dev_env.client, tq, campaign_id, campaign)
        paused = await eventually(lambda: _progress_when(handle, lambda p: p.status == CampaignStatus.PAUSED))
        assert paused.pause_reason.startswith("circuit breaker: ")
        row = await eventually(lambda: _stored_pause(session_factory, campaign_id))
        assert row.pause_reason == paused.pause_reason and 1 <= len(row.tripped_by or []) <= breaker.NAMED_ATTEMPTS
        await asyncio.sleep(1.5)  # contacts' network retries come due: a paused campaign grants them no slot
        dialled_when_tripped = len(carrier.dials)
        assert dialled_when_tripped < 10 + 2 * campaign.max_concurrent_calls, "the list burned on"
        await asyncio.sleep(1.0)
        assert len(carrier.dials) == dialled_when_tripped, "a tripped campaign dialled"

        carrier.fault = ""  # the trunk is back; resuming is by hand
        await handle.signal(CampaignWorkflow.resume)
        result = await handle.result()
    assert result.progress.finished == 60 and result.progress.pause_reason == ""
    async with session_factory() as session:
        assert await queries.outcome_counts(session, campaign_id) == {FinalOutcome.COMPLETED: 60}
        row = await session.get(CampaignRow, campaign_id, populate_existing=True)
    assert row is not None and (row.pause_reason, row.tripped_by) == ("", None)


async def test_network_failures_under_the_threshold_never_pause_the_campaign(dev_env, run_worker, session_factory):
    campaign_id = new_campaign_id()
    people = [contact(i, "answers") for i in range(30)]
    campaign = FAST_NETWORK_RETRIES
    await seed(session_factory, campaign_id, people, campaign)
    carrier = FlakyTrunk(failing=lambda dial: dial % 5 == 1)  # one dial in five: 20%, never half of ten
    async with run_worker(carrier, dev_env) as tq:
        result = await (await start_campaign(dev_env.client, tq, campaign_id, campaign)).result()
    assert result.progress.status == CampaignStatus.COMPLETED
    assert len(carrier.dials) > 30  # some were network retries
    async with session_factory() as session:
        assert await queries.outcome_counts(session, campaign_id) == {FinalOutcome.COMPLETED: 30}


async def _progress_when(handle, check):
    progress = await handle.query(CampaignWorkflow.progress)
    return progress if check(progress) else None


async def _stored_pause(sessions, campaign_id: str) -> CampaignRow | None:
    async with sessions() as session:
        row = await session.get(CampaignRow, campaign_id, populate_existing=True)
    return row if row is not None and row.pause_reason else None
