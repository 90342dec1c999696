"""ContactWorkflow on Temporal's time-skipping server, with the real activities, store and sim carrier."""

import itertools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import server_clock
from stand_in_agent import recording_agent
from temporalio.client import WorkflowUpdateFailedError
from workflow_helpers import AGENT, contact, eventually, new_campaign_id, seed, settings, start_contact

from schemas.calls import CallbackRequest
from schemas.campaign import ALL_WEEKDAYS, CallingWindow
from schemas.dispositions import Disposition
from schemas.outcomes import CallOutcome, FinalOutcome
from schemas.workflow_io import ContactPhase, NotInterestedInput
from simulator.carrier import SimCarrier
from store import queries
from workflows.contact import ContactWorkflow

LONDON = ZoneInfo("Europe/London")
OFFICE_HOURS = CallingWindow(start=time(9), end=time(20), weekdays=frozenset(ALL_WEEKDAYS))


async def _after_first_attempt(env, handle):
    """Skip time until the first call is over (the window may be closed at the real time of the run)."""

    async def first_attempt_done():
        state = await handle.query(ContactWorkflow.state)
        if state.attempts and state.phase != ContactPhase.IN_CALL:
            return state
        if state.phase == ContactPhase.WAITING_WINDOW:
            await env.sleep(timedelta(minutes=30))
        return None

    return await eventually(first_attempt_done)


async def test_three_no_answers_redial_on_the_exact_backoff_schedule(time_env, run_worker, sim, session_factory):
    campaign_id = new_campaign_id()
    person = contact(1, "never_answers")
    campaign = settings(max_attempts=4, initial_backoff=timedelta(minutes=10), max_backoff=timedelta(hours=1))
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(sim) as tq:
        handle = await start_contact(time_env.client, tq, campaign_id, person, campaign)
        state = await handle.result()
    dials = [a.dialled_at for a in state.attempts]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(dials)]
    # Each backoff runs from the end of a call: the call and the dial check add the real seconds they take.
    assert [round(g) for g in gaps] == pytest.approx([600, 1200, 2400], abs=3)
    assert all(g >= want for g, want in zip(gaps, [600, 1200, 2400], strict=True))
    assert [a.outcome for a in state.attempts] == [CallOutcome.NO_ANSWER] * 4
    assert state.final_outcome == FinalOutcome.UNREACHABLE


async def test_jitter_only_lengthens_the_wait_and_stays_within_its_ratio(time_env, run_worker, sim, session_factory):
    campaign_id = new_campaign_id()
    person = contact(2, "busy")
    campaign = settings(max_attempts=3, initial_backoff=timedelta(minutes=10), jitter=0.2)
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(sim) as tq:
        state = await (await start_contact(time_env.client, tq, campaign_id, person, campaign)).result()
    first_gap = (state.attempts[1].dialled_at - state.attempts[0].dialled_at).total_seconds()
    second_gap = (state.attempts[2].dialled_at - state.attempts[1].dialled_at).total_seconds()
    assert 600 <= first_gap <= 720 + 1
    assert 1200 <= second_gap <= 1440 + 1


async def test_max_attempts_ends_unreachable_and_is_stored(time_env, run_worker, sim, session_factory):
    campaign_id = new_campaign_id()
    person = contact(3, "voicemail")
    campaign = settings(max_attempts=3)
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(sim) as tq:
        state = await (await start_contact(time_env.client, tq, campaign_id, person, campaign)).result()
    assert state.final_outcome == FinalOutcome.UNREACHABLE
    assert len(sim.dials) == 3
    async with session_factory() as session:
        attempts = await queries.attempts_for(session, campaign_id, person.external_id)
        counts = await queries.outcome_counts(session, campaign_id)
    assert [a.call_outcome for a in attempts] == ["voicemail"] * 3
    assert counts == {"unreachable": 1}


async def test_callback_redials_at_the_requested_local_time(time_env, run_worker, sim, session_factory):
    campaign_id = new_campaign_id()
    person = contact(4, "never_answers")
    campaign = settings(window=OFFICE_HOURS, max_attempts=3, initial_backoff=timedelta(days=3))
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(sim) as tq:
        handle = await start_contact(time_env.client, tq, campaign_id, person, campaign)
        await _after_first_attempt(time_env, handle)
        now = await time_env.get_current_time()
        wanted = datetime.combine(now.astimezone(LONDON).date() + timedelta(days=1), time(10, 30), tzinfo=LONDON)
        confirmation = await handle.execute_update(
            ContactWorkflow.schedule_callback, CallbackRequest(at=wanted, reason="busy at work")
        )
        state = await handle.result()
    assert confirmation.scheduled_for == wanted
    assert not confirmation.moved_into_window
    assert _second(state.attempts[1].dialled_at) == wanted
    async with session_factory() as session:
        callbacks = await queries.callbacks_for(session, campaign_id, person.external_id)
    assert [(c.scheduled_for, c.status) for c in callbacks] == [(wanted, "done")]


async def test_callback_outside_calling_hours_moves_to_the_next_opening(time_env, run_worker, sim, session_factory):
    campaign_id = new_campaign_id()
    person = contact(5, "never_answers")
    campaign = settings(window=OFFICE_HOURS, max_attempts=2, initial_backoff=timedelta(days=3))
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(sim) as tq:
        handle = await start_contact(time_env.client, tq, campaign_id, person, campaign)
        await _after_first_attempt(time_env, handle)
        now = await time_env.get_current_time()
        late_evening = datetime.combine(now.astimezone(LONDON).date() + timedelta(days=1), time(22), tzinfo=LONDON)
        confirmation = await handle.execute_update(
            ContactWorkflow.schedule_callback, CallbackRequest(at=late_evening, reason="after dinner")
        )
        state = await handle.result()
    next_morning = datetime.combine(late_evening.date() + timedelta(days=1), time(9), tzinfo=LONDON)
    assert confirmation.moved_into_window
    assert confirmation.scheduled_for == next_morning
    assert _second(state.attempts[1].dialled_at) == next_morning


async def test_a_second_callback_replaces_the_first(time_env, run_worker, sim, session_factory):
    campaign_id = new_campaign_id()
    person = contact(6, "never_answers")
    campaign = settings(window=OFFICE_HOURS, max_attempts=2, initial_backoff=timedelta(days=3))
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(sim) as tq:
        handle = await start_contact(time_env.client, tq, campaign_id, person, campaign)
        await _after_first_attempt(time_env, handle)
        day = (await time_env.get_current_time()).astimezone(LONDON).date() + timedelta(days=1)
        first = datetime.combine(day, time(11), tzinfo=LONDON)
        second = datetime.combine(day, time(15), tzinfo=LONDON)
        one = await handle.execute_update(ContactWorkflow.schedule_callback, CallbackRequest(at=first))
        two = await handle.execute_update(ContactWorkflow.schedule_callback, CallbackRequest(at=second))
        state = await handle.result()
    assert not one.replaced_earlier and two.replaced_earlier
    assert [_second(a.dialled_at) for a in state.attempts[1:]] == [second]
    async with session_factory() as session:
        callbacks = await queries.callbacks_for(session, campaign_id, person.external_id)
    assert {(c.scheduled_for, c.status) for c in callbacks} == {(first, "replaced"), (second, "done")}


@pytest.mark.parametrize(
    ("when", "refusal"),
    [
        (lambda now: now - timedelta(minutes=5), "already passed"),
        (lambda now: (now + timedelta(hours=2)).replace(tzinfo=None), "no time zone"),
        (lambda now: now + timedelta(days=30), "too far ahead"),
    ],
    ids=["past", "naive", "beyond-horizon"],
)
async def test_callback_validator_refuses_with_a_readable_reason(
    time_env, run_worker, sim, session_factory, when, refusal
):
    campaign_id = new_campaign_id()
    person = contact(7, "never_answers")
    campaign = settings(max_attempts=2, initial_backoff=timedelta(days=1), callback_horizon=timedelta(days=14))
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(sim) as tq:
        handle = await start_contact(time_env.client, tq, campaign_id, person, campaign)
        await _after_first_attempt(time_env, handle)
        now = await time_env.get_current_time()
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ContactWorkflow.schedule_callback, CallbackRequest(at=when(now)))
        state = await handle.query(ContactWorkflow.state)
        await handle.terminate("test done")
    assert refusal in str(refused.value.cause)
    assert state.callback is None
    async with session_factory() as session:
        assert await queries.callbacks_for(session, campaign_id, person.external_id) == []


async def test_not_interested_stops_every_further_dial(time_env, run_worker, sim, session_factory):
    campaign_id = new_campaign_id()
    person = contact(8, "never_answers")
    campaign = settings(max_attempts=5, initial_backoff=timedelta(hours=1))
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(sim) as tq:
        handle = await start_contact(time_env.client, tq, campaign_id, person, campaign)
        await _after_first_attempt(time_env, handle)
        await handle.execute_update(ContactWorkflow.mark_not_interested, NotInterestedInput(reason="no thanks"))
        state = await handle.result()
    assert state.final_outcome == FinalOutcome.NOT_INTERESTED
    assert len(sim.dials) == 1
    async with session_factory() as session:
        assert await queries.outcome_counts(session, campaign_id) == {"not_interested": 1}


async def test_the_agents_disposition_decides_the_outcome_of_an_answered_call(
    time_env, run_worker, agent_sim, session_factory
):
    """The sim carrier reports every pick-up as ``completed``; the agent's disposition makes the difference."""
    campaign_id = new_campaign_id()
    personas = ["answers", "qualifies", "not_interested", "do_not_call", "invalid_number"]
    people = [contact(10 + i, p) for i, p in enumerate(personas)]
    campaign = settings()
    await seed(session_factory, campaign_id, people, campaign)
    async with run_worker(agent_sim) as tq:
        handles = [await start_contact(time_env.client, tq, campaign_id, p, campaign, AGENT) for p in people]
        states = [await h.result() for h in handles]
    assert [s.final_outcome for s in states] == [
        FinalOutcome.COMPLETED,
        FinalOutcome.QUALIFIED,
        FinalOutcome.NOT_INTERESTED,
        FinalOutcome.DO_NOT_CALL,
        FinalOutcome.INVALID_NUMBER,
    ]
    assert [s.attempts[0].disposition for s in states] == [
        "completed",
        "qualified",
        "not_interested",
        "do_not_call",
        None,
    ]
    assert len(agent_sim.dials) == 5
    async with session_factory() as session:
        rows = [(await queries.attempts_for(session, campaign_id, p.external_id))[0] for p in people]
    network = [(r.network_outcome, r.network_status, r.answered_by) for r in rows[:4]]
    assert network == [("completed", "completed", "human")] * 4
    assert [r.call_outcome for r in rows] == [
        "completed",
        "qualified",
        "not_interested",
        "do_not_call",
        "invalid_number",
    ]
    assert [r.disposition for r in rows] == ["completed", "qualified", "not_interested", "do_not_call", None]
    assert (rows[4].call_outcome, rows[4].status_code) == ("invalid_number", 404)


async def test_an_answered_call_without_an_agent_ends_completed(time_env, run_worker, sim, session_factory):
    """Without an agent nobody can say what the call came to: connected, no disposition."""
    campaign_id = new_campaign_id()
    people = [contact(30 + i, p) for i, p in enumerate(["qualifies", "callback", "do_not_call"])]
    campaign = settings()
    await seed(session_factory, campaign_id, people, campaign)
    async with run_worker(sim) as tq:
        handles = [await start_contact(time_env.client, tq, campaign_id, p, campaign) for p in people]
        states = [await h.result() for h in handles]
    assert [s.final_outcome for s in states] == [FinalOutcome.COMPLETED] * 3
    assert [s.attempts[0].disposition for s in states] == [None] * 3


async def test_a_user_defined_disposition_ends_with_its_mapped_outcome_and_is_stored(
    time_env, run_worker, session_factory
):
    booked = Disposition(
        name="appointment_booked", description="A demo was booked with the callee.", outcome=FinalOutcome.QUALIFIED
    )
    agent = AGENT.model_copy(update={"dispositions": [*AGENT.dispositions, booked]})
    carrier = SimCarrier(
        time_scale=0.0, clock=server_clock, agent_call=recording_agent(time_env.client, lambda _: "appointment_booked")
    )
    campaign_id = new_campaign_id()
    person = contact(40, "answers")
    campaign = settings()
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(carrier) as tq:
        state = await (await start_contact(time_env.client, tq, campaign_id, person, campaign, agent)).result()
    assert state.final_outcome == FinalOutcome.QUALIFIED
    assert state.attempts[0].disposition == "appointment_booked"
    async with session_factory() as session:
        [attempt] = await queries.attempts_for(session, campaign_id, person.external_id)
    assert (attempt.network_outcome, attempt.call_outcome, attempt.disposition) == (
        "completed",
        "qualified",
        "appointment_booked",
    )
    assert attempt.disposition_reason == "stand-in agent heard answers"


async def test_a_disposition_the_agent_does_not_have_is_refused_with_a_sentence(time_env, run_worker, session_factory):
    refusals: list[str] = []
    carrier = SimCarrier(
        time_scale=0.0,
        clock=server_clock,
        agent_call=recording_agent(time_env.client, lambda _: "sold_a_car", refusals),
    )
    campaign_id = new_campaign_id()
    person = contact(41, "answers")
    campaign = settings()
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(carrier) as tq:
        state = await (await start_contact(time_env.client, tq, campaign_id, person, campaign, AGENT)).result()
    assert refusals and "'sold_a_car' is not one of this agent's dispositions" in refusals[0]
    assert "qualified" in refusals[0]
    assert state.final_outcome == FinalOutcome.COMPLETED  # answered, nothing valid recorded
    assert state.attempts[0].disposition is None


async def test_a_callback_requested_without_a_booked_time_counts_as_a_try(time_env, run_worker, session_factory):
    carrier = SimCarrier(
        time_scale=0.0,
        clock=server_clock,
        agent_call=recording_agent(time_env.client, lambda _: "callback_requested"),
    )
    campaign_id = new_campaign_id()
    person = contact(42, "answers")
    campaign = settings(max_attempts=2, initial_backoff=timedelta(minutes=10))
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(carrier) as tq:
        state = await (await start_contact(time_env.client, tq, campaign_id, person, campaign, AGENT)).result()
    assert [a.outcome for a in state.attempts] == [CallOutcome.CALLBACK_REQUESTED] * 2
    assert state.final_outcome == FinalOutcome.UNREACHABLE
    gap = (state.attempts[1].dialled_at - state.attempts[0].dialled_at).total_seconds()
    assert 600 <= gap < 603, "the backoff runs from the call's end: only the real seconds of the call are added"


async def test_a_dial_due_at_two_in_the_morning_waits_for_the_window_across_a_dst_change(
    time_env, run_worker, sim, session_factory
):
    """On New York's spring-forward Sunday, 09:00 local is 13:00 UTC, where it was 14:00 the day before."""
    new_york = ZoneInfo("America/New_York")
    now = await time_env.get_current_time()
    change_day = _next_spring_forward(now, new_york)
    due = datetime.combine(change_day, time(2), tzinfo=new_york)  # 02:00 EST, the moment clocks jump
    await time_env.sleep(due - now)
    campaign_id = new_campaign_id()
    person = contact(20, "answers", phone="+12125550147")  # a New York number
    assert person.timezone == "America/New_York"
    campaign = settings(window=OFFICE_HOURS)
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(sim) as tq:
        handle = await start_contact(time_env.client, tq, campaign_id, person, campaign)
        waiting = await eventually(lambda: _planned(handle))
        state = await handle.result()
    nine_edt = datetime.combine(change_day, time(13), tzinfo=ZoneInfo("UTC"))
    assert waiting.phase == ContactPhase.WAITING_WINDOW
    assert waiting.next_dial_at == nine_edt
    assert _second(state.attempts[0].dialled_at) == nine_edt
    assert state.attempts[0].dialled_at.astimezone(new_york).hour == 9


def _next_spring_forward(after: datetime, zone: ZoneInfo) -> date:
    day = after.astimezone(zone).date() + timedelta(days=1)
    while datetime.combine(day, time(12), tzinfo=zone).utcoffset() == datetime.combine(
        day - timedelta(days=1), time(12), tzinfo=zone
    ).utcoffset() or datetime.combine(day, time(12), tzinfo=zone).dst() == timedelta(0):
        day += timedelta(days=1)
    return day


async def _planned(handle):
    state = await handle.query(ContactWorkflow.state)
    return state if state.next_dial_at is not None else None


def _second(moment: datetime) -> datetime:
    """A dial's recorded time is the workflow task's, a few milliseconds after its timer fired."""
    return moment.replace(microsecond=0)
