"""The real RingflowAgent in a text-mode AgentSession, driven by ScriptedLLM, against a FakeBridge.

No room, no audio models, no network: each ``session.run(user_input=...)`` is one callee turn.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from livekit.agents import AgentSession, ToolError
from voice_fakes import FakeBridge

from schemas.agent import AgentConfig, AgentTool, CallJob, InformationCategory, LiveContext, SharedInformation
from schemas.contact import Contact
from schemas.dispositions import Disposition
from schemas.outcomes import FinalOutcome
from simulator.conversation import run_text_call
from simulator.personas import PERSONA_LINES
from simulator.scripted_llm import ScriptedLLM
from voice_worker.agent import CallTools, RingflowAgent, render_instructions

NOW = datetime(2025, 3, 29, 12, 0, tzinfo=UTC)  # a Saturday; London moves to BST the next night
ARABIC = re.compile(r"[\u0600-\u06FF]")


def clock() -> datetime:
    return NOW


def make_job(
    *,
    off: tuple[AgentTool, ...] = (),
    transfer_number: str | None = None,
    language: str = "en",
    zone: str = "Europe/London",
    context: dict[str, Any] | None = None,
) -> CallJob:
    agent = AgentConfig(
        name="sales",
        instructions="You sell Acme payroll software. Be brief and friendly.",
        greeting="Hi, this is Ava from Acme.",
        language=language,
        context={"product": "Acme payroll", "offer": "two months free"},
        tools={tool: False for tool in off},
        transfer_number=transfer_number,
    )
    return CallJob(
        workflow_id="contact-c1-42",
        campaign_id="c1",
        attempt=1,
        contact=Contact(external_id="42", name="Sam Lee", phone="+442071838750", timezone=zone),
        agent=agent,
        context=context or {"account": "A-17"},
    )


@asynccontextmanager
async def call(
    job: CallJob, bridge: FakeBridge, **agent_kwargs: Any
) -> AsyncIterator[tuple[AgentSession, RingflowAgent, ScriptedLLM]]:
    model = ScriptedLLM()
    agent = RingflowAgent(job, bridge, clock=clock, **agent_kwargs)
    async with AgentSession(llm=model) as session:
        await session.start(agent)
        await agent.wait_greeted(5)
        yield session, agent, model
        await agent.stop_polling()


def messages(result: Any) -> list[str]:
    return [e.item.text_content for e in result.events if e.type == "message" and e.item.role == "assistant"]


# ---- instructions, greeting ----------------------------------------------------------------------


def test_instructions_render_context_contact_and_local_time() -> None:
    text = render_instructions(make_job(zone="America/New_York"), NOW, LiveContext(version=2, data={"mood": "busy"}))
    assert text.startswith("You sell Acme payroll software.")
    for line in ("product: Acme payroll", "offer: two months free", "account: A-17", "mood: busy", "name: Sam Lee"):
        assert line in text
    assert "time zone: America/New_York" in text
    assert "Saturday 2025-03-29 08:00 (America/New_York)" in text


async def test_greets_then_answers_the_first_turn() -> None:
    bridge = FakeBridge()
    async with call(make_job(), bridge) as (session, _agent, _model):
        first = next(item for item in session.history.items if item.type == "message")
        assert first.role == "assistant" and first.text_content == "Hi, this is Ava from Acme."
        result = await session.run(user_input="Hello?")
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        assert "Sam Lee" in messages(result)[0]
    assert bridge.calls == [] or set(bridge.call_names) <= {"append_transcript"}


# ---- every tool ----------------------------------------------------------------------------------


async def test_take_note_then_goodbye_and_end_call() -> None:
    bridge = FakeBridge()
    async with call(make_job(), bridge) as (session, agent, _):
        result = await session.run(user_input="Thanks, I'll think about it.")
        result.expect.next_event().is_function_call(name="take_note")
        result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_function_call(name="record_disposition")
        result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_message(role="assistant")
        result.expect.next_event().is_function_call(name="end_call", arguments={"reason": "undecided"})
    assert bridge.notes == ["Callee will think about it: Thanks, I'll think about it."]
    assert bridge.recorded == [("completed", "callee will think about it")]
    assert bridge.ended == ["undecided"]
    assert agent.ended_reason == "undecided"


async def test_contact_details_are_shared() -> None:
    bridge = FakeBridge()
    async with call(make_job(), bridge) as (session, _, _):
        result = await session.run(user_input="My name is Dana Reyes, email dana@example.com")
        result.expect.next_event().is_function_call(name="share_information", arguments={"category": "contact_details"})
        result.expect.next_event().is_function_call_output(output="Recorded under contact_details.")
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
    assert bridge.shared[0].category == InformationCategory.CONTACT_DETAILS
    assert bridge.shared[0].information == "name: Dana Reyes; dana@example.com"


async def test_qualified_lead_is_shared_noted_and_closed() -> None:
    bridge = FakeBridge()
    async with call(make_job(), bridge) as (session, _, _):
        result = await session.run(user_input="We have 40 employees and a budget of 5000, I'm interested.")
        result.expect.next_event().is_function_call(name="share_information", arguments={"category": "qualification"})
        result.expect.next_event().is_function_call_output()
        result.expect.next_event().is_function_call(name="take_note")
        result.expect.next_event().is_function_call_output()
        result.expect.next_event().is_function_call(name="record_disposition")
        result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_message(role="assistant")
        result.expect.next_event().is_function_call(name="end_call", arguments={"reason": "qualified"})
    assert bridge.call_names == ["share_information", "take_note", "record_disposition", "end_call"]
    assert [name for name, _ in bridge.recorded] == ["qualified"]


async def test_get_shared_information_reads_back_what_is_known() -> None:
    bridge = FakeBridge(
        shared=[SharedInformation(category=InformationCategory.CONTACT_DETAILS, information="email: s@x.io")]
    )
    async with call(make_job(), bridge) as (session, _, _):
        result = await session.run(user_input="What do you have on me?")
        result.expect.next_event().is_function_call(name="get_shared_information")
        result.expect.next_event().is_function_call_output(output="contact_details: email: s@x.io")
        assert "email: s@x.io" in messages(result)[0]


async def test_schedule_callback_resolves_in_the_contacts_zone() -> None:
    bridge = FakeBridge()
    async with call(make_job(), bridge) as (session, _, _):
        result = await session.run(user_input="I'm busy, call me back tomorrow at 10")
        result.expect.next_event().is_function_call(name="schedule_callback", arguments={"when": "tomorrow at 10"})
        result.expect.next_event().is_function_call_output(is_error=False)
        result.expect.next_event().is_message(role="assistant")
        result.expect.next_event().is_function_call(name="end_call")
    ((at, _reason),) = bridge.callbacks
    # Sunday 30 March 2025 is the first day of BST: 10:00 local is 09:00 UTC.
    assert at.isoformat() == "2025-03-30T10:00:00+01:00"
    assert at.astimezone(UTC).hour == 9
    assert bridge.recorded == [("callback_requested", "callee asked to be called back")]
    assert bridge.ended == ["callback booked"]


async def test_callback_without_time_asks_when_then_books() -> None:
    bridge = FakeBridge()
    async with call(make_job(), bridge) as (session, _, _):
        asked = await session.run(user_input="Can you call me back later?")
        asked.expect.next_event().is_message(role="assistant")
        asked.expect.no_more_events()
        assert "When would be a good time" in messages(asked)[0]
        booked = await session.run(user_input="In two hours.")
        booked.expect.next_event().is_function_call(name="schedule_callback", arguments={"when": "In two hours"})
    assert bridge.callbacks[0][0] == datetime(2025, 3, 29, 14, 0, tzinfo=UTC)


# NOW is 08:00 on Saturday in New York and 15:00 in Riyadh.
@pytest.mark.parametrize(
    ("said", "phrase", "zone", "language", "expected"),
    [
        ("Sorry, call me back at noon.", "at noon", "America/New_York", "en", "2025-03-29T12:00:00-04:00"),
        (
            "I'm busy, call me back tomorrow at ten.",
            "tomorrow at ten",
            "America/New_York",
            "en",
            "2025-03-30T10:00:00-04:00",
        ),
        ("Call me back half past ten.", "half past ten", "America/New_York", "en", "2025-03-29T10:30:00-04:00"),
        (
            "I'm busy all week, call me back next Tuesday after 3pm.",
            "next Tuesday after 3pm",
            "America/New_York",
            "en",
            "2025-04-01T15:00:00-04:00",
        ),
        ("مشغول، اتصل بي بكرة الساعة عشرة", "بكرة الساعة عشرة", "Asia/Riyadh", "ar", "2025-03-30T10:00:00+03:00"),
        (
            "اتصل بي غدا الساعة العاشرة صباحا",
            "غدا الساعة العاشرة صباحا",
            "Asia/Riyadh",
            "ar",
            "2025-03-30T10:00:00+03:00",
        ),
        ("أنا مشغول، اتصل بي بعد ساعتين", "بعد ساعتين", "Asia/Riyadh", "ar", "2025-03-29T17:00:00+03:00"),
    ],
)
async def test_schedule_callback_books_the_callees_own_words(
    said: str, phrase: str, zone: str, language: str, expected: str
) -> None:
    """The model passes the phrase untranslated; the tool books it in the callee's zone."""
    bridge = FakeBridge()
    async with call(make_job(zone=zone, language=language), bridge) as (session, _, _):
        result = await session.run(user_input=said)
        result.expect.next_event().is_function_call(name="schedule_callback", arguments={"when": phrase})
        result.expect.next_event().is_function_call_output(is_error=False)
    ((at, _reason),) = bridge.callbacks
    assert at.isoformat() == expected


async def test_refused_callback_is_said_back_and_the_call_goes_on() -> None:
    bridge = FakeBridge(refuse_callback="That time is outside our calling hours.")
    async with call(make_job(), bridge) as (session, agent, _):
        result = await session.run(user_input="Call me back tonight")
        result.expect.next_event().is_function_call(name="schedule_callback")
        refusal = "That time is outside our calling hours."
        result.expect.next_event().is_function_call_output(output=refusal, is_error=True)
        said = result.expect.next_event().is_message(role="assistant").event().item.text_content
        result.expect.no_more_events()
        assert said == "That time is outside our calling hours. What other time would suit you?"
        assert agent.ended_reason is None and bridge.ended == []

        bridge.refuse_callback = None
        again = await session.run(user_input="Then call me back tomorrow at 10am")
        again.expect.next_event().is_function_call(name="schedule_callback", arguments={"when": "tomorrow at 10am"})
        again.expect.next_event().is_function_call_output(is_error=False)
    assert len(bridge.callbacks) == 1


async def test_unintelligible_time_becomes_a_tool_error_sentence() -> None:
    bridge = FakeBridge()
    async with call(make_job(), bridge) as (session, _, _):
        result = await session.run(user_input="Call me back at 25")
        result.expect.next_event().is_function_call(name="schedule_callback", arguments={"when": "at 25"})
        output = result.expect.next_event().is_function_call_output(is_error=True).event().item.output
        assert output.startswith("I couldn't understand 'at 25' as a time.")
        assert "I couldn't understand 'at 25' as a time" in messages(result)[0]
    assert bridge.call_names == []  # nothing reached the workflow


async def test_bridge_failure_is_a_tool_error_and_the_session_survives() -> None:
    bridge = FakeBridge(fail="I'm sorry, I couldn't save that right now.")
    async with call(make_job(), bridge) as (session, agent, _):
        result = await session.run(user_input="I'm not interested.")
        result.expect.next_event().is_function_call(name="record_disposition")
        result.expect.next_event().is_function_call_output(is_error=True)
        assert messages(result) == ["I'm sorry, I couldn't save that right now."]
        assert agent.ended_reason is None

        bridge.fail = None
        retry = await session.run(user_input="I said I'm not interested.")
        retry.expect.next_event().is_function_call(name="record_disposition")
        retry.expect.next_event().is_function_call_output(is_error=False)
    assert bridge.recorded == [("not_interested", "I said I'm not interested.")]


async def test_not_interested_is_recorded_as_a_disposition_and_ends() -> None:
    bridge = FakeBridge()
    async with call(make_job(), bridge) as (session, agent, _):
        result = await session.run(user_input="No, I'm not interested, thanks.")
        result.expect.next_event().is_function_call(
            name="record_disposition",
            arguments={"disposition": "not_interested", "reason": "No, I'm not interested, thanks."},
        )
        result.expect.next_event().is_function_call_output()
        result.expect.next_event().is_message(role="assistant")
        result.expect.next_event().is_function_call(name="end_call")
    assert bridge.recorded == [("not_interested", "No, I'm not interested, thanks.")]
    assert agent.ended_reason == "not interested"


async def test_mark_not_interested_and_mark_do_not_call_record_the_matching_disposition() -> None:
    """The older tools stay for agents that use them, and go through the same disposition path."""
    bridge = FakeBridge()
    tools = CallTools(make_job(), bridge, clock)
    await tools.mark_not_interested("too expensive")
    await tools.mark_do_not_call("stop calling")
    assert bridge.recorded == [("not_interested", "too expensive"), ("do_not_call", "stop calling")]


async def test_the_disposition_tool_lists_the_agents_own_dispositions_for_the_model() -> None:
    booked = Disposition(name="appointment_booked", description="A demo was booked.", outcome=FinalOutcome.QUALIFIED)
    job = make_job()
    job = job.model_copy(
        update={"agent": job.agent.model_copy(update={"dispositions": [*job.agent.dispositions, booked]})}
    )
    agent = RingflowAgent(job, FakeBridge(), clock=clock)
    [tool] = [t for t in agent.tools if getattr(t, "info", None) and t.info.name == "record_disposition"]
    schema = tool.info.raw_schema
    assert "- appointment_booked: A demo was booked." in schema["description"]
    assert "- qualified: " in schema["description"] and "- wrong_person: " in schema["description"]
    assert "appointment_booked" in schema["parameters"]["properties"]["disposition"]["enum"]


async def test_an_unknown_disposition_comes_back_to_the_model_as_a_sentence() -> None:
    bridge = FakeBridge()
    tools = CallTools(make_job(), bridge, clock)
    with pytest.raises(ToolError, match="'sold_a_car' is not one of this agent's dispositions"):
        await tools._record_disposition_tool({"disposition": "sold_a_car", "reason": "?"})
    assert bridge.recorded == []


@pytest.mark.parametrize("line", ["Please don't call me again.", "Stop calling me!"])
async def test_do_not_call_request_reaches_the_do_not_call_path(line: str) -> None:
    bridge = FakeBridge()
    async with call(make_job(), bridge) as (session, _, _):
        result = await session.run(user_input=line)
        result.expect.next_event().is_function_call(
            name="record_disposition", arguments={"disposition": "do_not_call", "reason": line}
        )
    assert bridge.recorded == [("do_not_call", line)]
    assert bridge.ended == ["do not call"]


async def test_end_call_closes_the_text_session() -> None:
    bridge = FakeBridge()
    async with call(make_job(), bridge) as (session, agent, _):
        closed = asyncio.get_running_loop().create_future()
        session.on("close", lambda ev: closed.done() or closed.set_result(ev))
        result = await session.run(user_input="This is a scam, get lost!")
        result.expect.next_event().is_message(role="assistant")
        result.expect.next_event().is_function_call(name="end_call", arguments={"reason": "hostile callee"})
        await asyncio.wait_for(closed, 5)
    assert agent.ended_reason == "hostile callee"
    assert bridge.ended == ["hostile callee"]


async def test_end_call_bridge_failure_still_hangs_up() -> None:
    bridge = FakeBridge(fail="The workflow could not be reached.")
    async with call(make_job(), bridge) as (session, agent, _):
        closed = asyncio.get_running_loop().create_future()
        session.on("close", lambda ev: closed.done() or closed.set_result(ev))
        result = await session.run(user_input="Shut up, idiot")
        result.expect.contains_function_call_output(is_error=True)
        await asyncio.wait_for(closed, 5)
    assert agent.ended_reason == "hostile callee"


async def test_get_current_time_is_in_the_contacts_zone() -> None:
    bridge = FakeBridge()
    async with call(make_job(zone="Asia/Riyadh"), bridge) as (session, _, _):
        result = await session.run(user_input="What time is it?")
        result.expect.next_event().is_function_call(name="get_current_time")
        result.expect.next_event().is_function_call_output(output="Saturday 2025-03-29 15:00 (Asia/Riyadh)")
        assert "15:00" in messages(result)[0]


async def test_transfer_to_human_only_with_a_transfer_number() -> None:
    bridge = FakeBridge()
    async with call(make_job(), bridge) as (session, agent, model):
        assert "transfer_to_human" not in agent.tool_names
        result = await session.run(user_input="I want to speak to a real person.")
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        assert "transfer_to_human" not in model.requests[-1].tool_names
    assert bridge.transfers == []

    bridge = FakeBridge()
    async with call(make_job(transfer_number="+442071838751"), bridge) as (session, agent, _):
        result = await session.run(user_input="I want to speak to a real person.")
        result.expect.next_event().is_function_call(name="transfer_to_human")
        result.expect.next_event().is_function_call_output(is_error=False)
        assert "connecting you" in messages(result)[0]
    assert bridge.transfers == ["I want to speak to a real person."]


async def test_transfer_hands_the_phone_leg_to_the_transfer_number() -> None:
    bridge, transferred = FakeBridge(), []

    async def transfer(number: str) -> None:
        transferred.append(number)

    job = make_job(transfer_number="+442071838751")
    async with call(job, bridge, transfer=transfer) as (session, _, _):
        await session.run(user_input="I want to speak to a real person.")
    assert transferred == ["+442071838751"]
    assert bridge.transfers == ["I want to speak to a real person."]


async def test_a_failed_sip_transfer_is_a_tool_error_and_the_session_goes_on() -> None:
    async def transfer(number: str) -> None:
        raise RuntimeError("SIP 486")

    async with call(make_job(transfer_number="+442071838751"), FakeBridge(), transfer=transfer) as (session, _, _):
        result = await session.run(user_input="I want to speak to a real person.")
        result.expect.next_event().is_function_call(name="transfer_to_human")
        output = result.expect.next_event().is_function_call_output()
        assert output.event().item.is_error
        assert "couldn't connect you" in output.event().item.output
        await session.run(user_input="Okay. What's the offer exactly?")


# ---- tool toggles ------------------------------------------------------------------------------


async def test_tools_switched_off_are_never_offered_to_the_model() -> None:
    bridge = FakeBridge()
    job = make_job(
        off=(
            AgentTool.SCHEDULE_CALLBACK,
            AgentTool.MARK_NOT_INTERESTED,
            AgentTool.TAKE_NOTE,
            AgentTool.DETECTED_ANSWERING_MACHINE,
            AgentTool.RECORD_DISPOSITION,
        )
    )
    async with call(job, bridge) as (session, agent, model):
        offered = {"end_call", "get_current_time", "get_shared_information", "share_information"}
        assert set(agent.tool_names) == offered
        result = await session.run(user_input="Call me back tomorrow at 10")
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        assert set(model.requests[-1].tool_names) == offered
        result = await session.run(user_input="Don't call me again")
        result.expect.next_event().is_message(role="assistant")
        result.expect.next_event().is_function_call(name="end_call")
    assert all(set(request.tool_names) <= offered for request in model.requests)
    assert bridge.callbacks == [] and bridge.recorded == [] and bridge.notes == []


# ---- live context ------------------------------------------------------------------------------


async def test_live_context_change_reaches_a_running_session() -> None:
    bridge = FakeBridge()
    async with call(make_job(), bridge, poll_interval=0.02) as (session, agent, model):
        first = await session.run(user_input="What's the offer?")
        assert "two months free" in messages(first)[0]

        bridge.live = LiveContext(version=1, data={"offer": "50% off until Friday"})
        await asyncio.wait_for(agent.context_changed.wait(), 3)
        assert "offer: 50% off until Friday" in agent.instructions
        second = await session.run(user_input="Sorry, what was the offer again?")
        assert "50% off until Friday" in messages(second)[0]
        assert "offer: 50% off until Friday" in model.requests[-1].instructions
    assert bridge.live_polls >= 1


# ---- whole text calls ---------------------------------------------------------------------------


async def test_run_text_call_stores_the_transcript_in_order() -> None:
    bridge = FakeBridge()
    result = await run_text_call(make_job(), "callback", bridge, clock=clock)
    lines = PERSONA_LINES["callback"]
    assert [s.speaker for s in result.transcript] == ["agent", "callee", "agent", "callee", "agent", "callee", "agent"]
    assert [s.text for s in result.transcript if s.speaker == "callee"] == lines
    assert result.transcript[0].text == "Hi, this is Ava from Acme."
    assert bridge.transcript == result.transcript  # all delivered, in order
    assert len(bridge.transcript_batches) >= len(lines)  # small batches, one per turn
    assert result.ended_by_agent and result.end_reason == "callback booked"
    assert result.tools_called == ["schedule_callback", "end_call"]
    assert bridge.recorded == [("callback_requested", "callee asked to be called back")]


async def test_run_text_call_stops_when_lines_run_out() -> None:
    bridge = FakeBridge()
    result = await run_text_call(make_job(), "answers", bridge, clock=clock, max_turns=2)
    assert not result.ended_by_agent
    assert [s.speaker for s in result.transcript] == ["agent", "callee", "agent", "callee", "agent"]


async def test_an_answering_machine_is_reported_and_gets_the_voicemail_message() -> None:
    bridge = FakeBridge()
    job = make_job()
    agent = job.agent.model_copy(update={"voicemail_message": "Sam from Ringflow here."})
    job = job.model_copy(update={"agent": agent})
    result = await run_text_call(job, "voicemail", bridge, clock=clock)
    assert result.tools_called == ["detected_answering_machine", "end_call"]
    assert bridge.voicemails and result.end_reason == "voicemail"
    assert [s.text for s in result.transcript if s.speaker == "agent"][-1] == "Sam from Ringflow here."


async def test_arabic_persona_is_answered_in_arabic() -> None:
    bridge = FakeBridge()
    result = await run_text_call(make_job(), "arabic", bridge, clock=clock)
    agent_lines = [s.text for s in result.transcript if s.speaker == "agent"][1:]  # after the configured greeting
    assert agent_lines and all(ARABIC.search(text) for text in agent_lines)
    assert bridge.callbacks[0][0].isoformat() == "2025-03-30T10:00:00+01:00"  # "غدا الساعة 10"


async def test_arabic_agent_replies_in_arabic_to_english() -> None:
    bridge = FakeBridge()
    async with call(make_job(language="ar"), bridge) as (session, _, _):
        result = await session.run(user_input="Hello?")
        assert ARABIC.search(messages(result)[0])


@pytest.mark.parametrize("persona", sorted(PERSONA_LINES))
async def test_every_persona_runs_to_an_end(persona: str) -> None:
    bridge = FakeBridge()
    result = await run_text_call(make_job(), persona, bridge, clock=clock)
    assert result.transcript[0].speaker == "agent"
    assert bridge.transcript == result.transcript
    expected_end = {
        "qualifies": "qualified",
        "callback": "callback booked",
        "callback_tomorrow": "callback booked",
        "not_interested": "not interested",
        "do_not_call": "do not call",
        "hostile": "hostile callee",
        "arabic": "callback booked",
        "answers": "undecided",
        "off_script": "not interested",
        "voicemail": "voicemail",
        "asks_for_slots": "undecided",  # without an HTTP tool to look the slots up, the script goes on
        "asks_for_billing": "undecided",  # without departments to route to, likewise
    }
    assert result.end_reason == expected_end[persona]


# ---- live worker wiring (no LiveKit server: construction only) ------------------------------------


@pytest.mark.parametrize("mode", ["pipeline", "realtime"])
async def test_live_worker_builds_the_configured_models(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from livekit.agents import llm as lk_llm

    from schemas.settings import Settings
    from voice_worker.entry import agent_name, worker_options
    from voice_worker.models import build_session

    job = make_job()
    job.agent.model_mode = mode
    session = build_session(job.agent, Settings().model_copy(update={"openai_agent_api_key": "sk-offline-test"}))
    if mode == "realtime":
        assert isinstance(session.llm, lk_llm.RealtimeModel) and session.tts is None
    else:
        assert session.stt is not None and session.tts is not None and session.vad is not None
    monkeypatch.setenv("RINGFLOW_AGENT_NAME", "ringflow-test")
    assert agent_name() == worker_options().agent_name == "ringflow-test"


def test_every_tool_has_an_openai_schema_and_a_description() -> None:
    from livekit.agents import llm as lk_llm

    agent = RingflowAgent(make_job(transfer_number="+442071838751"), FakeBridge(), clock=clock)
    schemas = lk_llm.ToolContext(agent.tools).parse_function_tools("openai")
    assert sorted(s["function"]["name"] for s in schemas) == sorted(
        [
            "take_note",
            "share_information",
            "get_shared_information",
            "schedule_callback",
            "mark_not_interested",
            "mark_do_not_call",
            "end_call",
            "get_current_time",
            "transfer_to_human",
            "detected_answering_machine",
            "record_disposition",
        ]
    )
    assert all(len(s["function"]["description"]) > 30 for s in schemas)
    assert "context" not in str(schemas[0]["function"]["parameters"])  # RunContext is not a model argument


# ---- routing by the scripted model ------------------------------------------------------------------


async def test_the_scripted_model_routes_a_caller_who_names_what_a_department_is_for() -> None:
    from datetime import time

    from schemas.campaign import CallingWindow
    from schemas.departments import Department, RouteAction, RouteAnswer

    def open_department(name: str, description: str) -> Department:
        return Department(
            name=name, description=description, timezone="UTC", hours=[CallingWindow(start=time(0), end=time(0))],
            transfer_target="+12125550142",
        )  # fmt: skip

    closed = RouteAnswer(
        route_id="r1", department="billing", action=RouteAction.MESSAGE, say="I've taken a message for billing."
    )
    bridge = FakeBridge(
        routed_to=[open_department("sales", "Prices and quotes"), open_department("billing", "Invoices and refunds")],
        route_answers=[closed],
    )
    job = make_job()
    job.agent.departments = ["sales", "billing"]
    async with call(job, bridge) as (session, _agent, _model):
        chatter = await session.run(user_input="Hello, nice weather today.")
        assert "route_to_department" not in bridge.call_names
        result = await session.run(user_input="My invoice is wrong, who can help?")
        assert messages(chatter) and messages(result)[-1] == "I've taken a message for billing."
    [(_, (department, reason))] = [c for c in bridge.calls if c[0] == "route_to_department"]
    assert (department, reason) == ("billing", "My invoice is wrong, who can help?")
