"""An agent's opening disclosure (AI, recording): said word for word before anything else, uninterruptible,
and in the transcript the workflow receives."""

from datetime import UTC, datetime
from typing import Any

import pytest
from livekit.agents import AgentSession
from livekit.agents.types import NOT_GIVEN
from voice_fakes import FakeBridge

from schemas.agent import AgentConfig, CallJob
from schemas.contact import Contact
from simulator.conversation import run_text_call
from simulator.scripted_llm import ScriptedLLM
from voice_worker.agent import RingflowAgent

NOW = datetime(2025, 3, 29, 12, 0, tzinfo=UTC)
DISCLOSURE = "You're speaking with an AI assistant from Acme, and this call is recorded."
GREETING = "Hi, this is Ava from Acme."


def clock() -> datetime:
    return NOW


def make_job(disclosure: str = DISCLOSURE, model_mode: str = "pipeline") -> CallJob:
    agent = AgentConfig(
        name="sales",
        instructions="You sell Acme payroll software.",
        greeting=GREETING,
        disclosure=disclosure,
        model_mode=model_mode,
    )
    contact = Contact(external_id="42", name="Sam Lee", phone="+442071838750", timezone="Europe/London")
    return CallJob(workflow_id="contact-c1-42", campaign_id="c1", attempt=1, contact=contact, agent=agent)


async def test_the_disclosure_is_said_first_uninterruptible_then_the_greeting() -> None:
    agent = RingflowAgent(make_job(), FakeBridge(), clock=clock)
    async with AgentSession(llm=ScriptedLLM()) as session:
        await session.start(agent)
        await agent.wait_greeted(5)
        said = [item.text_content for item in session.history.items if item.type == "message"]
        assert said == [DISCLOSURE, GREETING]
        assert agent.disclosure_handle is not None and agent.disclosure_handle.allow_interruptions is False
        assert agent.greeting_handle is not None and agent.greeting_handle.allow_interruptions is True
        await agent.stop_polling()


async def test_the_transcript_sent_to_the_workflow_starts_with_the_disclosure() -> None:
    bridge = FakeBridge()
    result = await run_text_call(make_job(), "not_interested", bridge, clock=clock)
    agent_lines = [s.text for s in result.transcript if s.speaker == "agent"]
    assert agent_lines[:2] == [DISCLOSURE, GREETING]
    assert result.transcript[0].speaker == "agent" and result.transcript[0].text == DISCLOSURE
    assert bridge.transcript == result.transcript
    assert [s.text for s in result.transcript].count(DISCLOSURE) == 1
    assert result.end_reason == "not interested"


async def test_an_agent_without_a_disclosure_opens_with_its_greeting() -> None:
    bridge = FakeBridge()
    result = await run_text_call(make_job(disclosure=""), "not_interested", bridge, clock=clock)
    assert result.transcript[0].text == GREETING
    assert DISCLOSURE not in [s.text for s in result.transcript]


class RealtimeSessionStandIn:
    """What on_enter sees of a realtime session with no TTS: it records what the agent asked to be spoken."""

    def __init__(self) -> None:
        from livekit.plugins import openai

        self.tts = None
        self.llm = openai.realtime.RealtimeModel()
        self.spoken: list[tuple[str, dict[str, Any]]] = []

    def generate_reply(self, **kwargs: Any) -> str:
        self.spoken.append(("generate_reply", kwargs))
        return f"handle-{len(self.spoken)}"

    def say(self, text: str, **kwargs: Any) -> str:
        self.spoken.append(("say", {"text": text, **kwargs}))
        return f"handle-{len(self.spoken)}"


async def test_a_realtime_model_is_told_to_say_the_disclosure_verbatim_before_greeting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Realtime without a TTS cannot say(): the model speaks the exact words, asked for first and uninterruptible."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-offline-test")
    stand_in = RealtimeSessionStandIn()
    monkeypatch.setattr(RingflowAgent, "session", property(lambda _self: stand_in))
    agent = RingflowAgent(make_job(model_mode="realtime"), FakeBridge(), clock=clock)
    await agent.on_enter()
    await agent.stop_polling()
    (first_kind, first), (second_kind, second) = stand_in.spoken
    assert first_kind == second_kind == "generate_reply"
    assert first["instructions"].endswith(DISCLOSURE) and first["allow_interruptions"] is False
    assert second["instructions"].endswith(GREETING) and second["allow_interruptions"] is NOT_GIVEN
