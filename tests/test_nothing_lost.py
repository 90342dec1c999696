"""Nothing is lost: a claim that dies after its commit, a store outage in the middle of a campaign, a contact
workflow terminated by hand while it waits for a slot or while it is parked."""

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from tcp_outage import OutageProxy
from temporalio import activity
from temporalio.service import RPCError
from workflow_helpers import contact, eventually, new_campaign_id, seed, settings, start_campaign

from activities.store import StoreActivities
from schemas.activity_io import ActivityName, ClaimedContacts, ClaimRequest
from schemas.outcomes import CallOutcome, FinalOutcome
from schemas.settings import Settings
from schemas.workflow_io import CampaignStatus, ContactPhase, contact_workflow_id
from simulator.carrier import SimCarrier
from store import queries
from store.db import make_engine, make_session_factory
from store.models import CONTACT_ACTIVE, CONTACT_PENDING, ContactRow
from worker.main import build_worker
from workflows.campaign import IDLE_RECONCILE_EVERY, CampaignWorkflow
from workflows.contact import ContactWorkflow

OUTAGE_SECONDS = 65


class ClaimDiesAfterCommit(StoreActivities):
    """The claim commits, then its worker "dies" before Temporal records the result: the first try of
    every claim fails that way, so each page is claimed by one try and returned by the next."""

    injected = 0

    @activity.defn(name=ActivityName.CLAIM_CONTACTS)
    async def claim_contacts(self, request: ClaimRequest) -> ClaimedContacts:
        page = await super().claim_contacts(request)
        if activity.info().attempt == 1:
            type(self).injected += 1
            raise RuntimeError("worker died after the claim committed")
        return page


async def test_a_claim_that_dies_after_its_commit_loses_no_contact(
    time_env, run_worker, sim, session_factory, monkeypatch
):
    monkeypatch.setattr("worker.main.StoreActivities", ClaimDiesAfterCommit)
    ClaimDiesAfterCommit.injected = 0
    campaign_id = new_campaign_id()
    people = [contact(i, "answers") for i in range(23)]
    campaign = settings(max_concurrent_calls=4)
    await seed(session_factory, campaign_id, people, campaign)
    async with run_worker(sim) as tq:
        result = await (await start_campaign(time_env.client, tq, campaign_id, campaign, page_size=5)).result()
    assert ClaimDiesAfterCommit.injected >= 5, "every page's first claim should have died"
    assert result.progress.status == CampaignStatus.COMPLETED
    assert result.progress.started == result.progress.finished == 23
    assert sorted(Counter(d.external_id for d in sim.dials).values()) == [1] * 23, "each person dialled once"
    async with session_factory() as session:
        assert await queries.outcome_counts(session, campaign_id) == {"completed": 23}
        left = await session.scalars(
            select(ContactRow.external_id).where(
                ContactRow.campaign_id == campaign_id, ContactRow.status.in_([CONTACT_PENDING, CONTACT_ACTIVE])
            )
        )
        assert left.all() == []


def _through(proxy_port: int, db_url: str) -> str:
    return make_url(db_url).set(host="127.0.0.1", port=proxy_port).render_as_string(hide_password=False)


async def test_a_store_outage_mid_campaign_rings_nobody_twice_and_leaves_no_attempt_dialling(
    dev_env, db_url, session_factory
):
    """The worker loses Postgres for over a minute while calls are up: their results wait for the store."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the outage is a Postgres server going away; SQLite is a file")
    url = make_url(db_url)
    proxy = OutageProxy(url.host or "127.0.0.1", url.port or 5432)
    engine = make_engine(_through(await proxy.start(), db_url))
    campaign_id = new_campaign_id()
    people = [contact(i, "answers") for i in range(30)]
    campaign = settings(max_concurrent_calls=5, calls_per_second=5)
    await seed(session_factory, campaign_id, people, campaign)
    carrier = SimCarrier(time_scale=0.2)  # a call of about two seconds: several are up when the store goes
    task_queue = f"outage-{uuid.uuid4().hex[:8]}"
    worker_settings = Settings(database_url=db_url, task_queue=task_queue)
    try:
        worker = build_worker(dev_env.client, worker_settings, sessions=make_session_factory(engine), carrier=carrier)
        async with worker:
            handle = await start_campaign(dev_env.client, task_queue, campaign_id, campaign)
            await eventually(lambda: len(carrier.dials) >= 8, within=60)
            proxy.take_down()
            down_at = asyncio.get_running_loop().time()
            await asyncio.sleep(OUTAGE_SECONDS)
            proxy.restore()
            result = await asyncio.wait_for(handle.result(), timeout=120)
    finally:
        await proxy.close()
        await engine.dispose()

    dials = carrier.dials
    ended_in_outage = [
        d for d in dials if d.ended_monotonic and down_at <= d.ended_monotonic <= down_at + OUTAGE_SECONDS
    ]
    assert ended_in_outage, "no call ended while the store was down: the outage proved nothing"
    answered = [d for d in dials if d.outcome == CallOutcome.COMPLETED]
    assert sorted(Counter(d.external_id for d in dials).values()) == [1] * 30, "someone was rung twice"
    assert len(answered) == 30
    progress = result.progress
    assert progress.started == progress.finished == 30
    async with session_factory() as session:
        outcomes = await queries.outcome_counts(session, campaign_id)
        calls = await queries.call_outcome_counts(session, campaign_id)
        dialling = await queries.dialling_count(session, campaign_id)
        row = await queries.get_campaign(session, campaign_id)
    assert dialling == 0, "an attempt was left dialling"
    assert outcomes == {"completed": progress.finished}
    assert calls == {"completed": len(dials)}, "the store's dials and the carrier's disagree"
    assert row is not None and row.status == CampaignStatus.COMPLETED
    assert timedelta(seconds=OUTAGE_SECONDS) < timedelta(seconds=asyncio.get_running_loop().time() - down_at)


async def test_a_contact_terminated_while_queued_is_not_counted_unfinished(time_env, run_worker, session_factory):
    """A queued contact's workflow is terminated by hand: reconciling records it cancelled, the campaign ends."""
    campaign_id = new_campaign_id()
    people = [contact(i, "answers") for i in range(4)]
    campaign = settings(max_concurrent_calls=1, calls_per_second=50)
    await seed(session_factory, campaign_id, people, campaign)
    carrier = SimCarrier(time_scale=0.05)  # calls of half a second: the others queue meanwhile
    async with run_worker(carrier) as tq:
        handle = await start_campaign(time_env.client, tq, campaign_id, campaign)
        queued = await eventually(lambda: _queued_contact(time_env.client, campaign_id, people))
        await time_env.client.get_workflow_handle(queued).terminate(reason="stopped by hand")
        result = await handle.result()
    assert result.progress.started == result.progress.finished == 4
    async with session_factory() as session:
        assert await queries.outcome_counts(session, campaign_id) == {"completed": 3, "cancelled": 1}


async def test_a_contact_terminated_while_parked_for_a_retry_is_reconciled_and_the_campaign_ends(
    time_env, run_worker, sim, session_factory
):
    """A parked contact never signals again once terminated: the idle campaign reconciles and completes.

    One other contact, retried off the idle reconcile's hourly beat: Java's time-skipping server wedges a run
    for good when a signal lands in the very workflow task in which the timer it cancels fires (two retries
    due at one instant, or a retry at the reconcile's hour; temporalio/sdk-java#3088). The real server does not.
    """
    campaign_id = new_campaign_id()
    people = [contact(i, "never_answers") for i in range(2)]
    campaign = settings(max_attempts=3, initial_backoff=timedelta(hours=2, minutes=30))
    await seed(session_factory, campaign_id, people, campaign)
    async with run_worker(sim) as tq:
        handle = await start_campaign(time_env.client, tq, campaign_id, campaign)
        await eventually(lambda: _progress_when(handle, lambda p: p.waiting_retry == 2))
        parked = time_env.client.get_workflow_handle_for(
            ContactWorkflow.run, contact_workflow_id(campaign_id, people[1].external_id)
        )
        assert (await parked.query(ContactWorkflow.state)).phase == ContactPhase.WAITING_RETRY
        terminated_at = await time_env.get_current_time()
        await parked.terminate(reason="stopped by hand")
        result = await handle.result()
    progress = result.progress
    assert progress.status == CampaignStatus.COMPLETED
    assert progress.started == progress.finished == 2
    assert (progress.waiting_retry, progress.waiting_callback, progress.waiting_window) == (0, 0, 0)
    assert progress.starting == progress.waiting_slot == progress.in_call == 0
    assert progress.finished_at is not None and progress.finished_at - terminated_at >= IDLE_RECONCILE_EVERY
    assert len([d for d in sim.dials if d.external_id == people[1].external_id]) == 1, "dialled after it was stopped"
    async with session_factory() as session:
        stopped = await session.scalar(
            select(ContactRow).where(
                ContactRow.campaign_id == campaign_id, ContactRow.external_id == people[1].external_id
            )
        )
        counts = await queries.outcome_counts(session, campaign_id)
        row = await queries.get_campaign(session, campaign_id)
    assert stopped is not None and stopped.final_outcome == FinalOutcome.CANCELLED
    assert counts[FinalOutcome.CANCELLED] == 1 and sum(counts.values()) == 2
    assert row is not None and row.status == CampaignStatus.COMPLETED


async def _progress_when(handle, predicate):
    progress = await handle.query(CampaignWorkflow.progress)
    return progress if predicate(progress) else None


async def _queued_contact(client, campaign_id: str, people) -> str | None:
    """A contact waiting for a dial slot, by its workflow id, if one is."""
    for person in people:
        workflow_id = contact_workflow_id(campaign_id, person.external_id)
        try:
            state = await client.get_workflow_handle_for(ContactWorkflow.run, workflow_id).query(ContactWorkflow.state)
        except RPCError:
            continue  # not started yet
        if state.phase == ContactPhase.WAITING_SLOT:
            return workflow_id
    return None
