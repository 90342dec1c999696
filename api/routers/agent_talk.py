"""Talking to an agent from the dashboard: a web call and a text chat, each a call of the agent's (kind ``web`` or
``test``) recorded as a phone call is (api/services/agent_talk.py)."""

from fastapi import APIRouter, HTTPException, Response, status
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.deps import CurrentOrg, CurrentPrincipal, DbSession
from api.routers.agents import owned_agent
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES, Context, conflict, e164, invalid, not_found, release
from api.services import agent_talk
from schemas.api import ErrorBody
from schemas.calls import inbound_call_id
from schemas.inbound import CallKind
from schemas.providers import keys_refusal
from schemas.talk import ChatMessage, ChatReply, ChatStarted, TalkRequest, WebCallStarted
from store import numbers

router = APIRouter(prefix="/v1/agents", tags=["agents"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)

NOT_FOUND = {404: {"model": ErrorBody, "description": "No such agent (or open call) in your organization"}}
UNAVAILABLE = {503: {"model": ErrorBody, "description": "The call could not be prepared"}}


def _unavailable(err: Exception) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"the call could not be prepared: {err}")


def _reply(turn: agent_talk.ChatTurn) -> ChatReply:
    return ChatReply(said=turn.said, tools=turn.tools, ended=turn.ended, end_reason=turn.end_reason)


@router.post(
    "/{name}/web-call",
    status_code=201,
    response_model=WebCallStarted,
    responses={**NOT_FOUND, **UNAVAILABLE, 409: {"model": ErrorBody, "description": "LiveKit is not configured"}},
)
async def start_web_call(
    name: str, body: TalkRequest, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> WebCallStarted:
    """Talk to the agent from the browser: a room with the agent dispatched into it, and a token to join it.
    Its tools, notes and disposition are recorded on a call of kind ``web``; end it with ``.../web-call/{id}/end``."""
    agent = await owned_agent(session, org, name)
    phone = e164(body.phone, "phone")
    if not ctx.settings.livekit_configured:
        conflict("LiveKit is not configured on this deployment: set livekit_url, livekit_api_key, livekit_api_secret")
    if refusal := keys_refusal(agent, ctx.settings):
        invalid(refusal)
    await release(session)
    try:
        call = await agent_talk.start_call(
            ctx.client, ctx.settings, org_id=org.id, agent=agent, phone=phone, kind=CallKind.WEB
        )
    except (WorkflowUpdateFailedError, RPCError) as err:
        raise _unavailable(err) from None
    identity = f"dashboard-{call.call_sid}"
    room = call.prepared.room
    return WebCallStarted(
        call_id=inbound_call_id(call.call_sid),
        room=room,
        url=agent_talk.browser_url(ctx.settings),
        token=agent_talk.participant_token(ctx.settings, room=room, identity=identity, name=principal.actor),
        identity=identity,
    )


@router.post("/{name}/web-call/{call_sid}/end", status_code=204, responses=NOT_FOUND)
async def end_web_call(name: str, call_sid: str, org: CurrentOrg, session: DbSession, ctx: Context) -> Response:
    """Hang up the web call: its call records the end (a repeat changes nothing)."""
    row = await numbers.get_inbound_call(session, call_sid)
    if row is None or row.org_id != org.id or row.agent_name != name or row.kind != CallKind.WEB:
        not_found(f"no web call {call_sid!r} with agent {name!r}")
    await release(session)
    await agent_talk.end_call(ctx.client, call_sid)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/chat", status_code=201, response_model=ChatStarted, responses={**NOT_FOUND, **UNAVAILABLE})
async def start_chat(name: str, body: TalkRequest, org: CurrentOrg, session: DbSession, ctx: Context) -> ChatStarted:
    """Chat with the agent in text: the real agent, its tools acting through its call's workflow as on a phone call,
    recorded as a call of kind ``test``. Answers with its greeting; the offline scripted model unless the
    deployment's ``agent_llm`` says otherwise (then the agent's own language model)."""
    agent = await owned_agent(session, org, name)
    phone = e164(body.phone, "phone")
    await release(session)
    try:
        chat = await agent_talk.start_chat(ctx.client, ctx.settings, org_id=org.id, agent=agent, phone=phone)
    except (WorkflowUpdateFailedError, RPCError, agent_talk.TalkError) as err:
        raise _unavailable(err) from None
    except ValueError as err:  # the agent's model cannot be built here (a missing key)
        invalid(str(err))
    reply = _reply(chat.turn())
    return ChatStarted(**reply.model_dump(), session_id=chat.id, call_id=inbound_call_id(chat.id))


def _open_chat(org_id: str, name: str, session_id: str) -> agent_talk.Chat:
    try:
        return agent_talk.open_chat(org_id, name, session_id)
    except agent_talk.ChatNotFoundError as err:
        not_found(str(err))


@router.post("/{name}/chat/{session_id}/messages", response_model=ChatReply, responses=NOT_FOUND)
async def send_chat_message(name: str, session_id: str, body: ChatMessage, org: CurrentOrg, ctx: Context) -> ChatReply:
    """Say something to the agent; the answer is what it said back and the tools it used."""
    chat = _open_chat(org.id, name, session_id)
    try:
        return _reply(await agent_talk.say(ctx.client, chat, body.text))
    except agent_talk.ChatNotFoundError as err:
        not_found(str(err))


@router.post("/{name}/chat/{session_id}/end", status_code=204, responses=NOT_FOUND)
async def end_chat(name: str, session_id: str, org: CurrentOrg, ctx: Context) -> Response:
    """End the chat: the agent's session closes and its call records the end."""
    chat = _open_chat(org.id, name, session_id)
    async with chat.lock:
        await agent_talk.end_chat(ctx.client, chat)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
