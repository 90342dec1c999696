"""The agent's bridge into a live contact workflow: each tool's effect in the workflow and the store."""

from datetime import UTC, datetime, timedelta

import pytest
from workflow_helpers import contact, eventually, new_campaign_id, seed, settings, start_contact

from schemas.agent import InformationCategory, TranscriptSegment
from schemas.workflow_io import ContactPhase, ContextUpdate
from store import queries
from voice_worker.bridge import BridgeError
from voice_worker.temporal_bridge import TemporalCallBridge
from workflows.contact import ContactWorkflow


@pytest.fixture
async def waiting_contact(time_env, run_worker, sim, session_factory):
    """A contact between calls (its first call unanswered, the retry hours away) and a bridge to it."""
    campaign_id = new_campaign_id()
    person = contact(30, "never_answers")
    campaign = settings(max_attempts=3, initial_backoff=timedelta(hours=6))
    await seed(session_factory, campaign_id, [person], campaign)
    async with run_worker(sim) as tq:
        handle = await start_contact(time_env.client, tq, campaign_id, person, campaign)

        async def parked():
            state = await handle.query(ContactWorkflow.state)
            return state.phase == ContactPhase.WAITING_RETRY

        await eventually(parked)
        yield handle, TemporalCallBridge(time_env.client, handle.id, attempt=1), campaign_id, person
        if (await handle.describe()).status == 1:  # still running
            await handle.terminate("test over")


async def test_notes_and_information_reach_the_workflow_and_the_store(waiting_contact, session_factory):
    handle, bridge, campaign_id, person = waiting_contact
    await bridge.take_note("prefers email")
    await bridge.share_information(InformationCategory.CONTACT_DETAILS, "email: amal@example.org")
    await bridge.share_information(InformationCategory.QUALIFICATION, "40 employees")

    assert [i.information for i in await bridge.get_shared_information(None)] == [
        "email: amal@example.org",
        "40 employees",
    ]
    only = await bridge.get_shared_information(InformationCategory.QUALIFICATION)
    assert [i.information for i in only] == ["40 employees"]
    state = await handle.query(ContactWorkflow.state)
    assert state.notes_taken == 1
    async with session_factory() as session:
        assert await queries.notes_for(session, campaign_id, person.external_id) == ["prefers email"]
        stored = await queries.information_for(session, campaign_id, person.external_id)
    assert [(i.category, i.information) for i in stored] == [
        (InformationCategory.CONTACT_DETAILS, "email: amal@example.org"),
        (InformationCategory.QUALIFICATION, "40 employees"),
    ]


async def test_transcript_batches_are_stored_in_the_order_spoken(waiting_contact, session_factory):
    _, bridge, campaign_id, person = waiting_contact
    t0 = datetime(2026, 11, 21, 10, tzinfo=UTC)
    lines = [("agent", "Hello, this is Sam"), ("callee", "Hi"), ("agent", "Is now a good time?"), ("callee", "Yes")]
    segments = [
        TranscriptSegment(speaker=speaker, text=text, started_at=t0 + timedelta(seconds=i))
        for i, (speaker, text) in enumerate(lines)
    ]
    await bridge.append_transcript(segments[:2])
    await bridge.append_transcript(segments[2:])

    async def stored():
        async with session_factory() as session:
            found = await queries.transcript_for(session, campaign_id, person.external_id)
        return found if len(found) == 4 else None

    assert [(s.speaker, s.text) for s in await eventually(stored)] == lines


async def test_a_refused_callback_comes_back_as_a_sentence(waiting_contact):
    _, bridge, _, _ = waiting_contact
    with pytest.raises(BridgeError, match="already passed"):
        await bridge.schedule_callback(datetime(2020, 1, 1, tzinfo=UTC), "too late")


async def test_a_callback_booked_through_the_bridge_replaces_the_retry(waiting_contact, time_env):
    handle, bridge, _, _ = waiting_contact
    at = (await time_env.get_current_time()) + timedelta(hours=2)
    confirmation = await bridge.schedule_callback(at, "after lunch")
    assert confirmation.requested_for == at
    state = await handle.query(ContactWorkflow.state)
    assert state.phase == ContactPhase.WAITING_CALLBACK and state.callback.reason == "after lunch"


async def test_a_disposition_between_calls_is_refused_with_a_sentence(waiting_contact):
    """A disposition belongs to a call: between calls there is none to record it on."""
    handle, bridge, _, _ = waiting_contact
    with pytest.raises(BridgeError, match="no call is in progress"):
        await bridge.record_disposition("do_not_call", "asked never to be called again")
    with pytest.raises(BridgeError, match="'sold_a_car' is not one of this agent's dispositions"):
        await bridge.record_disposition("sold_a_car", "?")
    assert (await handle.query(ContactWorkflow.state)).final_outcome is None


async def test_live_context_edits_are_versioned(waiting_contact):
    handle, bridge, _, _ = waiting_contact
    before = await bridge.live_context()
    await handle.execute_update(ContactWorkflow.update_context, ContextUpdate(data={"offer": "20% off"}))
    after = await bridge.live_context()
    assert after.version == before.version + 1
    assert after.data["offer"] == "20% off"


async def test_transfer_without_a_transfer_number_is_refused(waiting_contact):
    _, bridge, _, _ = waiting_contact
    with pytest.raises(BridgeError, match="no person to transfer to"):
        await bridge.transfer_to_human("wants a manager")
