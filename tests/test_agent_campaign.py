"""A campaign whose answered calls are taken by the real agent (text mode) against the sim personas.

Everything the agent does reaches the store through the contact workflow: transcript, shared
information, notes and the callback it booked with its own tool call.
"""

from datetime import timedelta

from conftest import server_clock
from workflow_helpers import contact, new_campaign_id, seed, settings, start_campaign

from schemas.agent import AgentConfig, InformationCategory
from schemas.outcomes import CallOutcome, FinalOutcome
from schemas.workflow_io import contact_workflow_id
from simulator.agent_call import make_agent_call
from simulator.carrier import SimCarrier
from store import analyses, queries

AGENT = AgentConfig(
    name="sam",
    instructions="You are Sam, calling customers about their Ringflow onboarding. Be brief and polite.",
    greeting="Hi, this is Sam from Ringflow. Do you have a minute?",
    context={"offer": "a free month of Pro"},
)


async def test_the_agent_talks_to_every_answering_persona_and_its_tools_reach_the_store(
    time_env, run_worker, session_factory
):
    campaign_id = new_campaign_id()
    personas = ["qualifies", "callback", "not_interested", "do_not_call", "answers", "busy", "voicemail"]
    people = [contact(i, persona) for i, persona in enumerate(personas)]
    campaign = settings(max_attempts=2, initial_backoff=timedelta(minutes=30), callback_horizon=timedelta(days=2))
    await seed(session_factory, campaign_id, people, campaign)
    carrier = SimCarrier(time_scale=0.0, clock=server_clock, agent_call=make_agent_call(time_env.client, server_clock))
    async with run_worker(carrier) as tq:
        handle = await start_campaign(time_env.client, tq, campaign_id, campaign, agent=AGENT)
        result = await handle.result()
        for person in people:  # a contact ends once its calls' analyses are stored
            await time_env.client.get_workflow_handle(contact_workflow_id(campaign_id, person.external_id)).result()

    assert result.progress.done
    async with session_factory() as session:
        outcomes = await queries.outcome_counts(session, campaign_id)
        attempts = {p.external_id: await queries.attempts_for(session, campaign_id, p.external_id) for p in people}
        transcripts = {p.external_id: await queries.transcript_for(session, campaign_id, p.external_id) for p in people}
        qualified_info = await queries.information_for(
            session, campaign_id, people[0].external_id, InformationCategory.QUALIFICATION
        )
        callbacks = await queries.callbacks_for(session, campaign_id, people[1].external_id)
    for person in people[:5]:
        lines = transcripts[person.external_id]
        assert lines[0].speaker == "agent" and "Sam" in lines[0].text, person.attributes
        assert any(line.speaker == "callee" for line in lines), person.attributes
    assert transcripts[people[5].external_id] == [], "a busy line never reaches the agent"
    assert any("leave a message" in line.text for line in transcripts[people[6].external_id]), "the machine's words"
    assert qualified_info, "the agent shared the qualification it heard"
    assert len(callbacks) == 1 and callbacks[0].reason, "the agent booked the callback with its tool"
    assert outcomes == {
        FinalOutcome.QUALIFIED: 1,
        FinalOutcome.COMPLETED: 2,  # the plain answerer, and the callback kept on the second call
        FinalOutcome.NOT_INTERESTED: 1,
        FinalOutcome.DO_NOT_CALL: 1,
        FinalOutcome.UNREACHABLE: 2,  # busy, and the answering machine (twice)
    }
    dispositions = {p.attributes["persona"]: [a.disposition for a in attempts[p.external_id]] for p in people}
    assert dispositions == {
        "qualifies": ["qualified"],
        "callback": ["callback_requested", "completed"],  # booked on the first call, kept on the second
        "not_interested": ["not_interested"],
        "do_not_call": ["do_not_call"],
        "answers": ["completed"],
        "busy": [None, None],
        "voicemail": [None, None],
    }
    assert {a.call_outcome for a in attempts[people[6].external_id]} == {CallOutcome.VOICEMAIL.value}
    async with session_factory() as session:
        analysed = {
            p.attributes["persona"]: await analyses.latest_of_contact(session, campaign_id, p.external_id)
            for p in people
        }
    assert {persona for persona, found in analysed.items() if found is None} == {"busy", "voicemail"}, (
        "every connected call is analysed, and only those"
    )
    qualified = analysed["qualifies"]
    assert qualified is not None and "40 employees" in qualified.summary and qualified.success is True


async def test_a_failing_analysis_neither_fails_nor_changes_the_contacts_outcome(
    dev_env, run_worker, session_factory, monkeypatch
):
    """On the real-time server: the retries wait their real backoff (2 s, then 4 s)."""
    import activities.analysis

    tries: list[int] = []

    async def broken(session, settings, campaign_id, external_id, attempt, config, outcome):
        tries.append(attempt)
        raise RuntimeError("the analyser is down")

    monkeypatch.setattr(activities.analysis, "analyse_call", broken)
    campaign_id = new_campaign_id()
    people = [contact(0, "qualifies"), contact(1, "not_interested")]
    campaign = settings(max_attempts=1)
    await seed(session_factory, campaign_id, people, campaign)
    carrier = SimCarrier(time_scale=0.0, agent_call=make_agent_call(dev_env.client))
    async with run_worker(carrier, dev_env) as tq:
        handle = await start_campaign(dev_env.client, tq, campaign_id, campaign, agent=AGENT)
        result = await handle.result()
        for person in people:  # each contact ends once its analysis has given up
            await dev_env.client.get_workflow_handle(contact_workflow_id(campaign_id, person.external_id)).result()

    assert result.progress.done
    assert len(tries) == 6, "each analysis was tried three times, then given up"
    async with session_factory() as session:
        assert await queries.outcome_counts(session, campaign_id) == {
            FinalOutcome.QUALIFIED: 1,
            FinalOutcome.NOT_INTERESTED: 1,
        }
        assert await analyses.latest_of_contact(session, campaign_id, people[0].external_id) is None
