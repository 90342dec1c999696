"""Retries by cause: every network result has a class, and the class decides the next dial (issue 15)."""

import itertools
from datetime import timedelta

import pytest
from conftest import server_clock
from workflow_helpers import FlakyTrunk, contact, new_campaign_id, seed, settings, start_contact

from schemas.causes import CauseClass, CauseRules, NetworkRetry, classify
from schemas.outcomes import CallOutcome, FinalOutcome
from simulator.carrier import SimCarrier
from store import queries

F, P, N, A = CauseClass.FINAL, CauseClass.PERSON_RETRY, CauseClass.NETWORK_RETRY, CauseClass.ANSWERED


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        # SIP codes (LiveKit SIP): the person, the number, or the network
        ({"outcome": CallOutcome.BUSY, "status_code": 486}, P),
        ({"outcome": CallOutcome.BUSY, "status_code": 603}, P),
        ({"outcome": CallOutcome.NO_ANSWER, "status_code": 480}, P),
        ({"outcome": CallOutcome.NO_ANSWER, "status_code": 408}, P),
        ({"outcome": CallOutcome.INVALID_NUMBER, "status_code": 404}, F),
        ({"outcome": CallOutcome.INVALID_NUMBER, "status_code": 604}, F),
        ({"outcome": CallOutcome.FAILED, "status_code": 503}, N),
        ({"outcome": CallOutcome.FAILED, "status_code": 502}, N),  # any 5xx
        ({"outcome": CallOutcome.FAILED, "status_code": 429}, N),
        ({"outcome": CallOutcome.FAILED, "status_code": 403}, N),  # the trunk refuses us
        ({"outcome": CallOutcome.FAILED, "status_code": 415}, P),  # another 4xx
        # Twilio: final statuses and error codes
        ({"outcome": CallOutcome.BUSY, "network_status": "busy"}, P),
        ({"outcome": CallOutcome.NO_ANSWER, "network_status": "no-answer"}, P),
        ({"outcome": CallOutcome.FAILED, "network_status": "failed"}, N),
        ({"outcome": CallOutcome.INVALID_NUMBER, "network_status": "failed", "error_code": 21211}, F),
        ({"outcome": CallOutcome.FAILED, "network_status": "failed", "error_code": 21610}, F),
        ({"outcome": CallOutcome.FAILED, "network_status": "failed", "error_code": 20429}, N),
        ({"outcome": CallOutcome.FAILED, "network_status": "failed", "error_code": 21215}, N),
        ({"outcome": CallOutcome.FAILED, "network_status": "caller-id-unavailable"}, N),
        # machine detection, for an answered call
        ({"outcome": CallOutcome.COMPLETED, "answered": True, "answered_by": "human"}, A),
        ({"outcome": CallOutcome.COMPLETED, "answered": True, "answered_by": "unknown"}, A),
        ({"outcome": CallOutcome.VOICEMAIL, "answered": True, "answered_by": "machine_end_beep"}, P),
        ({"outcome": CallOutcome.FAILED, "answered": True, "answered_by": "fax"}, F),
        # nothing but the outcome: a call that broke off, a compliance refusal
        ({"outcome": CallOutcome.FAILED}, N),
        ({"outcome": CallOutcome.DO_NOT_CALL}, F),
        ({"outcome": CallOutcome.INVALID_NUMBER}, F),
    ],
)
def test_each_network_result_has_its_class(facts: dict, expected: CauseClass) -> None:
    assert classify(**facts) == expected


def test_a_campaign_overrides_the_class_of_a_code() -> None:
    rules = CauseRules(sip={480: N, 503: F}, twilio_error={21215: F}, status={"busy": N}, answered_by={"fax": P})
    assert classify(outcome=CallOutcome.NO_ANSWER, status_code=480, rules=rules) == N
    assert classify(outcome=CallOutcome.FAILED, status_code=503, rules=rules) == F
    assert classify(outcome=CallOutcome.FAILED, error_code=21215, rules=rules) == F
    assert classify(outcome=CallOutcome.BUSY, network_status="busy", rules=rules) == N
    assert classify(outcome=CallOutcome.FAILED, answered=True, answered_by="fax", rules=rules) == P


def test_a_sip_override_must_be_a_failure_code_and_cannot_mean_answered() -> None:
    with pytest.raises(ValueError, match="not a SIP failure code"):
        CauseRules(sip={200: N})
    with pytest.raises(ValueError, match="cannot mean answered"):
        CauseRules(sip={486: A})


async def test_network_failures_retry_soon_and_never_count_as_the_persons_tries(
    time_env, run_worker, session_factory
) -> None:
    carrier = FlakyTrunk(failing={1, 2}, clock=server_clock)
    campaign_id = new_campaign_id()
    person = contact(1, "busy")
    campaign = settings(
        max_attempts=1, causes=CauseRules(network_retry=NetworkRetry(initial_delay=timedelta(minutes=1)))
    )
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(carrier) as tq:
        state = await (await start_contact(time_env.client, tq, campaign_id, person, campaign)).result()

    # Two 503s, then the person is busy: with one try allowed, only that busy signal used it up.
    assert [a.cause for a in state.attempts] == [N, N, P]
    assert [a.outcome for a in state.attempts] == [CallOutcome.FAILED, CallOutcome.FAILED, CallOutcome.BUSY]
    assert state.final_outcome == FinalOutcome.UNREACHABLE
    assert state.final_reason == "1 attempts without an answer"
    gaps = [(b.dialled_at - a.dialled_at).total_seconds() for a, b in itertools.pairwise(state.attempts)]
    # 1 min, then 2 min (the network retry's backoff), far sooner than the campaign's 10-minute person backoff
    assert gaps == pytest.approx([60, 120], abs=3)
    assert all(gap >= want for gap, want in zip(gaps, [60, 120], strict=True))


async def test_a_contact_whose_network_keeps_failing_ends_unreachable_naming_the_code(
    time_env, run_worker, session_factory
) -> None:
    carrier = SimCarrier(time_scale=0.0, clock=server_clock, fault="trunk_down")
    campaign_id = new_campaign_id()
    person = contact(2, "answers")
    campaign = settings(max_attempts=4, causes=CauseRules(network_retry=NetworkRetry(max_retries=2)))
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(carrier) as tq:
        state = await (await start_contact(time_env.client, tq, campaign_id, person, campaign)).result()

    assert len(carrier.dials) == 3  # the first dial and its two network retries
    assert state.final_outcome == FinalOutcome.UNREACHABLE
    assert state.final_reason.startswith("3 network failures in a row, the last SIP 503 (failed)")


async def test_a_code_the_campaign_calls_final_ends_the_contact_after_one_dial(
    time_env, run_worker, sim, session_factory
):
    campaign_id = new_campaign_id()
    person = contact(3, "never_answers")  # SIP 480
    campaign = settings(max_attempts=4, causes=CauseRules(sip={480: F}))
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(sim) as tq:
        state = await (await start_contact(time_env.client, tq, campaign_id, person, campaign)).result()

    assert len(sim.dials) == 1
    assert state.final_outcome == FinalOutcome.UNREACHABLE
    assert state.final_reason.startswith("not dialled again: SIP 480 (no-answer)")


async def test_every_attempt_keeps_its_raw_codes_and_class(time_env, run_worker, session_factory) -> None:
    carrier = FlakyTrunk(failing={1}, clock=server_clock)
    campaign_id = new_campaign_id()
    person = contact(4, "invalid_number")
    campaign = settings()
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(carrier) as tq:
        state = await (await start_contact(time_env.client, tq, campaign_id, person, campaign)).result()
    async with session_factory() as session:
        attempts = await queries.attempts_for(session, campaign_id, person.external_id)

    assert state.final_outcome == FinalOutcome.INVALID_NUMBER
    assert [(a.status_code, a.network_status, a.cause) for a in attempts] == [
        (503, "failed", "network_retry"),
        (404, "failed", "final"),
    ]
