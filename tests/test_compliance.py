"""The calling-hours policy: zones from the number, the legal floor by region, overrides, attempt caps,
opt-outs that stick, and the audit trail (issue 11). Time rules run on the time-skipping server."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from inbound_helpers import OUR_NUMBER, inbound_worker_settings
from livekit_standin import LiveKitStandIn
from pydantic import ValidationError
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment
from workflow_helpers import AGENT, ALL_DAY, contact, new_campaign_id, seed, settings

from activities.inbound import InboundActivities
from schemas.calls import CallbackRequest
from schemas.campaign import ALL_WEEKDAYS, CallingWindow
from schemas.compliance import CallingPolicy, DialFacts, DialVerdict, HoursRule, SkipCause
from schemas.contact import Contact
from schemas.inbound import CallStatusUpdate, InboundCallbackRequest, InboundCallInput, inbound_workflow_id
from schemas.outcomes import FinalOutcome
from schemas.settings import Settings
from schemas.workflow_io import ContactWorkflowInput, contact_workflow_id
from store import compliance, dnc
from store.models import DEFAULT_ORG_ID
from voice_worker.temporal_bridge import TemporalCallBridge
from worker.main import build_worker
from workflows.contact import ContactWorkflow
from workflows.inbound import InboundCallWorkflow
from workflows.scheduling import decide_dial

PERTH = "+61 8 9123 4567"
VLADIVOSTOK_MOBILE = "+7 914 123 4567"
MIAMI = "+1 305 555 0123"
NEW_YORK = "+1 212 555 0123"
SIX_TO_ELEVEN = CallingWindow(start=time(6), end=time(23), weekdays=frozenset(ALL_WEEKDAYS))
FLOOR = CallingPolicy()


def person(phone: str, **fields) -> Contact:
    return Contact(external_id="c1", phone=phone, **fields)


def judge(who: Contact, now: datetime, *, window=ALL_DAY, policy=FLOOR, facts=None, due=None):
    return decide_dial(
        now=now, due=due or now, zones=who.zones, region=who.region, window=window, policy=policy, facts=facts
    )


def local_hour(at: datetime, zone: str) -> float:
    local = at.astimezone(ZoneInfo(zone))
    return local.hour + local.minute / 60


# ---- time zones from the number ------------------------------------------------------------------


def test_a_perth_number_may_ring_only_while_every_candidate_zone_allows_it() -> None:
    perth = person(PERTH)
    assert perth.zones == ["Australia/Adelaide", "Australia/Perth"] and not perth.zone_confident
    # Monday 00:00 UTC: 10:30 in Adelaide, 08:00 in Perth, where a 09:00-20:00 window is still closed.
    monday = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    window = CallingWindow(start=time(9), end=time(20))
    decision = judge(perth, monday, window=window)
    assert decision.verdict == DialVerdict.WAIT
    assert decision.not_before == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00 in Perth
    assert decision.local_times["Australia/Perth"].startswith("2026-11-30 08:00")


def test_a_vladivostok_mobile_is_never_rung_at_night_in_any_zone_it_may_be_in() -> None:
    mobile = person(VLADIVOSTOK_MOBILE)
    assert "Asia/Vladivostok" in mobile.zones and len(mobile.zones) > 1
    night_in_vladivostok = datetime(2026, 11, 30, 11, 30, tzinfo=UTC)  # 21:30 there
    decision = judge(mobile, night_in_vladivostok)
    assert decision.verdict == DialVerdict.WAIT
    assert decision.not_before is not None
    for zone in mobile.zones:
        assert 8 <= local_hour(decision.not_before, zone) < 21, zone


def test_a_timezone_column_overrides_the_guess() -> None:
    given = person(VLADIVOSTOK_MOBILE, timezone="Asia/Vladivostok")
    assert given.zones == ["Asia/Vladivostok"] and given.zone_confident
    morning_there = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # 10:00 in Vladivostok
    assert judge(given, morning_there).verdict == DialVerdict.DIAL


def test_a_number_whose_zones_never_share_an_hour_is_skipped_with_a_reason() -> None:
    """A Russian mobile may be anywhere from UTC+2 to UTC+12: an office day is never open in all at once."""
    office_day = CallingWindow(start=time(9), end=time(17), weekdays=frozenset(ALL_WEEKDAYS))
    decision = judge(person(VLADIVOSTOK_MOBILE), datetime(2026, 11, 30, 15, 0, tzinfo=UTC), window=office_day)
    assert (decision.verdict, decision.skip_cause) == (DialVerdict.SKIP, SkipCause.NO_CALLING_HOURS)
    assert "give the contact its time zone" in decision.reason


# ---- the legal floor and the organization's rules ------------------------------------------------


def test_a_wide_campaign_window_is_narrowed_to_the_legal_floor() -> None:
    new_york = person(NEW_YORK)
    six_am = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # 06:00 in New York
    decision = judge(new_york, six_am, window=SIX_TO_ELEVEN)
    assert decision.not_before == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)  # 08:00, not 06:00
    assert decision.rule.startswith("US 08:00-21:00")


def test_florida_stops_at_eight_in_the_evening_where_new_york_goes_on() -> None:
    half_past_eight = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # 20:30 in Miami and New York
    miami = judge(person(MIAMI), half_past_eight, window=SIX_TO_ELEVEN)
    assert person(MIAMI).region == "US-FL"
    assert miami.verdict == DialVerdict.WAIT
    assert miami.not_before == datetime(2026, 12, 1, 13, 0, tzinfo=UTC)  # 08:00 the next morning
    assert judge(person(NEW_YORK), half_past_eight, window=SIX_TO_ELEVEN).verdict == DialVerdict.DIAL


def test_a_rule_that_widens_the_floor_needs_a_legal_basis_and_is_recorded() -> None:
    with pytest.raises(ValidationError, match="give its legal_basis"):
        CallingPolicy(rules=[HoursRule(region="US-FL", start=time(8), end=time(21))])
    basis = "existing business relationship, written consent on file"
    policy = CallingPolicy(rules=[HoursRule(region="US-FL", start=time(8), end=time(21), legal_basis=basis)])
    decision = judge(person(MIAMI), datetime(2026, 12, 1, 1, 30, tzinfo=UTC), policy=policy)
    assert decision.verdict == DialVerdict.DIAL
    assert decision.legal_basis == basis


def test_an_organization_rule_for_a_country_does_not_loosen_a_stricter_state() -> None:
    policy = CallingPolicy(rules=[HoursRule(region="US", start=time(9), end=time(21))])  # narrower: no basis
    assert policy.rule_for("US-FL").end == time(20)
    assert policy.rule_for("US-NY").start == time(9)


# ---- attempt caps and the do-not-call list -------------------------------------------------------


def test_florida_caps_attempts_at_three_in_any_24_hours() -> None:
    now = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 11:00 in Miami
    earlier = [now - timedelta(hours=23), now - timedelta(hours=2), now - timedelta(hours=1)]
    facts = DialFacts(checked_at=now, recent_attempts=earlier)
    decision = judge(person(MIAMI), now, facts=facts)
    assert decision.verdict == DialVerdict.WAIT
    assert decision.not_before == now + timedelta(hours=1)  # the oldest of the three leaves the 24 hours
    assert (decision.attempts_24h, decision.attempts_7d) == (3, 3)
    assert "attempt cap" in decision.reason


def test_an_organization_cap_per_seven_days_counts_every_campaign() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    days_ago = [now - timedelta(days=d) for d in (6, 4, 2)]
    policy = CallingPolicy(max_attempts_per_7d=3)
    facts = DialFacts(checked_at=now, recent_attempts=days_ago, policy=policy)
    decision = judge(person("+44 20 7946 0001"), now, policy=policy, facts=facts)
    assert decision.verdict == DialVerdict.WAIT
    assert decision.not_before is not None and decision.not_before >= days_ago[0] + timedelta(days=7)


def test_a_listed_number_is_skipped_and_the_source_is_named() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    facts = DialFacts(checked_at=now, on_do_not_call=True, do_not_call_source="listed by the agent on call x#1")
    decision = judge(person("+44 20 7946 0002"), now, facts=facts)
    assert (decision.verdict, decision.skip_cause) == (DialVerdict.SKIP, SkipCause.DO_NOT_CALL)
    assert "do-not-call" in decision.reason and "call x#1" in decision.reason
    assert decision.do_not_call_checked_at == now


# ---- in the workflows, on the time-skipping server ----------------------------------------------


def _input(campaign_id: str, who: Contact, **fields) -> ContactWorkflowInput:
    return ContactWorkflowInput(
        campaign_id=campaign_id,
        contact=who,
        settings=fields.pop("campaign"),
        org_id=DEFAULT_ORG_ID,
        **fields,
    )


async def _run_contact(env, tq: str, campaign_id: str, who: Contact, **fields):
    handle = await env.client.start_workflow(
        ContactWorkflow.run,
        _input(campaign_id, who, **fields),
        id=contact_workflow_id(campaign_id, who.external_id),
        task_queue=tq,
    )
    return await handle.result()


async def test_florida_redials_wait_for_the_cap_and_stay_inside_its_hours(
    time_env, run_worker, sim, session_factory
) -> None:
    """Never answers, retried every 10 minutes: three dials, then the fourth waits a day from the first."""
    campaign_id = new_campaign_id()
    miami = contact(1, "never_answers", phone="+1 305 555 0142")
    campaign = settings(max_attempts=4, initial_backoff=timedelta(minutes=10), max_backoff=timedelta(minutes=10))
    await seed(session_factory, campaign_id, [miami], campaign)
    async with run_worker(sim) as tq:
        state = await _run_contact(time_env, tq, campaign_id, miami, campaign=campaign)
    dials = [attempt.dialled_at for attempt in state.attempts]
    assert len(dials) == 4
    assert dials[3] - dials[0] >= timedelta(hours=24), "three dials in any 24 hours, whatever the hour they began"
    for dialled in dials:
        assert 8 <= local_hour(dialled, "America/New_York") < 20
    async with session_factory() as session:
        trail = await compliance.decisions_for(session, DEFAULT_ORG_ID, campaign_id, miami.external_id)
    verdicts = [d.verdict for d in trail]
    assert verdicts.count(DialVerdict.DIAL) == 4
    capped = [d for d in trail if d.verdict == DialVerdict.WAIT and "attempt cap" in d.reason]
    assert capped and capped[0].attempts_24h == 3
    dial = next(d for d in trail if d.verdict == DialVerdict.DIAL)
    assert dial.rule.startswith("US-FL 08:00-20:00") and dial.do_not_call_checked_at is not None
    assert dial.zones == ["America/New_York"] and "America/New_York" in dial.local_times


async def test_do_not_call_said_to_the_agent_sticks_for_every_later_campaign(
    time_env, run_worker, agent_sim, session_factory
) -> None:
    phone = "+44 20 7946 0871"
    first, second = new_campaign_id(), new_campaign_id()
    asks = contact(71, "do_not_call", phone=phone)
    campaign = settings(max_attempts=2)
    await seed(session_factory, first, [asks], campaign)
    await seed(session_factory, second, [contact(72, "answers", phone=phone)], campaign)
    async with run_worker(agent_sim) as tq:
        opted_out = await _run_contact(time_env, tq, first, asks, campaign=campaign, agent=AGENT)
        async with session_factory() as session:
            entry = await dnc.get_dnc(session, DEFAULT_ORG_ID, asks.phone)
        assert opted_out.final_outcome == FinalOutcome.DO_NOT_CALL
        assert entry is not None and entry.source == dnc.SOURCE_AGENT
        assert entry.source_ref == f"{contact_workflow_id(first, asks.external_id)}#1"
        dials_before = len(agent_sim.dials)
        later = await _run_contact(time_env, tq, second, contact(72, "answers", phone=phone), campaign=campaign)
    assert later.final_outcome == FinalOutcome.DO_NOT_CALL and not later.attempts
    assert len(agent_sim.dials) == dials_before
    async with session_factory() as session:
        trail = await compliance.decisions_for(session, DEFAULT_ORG_ID, second, "p0072")
        await dnc.remove_from_dnc(session, DEFAULT_ORG_ID, asks.phone)
        await session.commit()
    assert [d.verdict for d in trail] == [DialVerdict.SKIP]
    assert "the agent on call" in trail[0].reason


async def test_a_callback_asked_for_at_night_is_moved_to_the_morning(dev_env, run_worker, sim, session_factory):
    """The legal floor applies to callbacks too (on the dev server: the booking is all this test needs)."""
    campaign_id = new_campaign_id()
    new_york = contact(81, "never_answers", phone="+1 212 555 0181")
    campaign = settings(max_attempts=3)  # a first dial, if the hour allows one, leaves it waiting to retry
    await seed(session_factory, campaign_id, [new_york], campaign)
    async with run_worker(sim, env=dev_env) as tq:
        handle = await dev_env.client.start_workflow(
            ContactWorkflow.run,
            _input(campaign_id, new_york, campaign=campaign),
            id=contact_workflow_id(campaign_id, new_york.external_id),
            task_queue=tq,
        )
        local_now = datetime.now(UTC).astimezone(ZoneInfo("America/New_York"))
        night = (local_now + timedelta(days=2)).replace(hour=23, minute=30, second=0, microsecond=0)
        try:
            confirmation = await handle.execute_update(ContactWorkflow.schedule_callback, CallbackRequest(at=night))
        finally:
            await handle.terminate("test over")
    assert confirmation.moved_into_window
    assert confirmation.scheduled_for == (night + timedelta(days=1)).replace(hour=8, minute=0)


async def test_a_callback_booked_on_an_inbound_call_is_not_dialled_once_the_caller_opted_out(
    time_env, run_worker, sim, session_factory
) -> None:
    """The caller's organization travels with the callback: its do-not-call list is checked before the dial."""
    caller = "+442079460991"
    async with session_factory() as session:
        await dnc.add_to_dnc(session, DEFAULT_ORG_ID, caller, "asked by email")
        await session.commit()
    booking = InboundActivities(Settings(_env_file=None), session_factory, time_env.client)  # type: ignore[call-arg]
    now = await time_env.get_current_time()
    try:
        async with run_worker(sim) as tq:
            activity_env = ActivityEnvironment()
            activity_env.info = replace(activity_env.info, task_queue=tq)
            started = await activity_env.run(
                booking.start_inbound_callback,
                InboundCallbackRequest(
                    contact=Contact(external_id="CAoptedout", phone=caller),
                    agent=AGENT,
                    callback=CallbackRequest(at=now + timedelta(hours=1), reason="call me back"),
                    org_id=DEFAULT_ORG_ID,
                ),
            )
            # Update-with-start's handle gives no result under the test server: skip past the callback (moved
            # into London's calling hours, whatever the server's clock says), then read.
            handle = time_env.client.get_workflow_handle(started.workflow_id)
            for _ in range(24):
                if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
                    break
                await time_env.sleep(timedelta(hours=1))
            state = await handle.query(ContactWorkflow.state)
    finally:
        async with session_factory() as session:
            await dnc.remove_from_dnc(session, DEFAULT_ORG_ID, caller)
            await session.commit()
    assert state.final_outcome == FinalOutcome.DO_NOT_CALL and not state.attempts
    assert not [dial for dial in sim.dials if dial.contact.phone == caller]


async def test_do_not_call_said_on_an_inbound_call_lists_the_caller_for_the_organization(
    time_env, session_factory, db_url, sim
) -> None:
    caller, call_sid = "+442079460992", "CA" + uuid.uuid4().hex
    async with LiveKitStandIn() as standin:
        task_queue = f"tq-optout-{uuid.uuid4().hex[:8]}"
        worker_settings = inbound_worker_settings(standin, db_url, task_queue)
        async with build_worker(time_env.client, worker_settings, sessions=session_factory, carrier=sim):
            handle = await time_env.client.start_workflow(
                InboundCallWorkflow.run,
                InboundCallInput(
                    call_sid=call_sid, from_number=caller, to_number=OUR_NUMBER, agent=AGENT, org_id=DEFAULT_ORG_ID
                ),
                id=inbound_workflow_id(call_sid),
                task_queue=task_queue,
            )
            await handle.execute_update(InboundCallWorkflow.prepare)
            await TemporalCallBridge(time_env.client, handle.id, 1).record_disposition("do_not_call", "stop calling")
            async with session_factory() as session:
                listed_during_the_call = await dnc.get_dnc(session, DEFAULT_ORG_ID, caller)
            await handle.signal(InboundCallWorkflow.call_status, CallStatusUpdate(status="completed"))
            state = await handle.result()
    async with session_factory() as session:
        await dnc.remove_from_dnc(session, DEFAULT_ORG_ID, caller)
        await session.commit()
    assert listed_during_the_call is not None, "listed before the agent is told so"
    assert listed_during_the_call.source == dnc.SOURCE_AGENT
    assert listed_during_the_call.source_ref == f"{inbound_workflow_id(call_sid)}#1"
    assert state.outcome == FinalOutcome.DO_NOT_CALL
