"""Talking to an agent from the dashboard: a web call (the browser joins the call's LiveKit room) and a text chat
(the real agent in a text-only AgentSession in this process).

Both are runs of ``InboundCallWorkflow`` of a kind of their own (``web``, ``test``), started like a phone call's
with update-with-start of its ``prepare``: the workflow records the call, makes a web call's room and dispatches
the agent into it, and the agent's tools reach it through the same ``TemporalCallBridge`` as on a phone call. So
notes, shared information, callbacks and the disposition land on the call's record as a phone call's do, and the
call appears in the calls list with its ``kind``. Ending one sends the workflow a ``completed`` status, as
Twilio's callback does for a phone call.

A chat's conversation (its AgentSession) lives in this process, in :data:`CHATS`, until it ends: a chat's turns
must reach the API process that started it.
"""

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from livekit import api as livekit_api
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from schemas.agent import AgentConfig, CallJob, TranscriptSegment
from schemas.contact import Contact
from schemas.inbound import (
    INBOUND_CAMPAIGN_ID,
    MAX_INBOUND_CALL_LENGTH,
    WEB_CALL_PREFIX,
    CallKind,
    CallStatusUpdate,
    InboundCallInput,
    PreparedCall,
    inbound_workflow_id,
)
from schemas.settings import Settings
from workflows.inbound import InboundCallWorkflow

if TYPE_CHECKING:
    from livekit.agents import AgentSession, llm

    from voice_worker.agent import RingflowAgent
    from voice_worker.transcript import TranscriptCollector

GREETING_TIMEOUT_SECONDS = 10.0
MAX_OPEN_CHATS = 50
"""Chats open at once in one API process: each holds an agent session until it ends."""


class TalkError(Exception):
    """Why the dashboard's call could not be made or continued; ``str()`` says it."""


class ChatNotFoundError(TalkError):
    """No open chat of this id in the organization (ended, or another's)."""


@dataclass
class DashboardCall:
    call_sid: str
    workflow_id: str
    prepared: PreparedCall


@dataclass
class ChatTurn:
    """What the agent said (and which tools it used) since the last turn, and whether it ended the chat."""

    said: list[TranscriptSegment]
    tools: list[str]
    ended: bool
    end_reason: str | None = None


@dataclass
class Chat:
    id: str
    org_id: str
    agent_name: str
    workflow_id: str
    session: "AgentSession"
    agent: "RingflowAgent"
    collector: "TranscriptCollector"
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    opened_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    heard: int = 0
    tools_seen: int = 0

    def turn(self) -> ChatTurn:
        """What happened since the last turn was read."""
        segments = list(self.collector.segments)
        said = [segment for segment in segments[self.heard :] if segment.speaker == "agent" and segment.text.strip()]
        self.heard = len(segments)
        called = list(self.agent.call_tools.called)
        tools, self.tools_seen = called[self.tools_seen :], len(called)
        ended = self.agent.ended_reason is not None
        return ChatTurn(said=said, tools=tools, ended=ended, end_reason=self.agent.ended_reason)


CHATS: dict[str, Chat] = {}


async def start_call(
    client: Client, settings: Settings, *, org_id: str, agent: AgentConfig, phone: str, kind: CallKind
) -> DashboardCall:
    """Start the call's workflow and prepare it (the record, and a web call's room with the agent dispatched)."""
    call_sid = f"{WEB_CALL_PREFIX[kind]}{secrets.token_hex(8)}"
    workflow_id = inbound_workflow_id(call_sid)
    operation = WithStartWorkflowOperation(
        InboundCallWorkflow.run,
        InboundCallInput(call_sid=call_sid, from_number=phone, to_number="", agent=agent, org_id=org_id, kind=kind),
        id=workflow_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    prepared: PreparedCall = await client.execute_update_with_start_workflow(
        InboundCallWorkflow.prepare, start_workflow_operation=operation
    )
    return DashboardCall(call_sid=call_sid, workflow_id=workflow_id, prepared=prepared)


def participant_token(settings: Settings, *, room: str, identity: str, name: str) -> str:
    """A LiveKit token that lets the browser join ``room`` only, for as long as a call may last."""
    return (
        livekit_api.AccessToken(settings.livekit_api_key, settings.livekit_api_secret)
        .with_identity(identity)
        .with_name(name)
        .with_grants(livekit_api.VideoGrants(room_join=True, room=room))
        .with_ttl(MAX_INBOUND_CALL_LENGTH + timedelta(minutes=5))
        .to_jwt()
    )


def browser_url(settings: Settings) -> str:
    """Where the browser's LiveKit client connects: the server's URL over WebSocket."""
    url = settings.livekit_url
    for scheme, websocket in (("https://", "wss://"), ("http://", "ws://")):
        if url.startswith(scheme):
            return websocket + url.removeprefix(scheme)
    return url


async def end_call(client: Client, call_sid: str) -> None:
    """The dashboard's call is over: the workflow records its end (a repeat changes nothing)."""
    await client.get_workflow_handle(inbound_workflow_id(call_sid)).signal(
        InboundCallWorkflow.call_status, CallStatusUpdate(status="completed")
    )


def chat_model(agent: AgentConfig, settings: Settings) -> "llm.LLM":
    """The offline scripted model (``agent_llm`` "scripted", as the simulator's calls), else the agent's own."""
    if settings.agent_llm == "scripted":
        from simulator.scripted_llm import ScriptedLLM

        return ScriptedLLM()
    from voice_worker.models import build_llm

    return build_llm(agent.llm, settings)


async def start_chat(client: Client, settings: Settings, *, org_id: str, agent: AgentConfig, phone: str) -> Chat:
    """Start a text chat with ``agent``: its call (kind ``test``), then the agent greeting in a text session."""
    from livekit.agents import AgentSession

    from voice_worker.agent import MAX_TOOL_STEPS, RingflowAgent, utc_now
    from voice_worker.temporal_bridge import TemporalCallBridge
    from voice_worker.transcript import TranscriptCollector

    await _close_stale_chats(client)
    if len(CHATS) >= MAX_OPEN_CHATS:
        raise TalkError(f"{MAX_OPEN_CHATS} chats are open on this server: end one first")
    model = chat_model(agent, settings)
    call = await start_call(client, settings, org_id=org_id, agent=agent, phone=phone, kind=CallKind.TEST)
    job = CallJob(
        workflow_id=call.workflow_id,
        campaign_id=INBOUND_CAMPAIGN_ID,
        attempt=1,
        contact=Contact(external_id=call.call_sid, phone=phone),
        agent=agent,
        context=agent.context,
    )
    bridge = TemporalCallBridge(client, call.workflow_id, 1)
    ringflow_agent = RingflowAgent(job, bridge, clock=utc_now)
    collector = TranscriptCollector(bridge, utc_now)
    session: AgentSession = AgentSession(llm=model, max_tool_steps=MAX_TOOL_STEPS)
    collector.attach(session)
    chat = Chat(
        id=call.call_sid,
        org_id=org_id,
        agent_name=agent.name,
        workflow_id=call.workflow_id,
        session=session,
        agent=ringflow_agent,
        collector=collector,
    )
    CHATS[chat.id] = chat
    try:
        await session.start(ringflow_agent)
        await ringflow_agent.wait_greeted(GREETING_TIMEOUT_SECONDS)
        await collector.flush()
    except Exception:
        await end_chat(client, chat)
        raise
    return chat


def open_chat(org_id: str, agent_name: str, chat_id: str) -> Chat:
    chat = CHATS.get(chat_id)
    if chat is None or chat.org_id != org_id or chat.agent_name != agent_name:
        raise ChatNotFoundError(f"no open chat {chat_id!r} with agent {agent_name!r}")
    return chat


async def say(client: Client, chat: Chat, text: str) -> ChatTurn:
    """One user turn: the agent answers, using its tools through the call's workflow; a chat it ends is closed."""
    async with chat.lock:
        if chat.id not in CHATS:
            raise ChatNotFoundError(f"the chat {chat.id!r} has ended")
        await chat.session.run(user_input=text)
        await chat.collector.flush()
        turn = chat.turn()
    if turn.ended:
        await end_chat(client, chat)
    return turn


async def end_chat(client: Client, chat: Chat) -> None:
    """Close the agent's session, send the last of the transcript and record the call's end."""
    if CHATS.pop(chat.id, None) is None:
        return
    await chat.agent.stop_polling()
    with contextlib.suppress(Exception):
        await chat.session.aclose()
    chat.collector.detach(chat.session)
    try:
        await chat.collector.flush()
        await end_call(client, chat.id)
    except RPCError:  # its workflow has ended already (a chat left open past the longest call): nothing to tell
        pass


async def _close_stale_chats(client: Client) -> None:
    """Close the chats open longer than a call may last: their workflows have recorded their end (``timeout``)."""
    now = datetime.now(UTC)
    for chat in [chat for chat in CHATS.values() if now - chat.opened_at > MAX_INBOUND_CALL_LENGTH]:
        async with chat.lock:
            await end_chat(client, chat)
