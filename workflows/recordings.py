"""After a recorded call: the call's workflow starts ``collect_recordings`` (docs/recordings.md). Shared by the
contact and the inbound call workflows; no I/O here, the activity does it."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from schemas.agent import AgentConfig
    from schemas.recordings import COLLECT_RECORDINGS_ACTIVITY, RECORDING_PATCH, CollectRecordings

RECORDING_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=1.5, maximum_interval=timedelta(seconds=30)
)
RECORDING_TIMEOUT = timedelta(minutes=10)
"""How long an egress may take to finish writing a call's recording before it is given up."""


def start_collecting(agent: AgentConfig | None, request: CollectRecordings) -> workflow.ActivityHandle[object] | None:
    """Start ``collect_recordings`` for a call of an agent that records (without waiting: it decides nothing);
    None for any other. Patched: histories from before recordings replay without the activity."""
    if agent is None or not agent.recording or not workflow.patched(RECORDING_PATCH):
        return None
    return workflow.start_activity(
        COLLECT_RECORDINGS_ACTIVITY,
        request,
        schedule_to_close_timeout=RECORDING_TIMEOUT,
        start_to_close_timeout=timedelta(minutes=1),
        retry_policy=RECORDING_RETRY,
        summary=f"recordings of attempt {request.attempt}",
    )
