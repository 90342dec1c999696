"""Offline text calls: the real RingflowAgent in a real AgentSession, talking to a scripted callee.

No room, no STT/TTS/VAD: the session runs in text mode and each persona line is one
``session.run(user_input=...)`` turn. This is what the sim carrier and tests use to exercise the
agent end to end without LiveKit or OpenAI.
"""

import asyncio
import contextlib

from livekit.agents import AgentSession, llm
from pydantic import BaseModel, Field

from schemas.agent import CallJob, TranscriptSegment
from simulator.personas import PERSONA_LINES
from simulator.scripted_llm import ScriptedLLM
from voice_worker.agent import MAX_TOOL_STEPS, Clock, RingflowAgent, utc_now
from voice_worker.bridge import CallBridge
from voice_worker.transcript import TranscriptCollector

GREETING_TIMEOUT = 5.0


class TextCallResult(BaseModel):
    ended_by_agent: bool
    end_reason: str | None = None
    transcript: list[TranscriptSegment] = Field(default_factory=list)
    tools_called: list[str] = Field(default_factory=list)


async def run_text_call(
    job: CallJob,
    persona: str,
    bridge: CallBridge,
    *,
    llm: llm.LLM | None = None,
    clock: Clock | None = None,
    max_turns: int = 8,
    poll_interval: float | None = None,
) -> TextCallResult:
    """Play ``persona``'s lines to the agent until it ends the call or the lines run out.

    Raises KeyError for an unknown persona. The transcript goes to ``bridge.append_transcript``
    after every turn, as a live call would send it.
    """
    lines = PERSONA_LINES[persona]
    clock = clock or utc_now
    model = llm or ScriptedLLM()
    extra = {} if poll_interval is None else {"poll_interval": poll_interval}
    agent = RingflowAgent(job, bridge, clock=clock, **extra)
    collector = TranscriptCollector(bridge, clock)
    session: AgentSession = AgentSession(llm=model, max_tool_steps=MAX_TOOL_STEPS)
    collector.attach(session)
    try:
        await session.start(agent)
        await agent.wait_greeted(GREETING_TIMEOUT)
        await collector.flush()
        for line in lines[:max_turns]:
            if agent.ended_reason is not None:
                break
            await session.run(user_input=line)
            await collector.flush()
    finally:
        await agent.stop_polling()
        with contextlib.suppress(Exception):
            await session.aclose()
        collector.detach(session)
        await collector.flush()
    return TextCallResult(
        ended_by_agent=agent.ended_reason is not None,
        end_reason=agent.ended_reason,
        transcript=list(collector.segments),
        tools_called=list(agent.call_tools.called),
    )


if __name__ == "__main__":  # pragma: no cover
    import sys

    from schemas.agent import AgentConfig
    from schemas.contact import Contact

    class _PrintBridge:
        """Prints what a workflow would receive."""

        def __getattr__(self, name: str):
            async def call(*args: object, **kwargs: object) -> object:
                print(f"  -> {name}{args}{kwargs or ''}")
                if name == "live_context":
                    from schemas.agent import LiveContext

                    return LiveContext()
                if name == "get_shared_information":
                    return []
                if name == "schedule_callback":
                    from schemas.workflow_io import CallbackConfirmation

                    at = args[0]
                    return CallbackConfirmation(
                        scheduled_for=at, requested_for=at, moved_into_window=False, replaced_earlier=False
                    )
                if name == "record_disposition":
                    from schemas.dispositions import DEFAULT_DISPOSITIONS, by_name

                    return by_name(list(DEFAULT_DISPOSITIONS), str(args[0]))
                return None

            return call

    demo_job = CallJob(
        workflow_id="demo",
        campaign_id="demo",
        attempt=1,
        contact=Contact(external_id="1", name="Sam", phone="+442071838750"),
        agent=AgentConfig(name="demo", instructions="You sell widgets.", greeting="Hi, this is Ringflow calling."),
    )
    result = asyncio.run(run_text_call(demo_job, sys.argv[1] if len(sys.argv) > 1 else "answers", _PrintBridge()))
    for seg in result.transcript:
        print(f"{seg.speaker:>6}: {seg.text}")
    print("ended:", result.end_reason)
