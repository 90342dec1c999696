"""CampaignWorkflow on the time-skipping server: pacing, steering, growth and continue-as-new."""

import asyncio
import itertools
from datetime import timedelta

import pytest
from conftest import server_clock
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from workflow_helpers import AGENT, contact, eventually, new_campaign_id, seed, settings, start_campaign

from schemas.outcomes import FinalOutcome
from schemas.workflow_io import CampaignStatus, ContactsAdded, ReasonInput
from simulator.carrier import SimCarrier
from store import contacts as store_contacts
from store import queries
from workflows.campaign import CampaignWorkflow

MIXED = ["answers", "qualifies", "busy", "not_interested", "invalid_number", "voicemail", "do_not_call"]


async def test_campaign_calls_everyone_and_reports_outcomes(time_env, run_worker, agent_sim, session_factory):
    """Answered calls come to what the agent records (its dispositions); the rest to what the network says."""
    sim = agent_sim
    campaign_id = new_campaign_id()
    people = [contact(i, persona) for i, persona in enumerate(itertools.islice(itertools.cycle(MIXED), 21))]
    campaign = settings(max_attempts=2, max_concurrent_calls=5)
    await seed(session_factory, campaign_id, people, campaign)
    async with run_worker(sim) as tq:
        result = await (await start_campaign(time_env.client, tq, campaign_id, campaign, agent=AGENT)).result()
    progress = result.progress
    assert progress.status == CampaignStatus.COMPLETED
    assert (progress.total, progress.started, progress.finished) == (21, 21, 21)
    keys = [d.idempotency_key for d in sim.dials]
    assert len(keys) == len(set(keys))
    async with session_factory() as session:
        stored = await queries.outcome_counts(session, campaign_id)
        calls = await queries.call_outcome_counts(session, campaign_id)
        row = await queries.get_campaign(session, campaign_id)
    assert stored == {
        FinalOutcome.COMPLETED: 3,
        FinalOutcome.QUALIFIED: 3,
        FinalOutcome.UNREACHABLE: 6,
        FinalOutcome.NOT_INTERESTED: 3,
        FinalOutcome.INVALID_NUMBER: 3,
        FinalOutcome.DO_NOT_CALL: 3,
    }
    assert sum(calls.values()) == len(keys) == 21 + 6  # busy and voicemail contacts get their one retry
    assert row is not None and row.status == CampaignStatus.COMPLETED


async def test_higher_priority_contacts_are_dialled_first(time_env, run_worker, session_factory):
    campaign_id = new_campaign_id()
    people = [contact(i, "answers", priority=i % 3) for i in range(12)]
    campaign = settings(max_concurrent_calls=1, calls_per_second=50)
    await seed(session_factory, campaign_id, people, campaign)
    carrier = SimCarrier(time_scale=0.0, clock=server_clock)
    async with run_worker(carrier) as tq:
        await (await start_campaign(time_env.client, tq, campaign_id, campaign)).result()
    priorities = [int(d.external_id[1:]) % 3 for d in carrier.dials]
    assert priorities == sorted(priorities, reverse=True)


async def test_concurrency_cap_and_calls_per_second_are_never_exceeded(dev_env, run_worker, session_factory):
    campaign_id = new_campaign_id()
    people = [contact(i, "answers") for i in range(30)]
    cps, cap = 8.0, 3
    campaign = settings(max_concurrent_calls=cap, calls_per_second=cps)
    await seed(session_factory, campaign_id, people, campaign)
    carrier = SimCarrier(time_scale=0.02)  # each call ~0.2 s of real time, on the real-time dev server
    async with run_worker(carrier, dev_env) as tq:
        await (await start_campaign(dev_env.client, tq, campaign_id, campaign)).result()
    assert len(carrier.dials) == 30
    assert carrier.max_in_flight <= cap
    starts = sorted(d.started_monotonic for d in carrier.dials)
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 1 / cps - 1e-3
    busiest = max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts)
    assert busiest <= cps


async def test_pause_stops_new_dials_and_resume_carries_on(dev_env, run_worker, session_factory):
    campaign_id = new_campaign_id()
    people = [contact(i, "answers") for i in range(16)]
    campaign = settings(max_concurrent_calls=2, calls_per_second=20)
    await seed(session_factory, campaign_id, people, campaign)
    carrier = SimCarrier(time_scale=0.03)
    async with run_worker(carrier, dev_env) as tq:
        handle = await start_campaign(dev_env.client, tq, campaign_id, campaign)
        await eventually(lambda: len(carrier.dials) >= 2)
        await handle.signal(CampaignWorkflow.pause)
        paused = await eventually(
            lambda: _progress_when(handle, lambda p: p.status == CampaignStatus.PAUSED and p.in_call == 0)
        )
        dials_when_paused = len(carrier.dials)
        # The workflow, the status's one writer, records the pause as it handles the signal.
        assert await eventually(lambda: _stored_status(session_factory, campaign_id, CampaignStatus.PAUSED))
        await asyncio.sleep(1.0)
        assert len(carrier.dials) == dials_when_paused, "a paused campaign dialled"
        assert paused.finished < 16
        await handle.signal(CampaignWorkflow.resume)
        assert await eventually(lambda: _stored_status(session_factory, campaign_id, CampaignStatus.RUNNING))
        result = await handle.result()
    assert result.progress.finished == 16
    async with session_factory() as session:
        assert await queries.outcome_counts(session, campaign_id) == {FinalOutcome.COMPLETED: 16}


async def test_cancel_ends_waiting_contacts_and_never_dials_again(time_env, run_worker, sim, session_factory):
    campaign_id = new_campaign_id()
    people = [contact(i, "never_answers") for i in range(12)]
    campaign = settings(max_concurrent_calls=4, max_attempts=5, initial_backoff=timedelta(hours=2))
    await seed(session_factory, campaign_id, people, campaign)
    async with run_worker(sim) as tq:
        handle = await start_campaign(time_env.client, tq, campaign_id, campaign, page_size=5)
        await eventually(lambda: _progress_when(handle, lambda p: p.waiting_retry >= 4))
        await handle.signal(CampaignWorkflow.cancel, ReasonInput(reason="list withdrawn"))
        result = await handle.result()
        dials_at_cancel = len(sim.dials)
        await time_env.sleep(timedelta(hours=5))
    assert result.progress.status == CampaignStatus.CANCELLED
    assert result.progress.finished == result.progress.started
    assert len(sim.dials) == dials_at_cancel
    async with session_factory() as session:
        counts = await queries.outcome_counts(session, campaign_id)
        row = await queries.get_campaign(session, campaign_id)
    assert counts == {"cancelled": 12}
    assert row is not None and row.status == CampaignStatus.CANCELLED


async def test_contacts_added_while_running_are_called(time_env, run_worker, sim, session_factory):
    campaign_id = new_campaign_id()
    campaign = settings(max_attempts=2, initial_backoff=timedelta(minutes=30))
    await seed(session_factory, campaign_id, [contact(i, "busy") for i in range(3)], campaign)
    async with run_worker(sim) as tq:
        handle = await start_campaign(time_env.client, tq, campaign_id, campaign)
        await eventually(lambda: _progress_when(handle, lambda p: p.waiting_retry == 3))
        async with session_factory() as session:
            added = await store_contacts.add_contacts(
                session, campaign_id, [contact(i, "answers") for i in range(2, 6)]
            )
            await session.commit()
        await handle.execute_update(CampaignWorkflow.contacts_added, ContactsAdded(count=added.added))
        result = await handle.result()
    assert added.added == 3 and added.duplicates == ["p0002"]
    assert result.progress.total == 6 and result.progress.finished == 6
    async with session_factory() as session:
        assert await queries.outcome_counts(session, campaign_id) == {
            FinalOutcome.UNREACHABLE: 3,
            FinalOutcome.COMPLETED: 3,
        }


async def test_contacts_added_to_an_ending_campaign_are_refused(time_env, run_worker, sim, session_factory):
    campaign_id = new_campaign_id()
    campaign = settings(max_attempts=5, initial_backoff=timedelta(hours=2))
    await seed(session_factory, campaign_id, [contact(i, "never_answers") for i in range(2)], campaign)
    async with run_worker(sim) as tq:
        handle = await start_campaign(time_env.client, tq, campaign_id, campaign)
        await eventually(lambda: _progress_when(handle, lambda p: p.waiting_retry == 2))
        await handle.signal(CampaignWorkflow.cancel, ReasonInput(reason="stop"))
        await eventually(lambda: _progress_when(handle, lambda p: p.status != CampaignStatus.RUNNING))
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(CampaignWorkflow.contacts_added, ContactsAdded(count=1))
        await handle.result()
    assert "can no longer be added" in str(refused.value.cause)


async def test_continue_as_new_carries_the_campaign_state(dev_env, run_worker, sim, session_factory):
    """On the dev server: Java's time-skipping server mishandles signals across continue-as-new."""
    campaign_id = new_campaign_id()
    people = [contact(i, persona) for i, persona in enumerate(itertools.islice(itertools.cycle(MIXED), 40))]
    campaign = settings(max_attempts=2, max_concurrent_calls=4, initial_backoff=timedelta(seconds=1))
    await seed(session_factory, campaign_id, people, campaign)
    async with run_worker(sim, dev_env) as tq:
        handle = await start_campaign(dev_env.client, tq, campaign_id, campaign, page_size=10, max_history_events=100)
        first_run = handle.result_run_id
        result = await handle.result()
        first_history = await dev_env.client.get_workflow_handle(handle.id, run_id=first_run).fetch_history()
    assert first_history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert result.progress.finished == 40 and result.progress.started == 40
    async with session_factory() as session:
        assert sum((await queries.outcome_counts(session, campaign_id)).values()) == 40
        dials = sum((await queries.call_outcome_counts(session, campaign_id)).values())
    assert dials == 40 + 11  # six busy and five voicemail contacts retry once
    assert len({d.idempotency_key for d in sim.dials}) == len(sim.dials) == 51


async def _stored_status(session_factory, campaign_id: str, status: CampaignStatus) -> bool:
    async with session_factory() as session:
        row = await queries.get_campaign(session, campaign_id)
    return row is not None and row.status == status


async def _progress_when(handle, predicate):
    progress = await handle.query(CampaignWorkflow.progress)
    return progress if predicate(progress) else None
