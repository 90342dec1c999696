"""Talking to an agent from the dashboard's API: a web call (room, dispatch, participant token, on the LiveKit
stand-in) and a text chat (the real agent on the offline scripted model), each a call of the agent's whose tools
land on its record as a phone call's do, and who may start them.

The app runs in process (httpx ASGITransport) against the dev server and a worker of the test's own task queue.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest_asyncio
from livekit.api import TokenVerifier
from livekit_standin import API_KEY, API_SECRET, LiveKitStandIn
from sqlalchemy import select
from temporalio.client import Client

from api.main import create_app
from api.services import agent_talk
from schemas.agent import AgentConfig, CallJob
from schemas.inbound import MAX_INBOUND_CALL_LENGTH, inbound_workflow_id
from schemas.settings import Settings
from simulator.carrier import SimCarrier
from simulator.personas import PERSONA_LINES
from store import orgs, queries
from store.models import WebhookEventRow
from voice_worker.temporal_bridge import TemporalCallBridge
from worker.main import build_worker

TESTER = "+14155550123"
AGENT = AgentConfig(name="front-desk", instructions="Help callers.", greeting="Hi, this is Ava from Acme.")


@dataclass
class Stack:
    client: Client
    standin: LiveKitStandIn
    http: httpx.AsyncClient
    read_only: httpx.AsyncClient
    other_org: httpx.AsyncClient
    sessions: Any


def _client(app: Any, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ringflow.test", headers={"X-API-Key": key}
    )


@pytest_asyncio.fixture
async def stack(dev_env, session_factory, db_url) -> AsyncIterator[Stack]:
    async with LiveKitStandIn() as standin:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=db_url,
            task_queue=f"tq-talk-{uuid.uuid4().hex[:8]}",
            livekit_url=standin.url,
            livekit_api_key=API_KEY,
            livekit_api_secret=API_SECRET,
            agent_name="ringflow-test-agent",
        )
        async with session_factory() as session:
            org, key = await orgs.create_org(session, "Talkers")
            read_key = await orgs.create_api_key(session, org.id, "viewer", scope="read")
            _, other_key = await orgs.create_org(session, "Others")
            await queries.save_agent(session, AGENT, org.id)
            await session.commit()
        app = create_app(settings, dev_env.client, session_factory)
        worker = build_worker(dev_env.client, settings, sessions=session_factory, carrier=SimCarrier(time_scale=0.0))
        clients = [_client(app, key), _client(app, read_key), _client(app, other_key)]
        async with worker:
            try:
                yield Stack(dev_env.client, standin, *clients, sessions=session_factory)
            finally:
                for client in clients:
                    await client.aclose()


async def test_a_web_call_dispatches_the_agent_and_hands_out_a_token_for_its_room_only(stack: Stack) -> None:
    started = await stack.http.post(f"/v1/agents/{AGENT.name}/web-call", json={"phone": TESTER})
    assert started.status_code == 201, started.text
    body = started.json()
    [created] = stack.standin.calls("CreateRoom")
    [dispatch] = stack.standin.calls("CreateDispatch")
    assert created.message.name == body["room"] == dispatch.message.room
    assert dispatch.message.agent_name == "ringflow-test-agent"
    job = CallJob.model_validate_json(dispatch.message.metadata)
    call_sid = body["call_id"].removeprefix("in_")
    assert (job.workflow_id, job.agent.name, job.contact.phone) == (inbound_workflow_id(call_sid), AGENT.name, TESTER)
    assert not stack.standin.calls("CreateSIPParticipant"), "a web call rings no phone"

    claims = TokenVerifier(API_KEY, API_SECRET).verify(body["token"])
    assert claims.identity == body["identity"]
    assert claims.video is not None
    assert (claims.video.room_join, claims.video.room) == (True, body["room"])
    assert not claims.video.room_create and not claims.video.room_admin
    assert body["url"] == stack.standin.url.replace("http://", "ws://")
    connect_src = started.headers["content-security-policy"].split("connect-src", 1)[1].split(";", 1)[0].split()
    assert body["url"] in connect_src, "the dashboard's pages may reach the LiveKit server for the call"

    # The agent in the room takes a note and records what the call came to, through the call's workflow.
    bridge = TemporalCallBridge(stack.client, job.workflow_id, 1)
    await bridge.take_note("Asked about opening hours")
    await bridge.record_disposition("qualified", "wants a demo")
    ended = await stack.http.post(f"/v1/agents/{AGENT.name}/web-call/{call_sid}/end")
    assert ended.status_code == 204, ended.text
    await stack.client.get_workflow_handle(job.workflow_id).result()

    detail = (await stack.http.get(f"/v1/calls/{body['call_id']}")).json()
    assert (detail["kind"], detail["direction"], detail["agent_name"]) == ("web", "inbound", AGENT.name)
    assert (detail["state"], detail["disposition"], detail["outcome"]) == ("completed", "qualified", "qualified")
    assert [note["note"] for note in detail["notes"]] == ["Asked about opening hours"]
    assert [dispatch.message.room for dispatch in stack.standin.calls("DeleteRoom")] == [body["room"]]
    listed = (await stack.http.get("/v1/calls", params={"agent": AGENT.name})).json()["items"]
    assert [(call["id"], call["kind"]) for call in listed] == [(body["call_id"], "web")]


async def test_a_text_chat_runs_the_agent_whose_tools_land_on_a_call_of_kind_test(stack: Stack) -> None:
    started = await stack.http.post(f"/v1/agents/{AGENT.name}/chat", json={"phone": TESTER})
    assert started.status_code == 201, started.text
    chat = started.json()
    assert [s["text"] for s in chat["said"]] == [AGENT.greeting] and not chat["ended"], "the agent greets first"
    assert not stack.standin.calls("CreateRoom"), "a chat needs no room"
    turns = []
    messages = f"/v1/agents/{AGENT.name}/chat/{chat['session_id']}/messages"
    for line in PERSONA_LINES["qualifies"]:
        reply = await stack.http.post(messages, json={"text": line})
        assert reply.status_code == 200, reply.text
        turns.append(reply.json())
    assert turns[-1]["ended"], "the agent ended the chat once the caller qualified"
    used = [tool for turn in turns for tool in turn["tools"]]
    assert {"share_information", "take_note", "record_disposition", "end_call"} <= set(used)
    assert chat["session_id"] not in agent_talk.CHATS
    await stack.client.get_workflow_handle(inbound_workflow_id(chat["session_id"])).result()

    detail = (await stack.http.get(f"/v1/calls/{chat['call_id']}")).json()
    assert (detail["kind"], detail["state"], detail["disposition"]) == ("test", "completed", "qualified")
    assert detail["notes"] and detail["information"]["qualification"]
    spoken = [(segment["speaker"], segment["text"]) for segment in detail["transcript"]]
    assert ("callee", PERSONA_LINES["qualifies"][-1]) in spoken
    again = await stack.http.post(messages, json={"text": "Hi"})
    assert again.status_code == 404, "an ended chat takes no more turns"


async def test_a_chat_ended_by_the_tester_finishes_its_call(stack: Stack) -> None:
    chat = (await stack.http.post(f"/v1/agents/{AGENT.name}/chat", json={"phone": TESTER})).json()
    ended = await stack.http.post(f"/v1/agents/{AGENT.name}/chat/{chat['session_id']}/end")
    assert ended.status_code == 204, ended.text
    await stack.client.get_workflow_handle(inbound_workflow_id(chat["session_id"])).result()
    detail = (await stack.http.get(f"/v1/calls/{chat['call_id']}")).json()
    assert (detail["kind"], detail["state"], detail["disposition"]) == ("test", "completed", None)
    assert detail["ended_at"] is not None
    async with stack.sessions() as session:
        ended_events = await session.scalars(select(WebhookEventRow).where(WebhookEventRow.type == "call.ended"))
        [ended_event] = ended_events.all()
    assert ended_event.payload["data"]["kind"] == "test", "a webhook receiver can tell a test chat from a phone call"


async def test_only_who_may_operate_talks_to_an_agent_and_only_to_their_own(stack: Stack) -> None:
    for path in ("web-call", "chat"):
        refused = await stack.read_only.post(f"/v1/agents/{AGENT.name}/{path}", json={"phone": TESTER})
        assert refused.status_code == 403, refused.text
        hidden = await stack.other_org.post(f"/v1/agents/{AGENT.name}/{path}", json={"phone": TESTER})
        assert hidden.status_code == 404, hidden.text
    chat = (await stack.http.post(f"/v1/agents/{AGENT.name}/chat", json={"phone": TESTER})).json()
    foreign = await stack.other_org.post(
        f"/v1/agents/{AGENT.name}/chat/{chat['session_id']}/messages", json={"text": "Hello?"}
    )
    assert foreign.status_code == 404, "another organization's chat is nobody's to it"
    assert not stack.standin.calls("CreateRoom") and not stack.standin.calls("CreateDispatch")
    await stack.http.post(f"/v1/agents/{AGENT.name}/chat/{chat['session_id']}/end")


async def test_a_chat_left_open_longer_than_a_call_may_last_is_closed_when_another_starts(stack: Stack) -> None:
    left = (await stack.http.post(f"/v1/agents/{AGENT.name}/chat", json={"phone": TESTER})).json()
    agent_talk.CHATS[left["session_id"]].opened_at -= MAX_INBOUND_CALL_LENGTH + timedelta(minutes=1)
    fresh = (await stack.http.post(f"/v1/agents/{AGENT.name}/chat", json={"phone": TESTER})).json()
    assert left["session_id"] not in agent_talk.CHATS and fresh["session_id"] in agent_talk.CHATS
    await stack.client.get_workflow_handle(inbound_workflow_id(left["session_id"])).result()
    await stack.http.post(f"/v1/agents/{AGENT.name}/chat/{fresh['session_id']}/end")


async def test_a_web_call_whose_room_cannot_be_made_is_refused_with_a_503_and_records_no_call(stack: Stack) -> None:
    for _ in range(3):  # every attempt the workflow's room retry allows
        stack.standin.fail_next("CreateRoom")
    refused = await stack.http.post(f"/v1/agents/{AGENT.name}/web-call", json={"phone": TESTER})
    assert refused.status_code == 503, refused.text
    assert "could not be prepared" in refused.json()["detail"]
    assert not stack.standin.calls("CreateDispatch")
    assert (await stack.http.get("/v1/calls", params={"agent": AGENT.name})).json()["items"] == []
