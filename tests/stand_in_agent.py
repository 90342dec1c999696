"""A stand-in for the voice agent in workflow tests: it records a disposition over the real Temporal
bridge, exactly as the agent's ``record_disposition`` tool does, and nothing else.

The sim carrier calls it for each answered call that has an agent; what the call comes to is then
the workflow's decision, from that disposition and the carrier's network facts.
"""

from collections.abc import Callable

from temporalio.client import Client

from schemas.calls import DialRequest
from simulator.carrier import AgentCall, AgentCallReport, persona_of
from voice_worker.bridge import BridgeError
from voice_worker.temporal_bridge import TemporalCallBridge


def recording_agent(
    client: Client, disposition_for: Callable[[str], str | None], refusals: list[str] | None = None
) -> AgentCall:
    """An AgentCall that records ``disposition_for(persona)`` (none when it returns None).

    A refused disposition's sentence is appended to ``refusals``, as the agent would hear it.
    """

    async def agent_call(request: DialRequest, persona: str) -> AgentCallReport:
        disposition = disposition_for(persona_of(request.contact))
        if disposition is not None:
            bridge = TemporalCallBridge(client, request.workflow_id, request.attempt)
            try:
                await bridge.record_disposition(disposition, f"stand-in agent heard {persona}")
            except BridgeError as refused:
                if refusals is None:
                    raise
                refusals.append(str(refused))
        return AgentCallReport(duration_seconds=30.0, detail="stand-in agent")

    return agent_call
