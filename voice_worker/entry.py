"""The live LiveKit worker: one job per call, the CallJob in the job metadata.

Cannot run without a LiveKit server and OpenAI; it is kept small and must import cleanly.
Everything it does beyond wiring is in RingflowAgent (tested in text mode).
"""

import asyncio
import contextlib
import logging
import os
from typing import Any

from livekit.agents import AgentSession, JobContext, WorkerOptions
from livekit.agents.worker import ServerEnvOption
from opentelemetry import trace

from schemas.agent import CallJob, ModelMode
from schemas.settings import get_settings
from voice_worker.agent import MAX_TOOL_STEPS, RingflowAgent, Transfer, utc_now
from voice_worker.bridge import CallBridge
from voice_worker.transcript import TranscriptCollector

log = logging.getLogger(__name__)

TRANSCRIPT_FLUSH_SECONDS = 2.0


def agent_name() -> str:
    """The name dispatch targets (explicit dispatch: jobs reach only this worker)."""
    return os.environ.get("RINGFLOW_AGENT_NAME", "ringflow-agent")


def build_session(job: CallJob) -> AgentSession:
    """Realtime: one speech-to-speech model. Pipeline: OpenAI STT + LLM + TTS with Silero VAD."""
    from livekit.plugins import openai, silero

    if job.agent.model_mode == ModelMode.REALTIME:
        return AgentSession(llm=openai.realtime.RealtimeModel(voice=job.agent.voice), max_tool_steps=MAX_TOOL_STEPS)
    language = job.agent.language.value
    return AgentSession(
        vad=silero.VAD.load(),
        stt=openai.STT(language=language),
        llm=openai.LLM(),
        tts=openai.TTS(voice=job.agent.voice),
        max_tool_steps=MAX_TOOL_STEPS,
    )


async def entrypoint(ctx: JobContext) -> None:
    job = CallJob.model_validate_json(ctx.job.metadata)
    from infra.logs import carry_log_context, log_context
    from infra.observability import start_voice_call_span
    from voice_worker.temporal_bridge import TemporalCallBridge  # Temporal client only in the live worker

    # The job's own process: its spans start here, and livekit-agents' log handler ships its records.
    call_span, flush_spans = start_voice_call_span(get_settings(), job, ctx.job.room.name)
    carry_log_context(logging.getLogger())

    async def _end_call_span() -> None:
        call_span.end()
        await asyncio.to_thread(flush_spans)

    ctx.add_shutdown_callback(_end_call_span)
    # The session's tasks start inside this block: their logs and the tools' spans belong to this call.
    with log_context(call_id=ctx.job.room.name, workflow_id=job.workflow_id), trace.use_span(call_span):
        await _run_call(ctx, job, await TemporalCallBridge.connect(job))


async def _run_call(ctx: JobContext, job: CallJob, bridge: CallBridge) -> None:
    await ctx.connect()
    session = build_session(job)
    collector = TranscriptCollector(bridge, utc_now)
    collector.attach(session)
    flusher = asyncio.create_task(collector.run_periodic(TRANSCRIPT_FLUSH_SECONDS), name="ringflow.transcript")

    async def _stop_flushing() -> None:
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher

    ctx.add_shutdown_callback(_stop_flushing)
    await session.start(room=ctx.room, agent=RingflowAgent(job, bridge, transfer=_sip_transfer(ctx)))


def _sip_transfer(ctx: JobContext) -> Transfer:
    """Transfer the room's phone participant (the callee's SIP leg) to a number, by SIP REFER."""

    async def transfer(number: str) -> None:
        from livekit import rtc

        from schemas.settings import get_settings
        from telephony.livekit_sip import LiveKitSipCarrier

        callee = next(
            (p for p in ctx.room.remote_participants.values() if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP),
            None,
        )
        if callee is None:
            raise RuntimeError("no phone participant in the room to transfer")
        await LiveKitSipCarrier(get_settings()).transfer_call(ctx.room.name, callee.identity, number)

    return transfer


def worker_options() -> WorkerOptions:
    """Explicit dispatch by name. livekit-agents serves the health check (``GET /``, 503 once it lost LiveKit)
    and ``GET /worker`` on ``voice_http_port`` under ``start`` (a free port under ``dev``), and, when
    ``voice_metrics_port`` is set, Prometheus ``/metrics`` gathered from the job processes too."""
    settings = get_settings()
    metrics: dict[str, Any] = {}
    if settings.voice_metrics_port is not None:
        metrics = {
            "prometheus_port": settings.voice_metrics_port,
            "prometheus_multiproc_dir": str(settings.data_dir / "voice-metrics"),
        }
    return WorkerOptions(
        entrypoint_fnc=entrypoint,
        agent_name=agent_name(),
        port=ServerEnvOption(dev_default=0, prod_default=settings.voice_http_port),
        **metrics,
    )
