"""The live LiveKit worker: one job per call, the CallJob in the job metadata.

Cannot run without a LiveKit server and the agents' model vendors (voice_worker/models.py); it is kept small and
must import cleanly.
Everything it does beyond wiring is in RingflowAgent (tested in text mode).
"""

import asyncio
import contextlib
import logging
import os
from datetime import timedelta
from typing import Any

from livekit.agents import JobContext, WorkerOptions
from livekit.agents.worker import ServerEnvOption
from opentelemetry import trace

from schemas.agent import CallJob
from schemas.settings import get_settings
from voice_worker.agent import Recorder, RingflowAgent, Transfer, utc_now
from voice_worker.bridge import BridgeError, CallBridge
from voice_worker.models import build_session
from voice_worker.transcript import TranscriptCollector

log = logging.getLogger(__name__)

TRANSCRIPT_FLUSH_SECONDS = 2.0


def agent_name() -> str:
    """The name dispatch targets (explicit dispatch: jobs reach only this worker)."""
    return os.environ.get("RINGFLOW_AGENT_NAME", "ringflow-agent")


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
    try:
        session = build_session(job.agent, get_settings())
    except ValueError as err:  # ModelSetupError, or a plugin refusing its options: either way, before joining
        await _refuse_call(ctx, bridge, str(err))
        return
    await ctx.connect()
    collector = TranscriptCollector(bridge, utc_now)
    collector.attach(session)
    flusher = asyncio.create_task(collector.run_periodic(TRANSCRIPT_FLUSH_SECONDS), name="ringflow.transcript")

    async def _stop_flushing() -> None:
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher

    ctx.add_shutdown_callback(_stop_flushing)
    agent = RingflowAgent(job, bridge, transfer=_sip_transfer(ctx), recorder=_egress_recorder(ctx))
    await session.start(room=ctx.room, agent=agent)


async def _refuse_call(ctx: JobContext, bridge: CallBridge, reason: str) -> None:
    """The agent cannot run here (a key or plugin is missing): say why to the call's workflow and hang up at once,
    without joining, rather than leave the callee in a silent room or fail in the middle of the call."""
    log.error("not taking the call: %s", reason)
    try:
        await bridge.end_call(f"the agent could not start: {reason}")
    except BridgeError as err:
        log.warning("could not tell the call's workflow why: %s", err)
    await ctx.delete_room()
    ctx.shutdown(reason="agent models unavailable")


def _sip_transfer(ctx: JobContext) -> Transfer:
    """Transfer the room's phone participant (the callee's SIP leg) to a number, by SIP REFER."""

    async def transfer(target: str, ringing_timeout: timedelta | None = None) -> None:
        from livekit import rtc

        from schemas.settings import get_settings
        from telephony.livekit_sip import LiveKitSipCarrier

        callee = next(
            (p for p in ctx.room.remote_participants.values() if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP),
            None,
        )
        if callee is None:
            raise RuntimeError("no phone participant in the room to transfer")
        await LiveKitSipCarrier(get_settings()).transfer_call(
            ctx.room.name, callee.identity, target, ringing_timeout=ringing_timeout
        )

    return transfer


def _egress_recorder(ctx: JobContext) -> Recorder:
    """Record the room's audio through LiveKit Egress (``infra/recordings.py``); the egress ends with the room, and
    the call's workflow records its file afterwards (``collect_recordings``)."""

    async def record() -> None:
        from livekit import api

        from infra.recordings import start_recording

        settings = get_settings()
        async with api.LiveKitAPI(settings.livekit_url, settings.livekit_api_key, settings.livekit_api_secret) as lk:
            info = await start_recording(lk, settings, ctx.room.name)
        log.info("recording the call: egress %s", info.egress_id)

    return record


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
