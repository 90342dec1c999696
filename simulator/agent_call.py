"""The offline call: when a simulated callee picks up, the real agent talks to their persona in text.

Used by the sim carrier. The agent's tools go through the same Temporal bridge as on a live call,
so the demo's notes, shared information, callbacks and the call's disposition (which decides its
outcome) are recorded by the agent's own tool calls. Nothing here decides an outcome.
"""

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from temporalio.client import Client

from schemas.agent import CallJob
from schemas.calls import DialRequest
from schemas.providers import LLMChoice
from schemas.settings import Settings
from simulator.carrier import CALLBACK_PERSONAS, AgentCall, AgentCallReport
from voice_worker.temporal_bridge import TemporalCallBridge

if TYPE_CHECKING:
    from livekit.agents import llm


def make_agent_call(
    client: Client, clock: Callable[[], datetime] | None = None, *, settings: Settings | None = None
) -> AgentCall:
    """The sim carrier's hook: run the agent for one answered call through ``client``.

    The model is ``settings.agent_llm``: "scripted" (also without settings) is the offline deterministic model;
    "openai" is OpenAI's chat model ``settings.openai_model`` against the same personas, with the agents' OpenAI
    key (``OPENAI_API_KEY``).
    """

    async def agent_call(request: DialRequest, persona: str) -> AgentCallReport:
        from simulator.conversation import run_text_call  # LiveKit loads only when a call needs it

        assert request.agent is not None
        job = CallJob(
            workflow_id=request.workflow_id,
            campaign_id=request.campaign_id,
            attempt=request.attempt,
            contact=request.contact,
            agent=request.agent,
            context=request.context,
        )
        bridge = TemporalCallBridge(client, request.workflow_id, request.attempt)
        # Called back when they asked to be, a "call me later" person now has time to talk.
        voice_persona = "answers" if request.is_callback and persona in CALLBACK_PERSONAS else persona
        result = await run_text_call(job, voice_persona, bridge, clock=clock, llm=_language_model(settings))
        spoken = result.transcript
        duration = (spoken[-1].started_at - spoken[0].started_at).total_seconds() if len(spoken) > 1 else 0.0
        return AgentCallReport(
            duration_seconds=duration,
            detail=f"agent: {result.end_reason or 'conversation over'}",
        )

    return agent_call


def _language_model(settings: Settings | None) -> "llm.LLM | None":
    if settings is None or settings.agent_llm == "scripted":
        return None  # run_text_call's default: the offline ScriptedLLM
    from voice_worker.models import build_llm

    return build_llm(LLMChoice(provider="openai", model=settings.openai_model), settings)
