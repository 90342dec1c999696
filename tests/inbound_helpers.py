"""An inbound call driven as the webhook, the agent and Twilio drive it: for tests and the history recorder.

The worker needs LiveKit for the call's room: :func:`inbound_worker_settings` points it at the
LiveKit stand-in.
"""

from datetime import UTC, datetime

from livekit_standin import API_KEY, API_SECRET, LiveKitStandIn
from temporalio.client import Client

from schemas.agent import AgentConfig, TranscriptSegment
from schemas.inbound import CallStatusUpdate, InboundCallInput, InboundCallState, inbound_workflow_id
from schemas.settings import Settings
from voice_worker.temporal_bridge import TemporalCallBridge
from workflows.inbound import InboundCallWorkflow

OUR_NUMBER = "+14155550100"
SIP_HOST = "standin.sip.livekit.test"


def inbound_worker_settings(standin: LiveKitStandIn, database_url: str, task_queue: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        task_queue=task_queue,
        livekit_url=standin.url,
        livekit_api_key=API_KEY,
        livekit_api_secret=API_SECRET,
        livekit_sip_uri_host=SIP_HOST,
        agent_name="ringflow-test-agent",
    )


async def answer_inbound_call(
    client: Client, task_queue: str, *, call_sid: str, caller: str, agent: AgentConfig, said: list[str], note: str
) -> InboundCallState:
    """Start the call's workflow, prepare its room, let the caller speak and the agent take a note, hang up."""
    handle = await client.start_workflow(
        InboundCallWorkflow.run,
        InboundCallInput(call_sid=call_sid, from_number=caller, to_number=OUR_NUMBER, agent=agent),
        id=inbound_workflow_id(call_sid),
        task_queue=task_queue,
    )
    await handle.execute_update(InboundCallWorkflow.prepare)
    bridge = TemporalCallBridge(client, handle.id, 1)
    now = datetime.now(UTC)
    await bridge.append_transcript([TranscriptSegment(speaker="callee", text=text, started_at=now) for text in said])
    await bridge.take_note(note)
    await handle.signal(InboundCallWorkflow.call_status, CallStatusUpdate(status="completed", duration_seconds=42))
    return await handle.result()
