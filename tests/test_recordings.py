"""Call recording (docs/recordings.md): LiveKit Egress (the stand-in's, which writes a real audio file) started only
once the agent's disclosure has been said, and only for an agent that records; after the call each file is recorded
and checked against the call's duration; downloads through a signed, expiring link; S3-compatible storage (moto's
server); and the recording erased with its person."""

import time
import uuid
import wave
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import boto3
import httpx
import pytest
import pytest_asyncio
from api_stack import ApiStack
from browser_helpers import headless_chromium
from conftest import server_clock
from livekit.agents import AgentSession
from livekit.protocol.egress import AudioMixing
from livekit_standin import LiveKitStandIn, decoded
from moto.server import ThreadedMotoServer
from playwright.async_api import expect
from recording_helpers import RECORDING_AGENT, answered_call, livekit, point_at, record_call
from sqlalchemy import select
from test_dashboard_browser import logged_in
from test_disclosure import DISCLOSURE, clock, make_job
from test_inbound import INCOMING, STATUS, Stack, call_form, new_sid, sip_of, stack  # noqa: F401 - the fixture
from voice_fakes import FakeBridge
from workflow_helpers import contact, new_campaign_id, seed, settings, start_contact

from infra.recordings import link_is_valid, signed_path, start_recording
from schemas.agent import AgentConfig
from schemas.inbound import INBOUND_CAMPAIGN_ID, InboundCallState, inbound_workflow_id
from schemas.settings import Settings
from schemas.workflow_io import attempt_idempotency_key, contact_workflow_id
from simulator.agent_call import make_agent_call
from simulator.carrier import SimCarrier
from simulator.scripted_llm import ScriptedLLM
from store import queries
from store.models import DEFAULT_ORG_ID, RecordingRow
from telephony.livekit_sip import room_name_for
from voice_worker.agent import RingflowAgent

S3_KEY, S3_SECRET, BUCKET = "testing-key", "testing-secret", "ringflow-recordings"


@pytest_asyncio.fixture
async def lk() -> AsyncIterator[LiveKitStandIn]:
    async with LiveKitStandIn() as standin:
        yield standin


@pytest.fixture
def moto_s3() -> Iterator[str]:
    """A local S3-compatible server (moto's) with the recordings bucket; its endpoint."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET
    ).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


async def rows_of(api: ApiStack, call: dict) -> list[RecordingRow]:
    async with api.sessions() as session:
        query = select(RecordingRow).where(
            RecordingRow.campaign_id == call["campaign_id"], RecordingRow.external_id == call["external_id"]
        )
        return list((await session.scalars(query)).all())


def on_disk(location: str) -> int | None:
    """The size of the file at ``location``; None if there is none."""
    path = Path(location)
    return path.stat().st_size if path.is_file() else None


def wav_seconds(audio: bytes) -> float:
    with wave.open(BytesIO(audio)) as file:
        return file.getnframes() / file.getframerate()


# ---- when the voice worker starts recording ---------------------------------------------------------------


async def test_recording_starts_only_once_the_disclosure_has_been_said(lk: LiveKitStandIn, tmp_path: Path) -> None:
    """The egress request leaves after the disclosure's playout, not before; it records the room's audio only,
    the agent and the callee on their own channels."""
    job = make_job()
    job.agent.recording = True
    config = point_at(Settings(_env_file=None), lk, tmp_path)  # type: ignore[call-arg]
    room = lk.add_room("call-room").room.name
    heard_before_recording: list[list[str]] = []

    async def recorder() -> None:
        heard_before_recording.append([item.text_content for item in session.history.items if item.type == "message"])
        assert agent.disclosure_handle is not None and agent.disclosure_handle.done()
        async with livekit(lk) as client:
            await start_recording(client, config, room)

    agent = RingflowAgent(job, FakeBridge(), clock=clock, recorder=recorder)
    async with AgentSession(llm=ScriptedLLM()) as session:
        await session.start(agent)
        await agent.wait_greeted(5)
        assert agent.recording_task is not None
        await agent.recording_task
        await agent.stop_polling()
    assert heard_before_recording and heard_before_recording[0][0] == DISCLOSURE
    [start] = lk.calls("StartRoomCompositeEgress")
    request = decoded(start.message)
    assert request["room_name"] == room and request["audio_only"] is True
    assert start.message.audio_mixing == AudioMixing.DUAL_CHANNEL_AGENT
    assert request["file_outputs"][0]["filepath"] == str(config.data_dir.resolve() / "recordings" / f"{room}.ogg")


async def test_an_agent_that_does_not_record_never_starts_a_recording() -> None:
    """Recording is off by default: the recorder the live worker hands over is never called."""
    started: list[str] = []

    async def recorder() -> None:
        started.append("egress")

    job = make_job()
    assert job.agent.recording is False
    agent = RingflowAgent(job, FakeBridge(), clock=clock, recorder=recorder)
    async with AgentSession(llm=ScriptedLLM()) as session:
        await session.start(agent)
        await agent.wait_greeted(5)
        await agent.stop_polling()
    assert agent.recording_task is None and started == []


# ---- after the call: the contact workflow collects, the length check -------------------------------------


async def test_the_contact_workflow_records_the_recording_of_a_recording_agents_call(
    time_env, run_worker, session_factory, lk: LiveKitStandIn, tmp_path: Path
) -> None:
    """After an answered call the workflow runs ``collect_recordings``: the egress still running in the call's
    room is stopped, and its file recorded against the call's duration."""
    campaign_id = new_campaign_id()
    person = contact(1, "answers")
    campaign = settings(max_attempts=1)
    await seed(session_factory, campaign_id, [person], campaign)
    room = room_name_for(attempt_idempotency_key(contact_workflow_id(campaign_id, person.external_id), 1))
    lk.add_room(room)
    config = point_at(Settings(_env_file=None), lk, tmp_path)  # type: ignore[call-arg]
    async with livekit(lk) as client:  # as the voice worker does once the disclosure is said
        started = await start_recording(client, config, room)
    agent = AgentConfig.model_validate(RECORDING_AGENT)
    carrier = SimCarrier(time_scale=0.0, clock=server_clock, agent_call=make_agent_call(time_env.client, server_clock))
    overrides = {"data_dir": tmp_path, "livekit_url": lk.url}
    async with run_worker(carrier, **overrides, livekit_api_key=lk.api_key, livekit_api_secret=lk.api_secret) as tq:
        handle = await start_contact(time_env.client, tq, campaign_id, person, campaign, agent=agent)
        await handle.result()
    async with session_factory() as session:
        [attempt] = await queries.attempts_for(session, campaign_id, person.external_id)
        [row] = (await session.scalars(select(RecordingRow))).all()
    assert [decoded(r.message)["egress_id"] for r in lk.calls("StopEgress")] == [started.egress_id]
    assert (row.egress_id, row.attempt, row.storage) == (started.egress_id, 1, "local")
    assert row.call_seconds == attempt.duration_seconds
    assert row.size_bytes == on_disk(row.location) and row.size_bytes > 0


async def test_a_call_by_an_agent_that_does_not_record_asks_livekit_for_no_recording(
    time_env, run_worker, session_factory, lk: LiveKitStandIn, tmp_path: Path
) -> None:
    campaign_id = new_campaign_id()
    person = contact(1, "answers")
    campaign = settings(max_attempts=1)
    await seed(session_factory, campaign_id, [person], campaign)
    agent = AgentConfig.model_validate({**RECORDING_AGENT, "recording": False})
    carrier = SimCarrier(time_scale=0.0, clock=server_clock, agent_call=make_agent_call(time_env.client, server_clock))
    overrides = {"data_dir": tmp_path, "livekit_url": lk.url}
    async with run_worker(carrier, **overrides, livekit_api_key=lk.api_key, livekit_api_secret=lk.api_secret) as tq:
        handle = await start_contact(time_env.client, tq, campaign_id, person, campaign, agent=agent)
        await handle.result()
    assert lk.requests == []
    async with session_factory() as session:
        assert (await session.scalars(select(RecordingRow))).all() == []


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The deployment's data directory, for stacks whose settings come from the environment."""
    monkeypatch.setenv("RINGFLOW_DATA_DIR", str(tmp_path))
    (tmp_path / "recordings").mkdir()
    return tmp_path


async def test_an_incoming_call_is_recorded_once_its_room_is_closed(data_dir: Path, stack: Stack) -> None:  # noqa: F811
    """The inbound call's workflow collects the recording after Twilio reports the call's end and the room closes;
    Twilio's duration is the call's."""
    async with stack.sessions() as session:
        await queries.save_agent(
            session, AgentConfig(name="front-desk", instructions="Help callers.", disclosure=DISCLOSURE, recording=True)
        )
        await session.commit()
    sid = new_sid()
    room = sip_of((await stack.post(INCOMING, call_form(sid))).text).removeprefix("sip:").split("@")[0]
    config = point_at(Settings(_env_file=None), stack.standin, data_dir)  # type: ignore[call-arg]
    async with livekit(stack.standin) as client:  # the voice worker, once the disclosure is said
        started = await start_recording(client, config, room)
    stack.standin.recording_seconds = 41.0
    done = await stack.post(STATUS, {"CallSid": sid, "CallStatus": "completed", "CallDuration": "42"})
    assert done.status_code == 204
    await stack.client.get_workflow_handle(inbound_workflow_id(sid), result_type=InboundCallState).result()
    async with stack.sessions() as session:
        [row] = (await session.scalars(select(RecordingRow))).all()
    assert (row.campaign_id, row.external_id, row.attempt) == (INBOUND_CAMPAIGN_ID, sid, 1)
    assert (row.egress_id, row.org_id, row.call_seconds) == (started.egress_id, DEFAULT_ORG_ID, 42.0)
    assert row.length_mismatch is False and row.duration_seconds == 41.0
    assert row.size_bytes == on_disk(row.location)


async def test_a_recording_as_long_as_its_call_passes_the_length_check(
    api_stack: ApiStack, lk: LiveKitStandIn, tmp_path: Path
) -> None:
    point_at(api_stack.settings, lk, tmp_path)
    call = await answered_call(api_stack.org_a.http)
    assert await record_call(lk, api_stack.settings, api_stack.sessions, call, org_id=api_stack.org_a.id) == 1
    detail = (await api_stack.org_a.http.get(f"/v1/calls/{call['id']}")).json()
    [recording] = detail["recordings"]
    assert recording["length_mismatch"] is False and recording["problem"] == ""
    assert recording["duration_seconds"] == pytest.approx(call["duration_seconds"])


async def test_a_recording_much_shorter_than_its_call_is_flagged_on_the_call(
    api_stack: ApiStack, lk: LiveKitStandIn, tmp_path: Path
) -> None:
    point_at(api_stack.settings, lk, tmp_path)
    call = await answered_call(api_stack.org_a.http)
    recorded = call["duration_seconds"] + api_stack.settings.recording_length_tolerance + 5
    await record_call(lk, api_stack.settings, api_stack.sessions, call, recorded_seconds=recorded)
    detail = (await api_stack.org_a.http.get(f"/v1/calls/{call['id']}")).json()
    [recording] = detail["recordings"]
    assert recording["length_mismatch"] is True
    assert f"the recording is {recorded:.1f}s long" in recording["problem"]
    link = (await api_stack.org_a.http.get(f"/v1/calls/{call['id']}/recording")).json()
    assert link["recording"]["length_mismatch"] is True


# ---- downloads -------------------------------------------------------------------------------------------


async def test_the_signed_link_streams_the_recording_and_nothing_else_does(
    api_stack: ApiStack, lk: LiveKitStandIn, tmp_path: Path
) -> None:
    point_at(api_stack.settings, lk, tmp_path)
    call = await answered_call(api_stack.org_a.http)
    await record_call(lk, api_stack.settings, api_stack.sessions, call, recorded_seconds=2.0)
    path = f"/v1/calls/{call['id']}/recording"

    assert (await api_stack.anonymous.get(path)).status_code == 401
    assert (await api_stack.org_b.http.get(path)).status_code == 404  # another organization's call
    answer = await api_stack.org_a.http.get(path)
    assert answer.status_code == 200, answer.text
    link = answer.json()
    assert link["storage_url"] is None
    assert datetime.fromisoformat(link["expires_at"]) > datetime.now(UTC)

    download = await api_stack.anonymous.get(link["url"])  # the signature is the authorization
    assert download.status_code == 200
    assert download.headers["content-type"] == "audio/x-wav" or download.headers["content-type"] == "audio/wav"
    assert wav_seconds(download.content) == pytest.approx(2.0)

    recording_id = link["recording"]["id"]
    tampered = link["url"].replace("signature=", "signature=0")
    assert (await api_stack.anonymous.get(tampered)).status_code == 404
    other_id = link["url"].replace(recording_id, uuid.uuid4().hex)
    assert (await api_stack.anonymous.get(other_id)).status_code == 404
    # Signed an hour and more ago: expired by now.
    expired, expires = signed_path(api_stack.settings, recording_id, now=time.time() - 3600)
    assert not link_is_valid(api_stack.settings, recording_id, expires, expired.rsplit("=", 1)[1])
    assert (await api_stack.anonymous.get(expired)).status_code == 404


async def test_a_call_without_a_recording_has_no_link(api_stack: ApiStack) -> None:
    call = await answered_call(api_stack.org_a.http)
    answer = await api_stack.org_a.http.get(f"/v1/calls/{call['id']}/recording")
    assert answer.status_code == 404 and "no recording" in answer.text


async def test_recordings_round_trip_through_s3_compatible_storage(
    api_stack: ApiStack, lk: LiveKitStandIn, moto_s3: str, tmp_path: Path
) -> None:
    """The egress uploads to the bucket; the row holds its key; the link streams it from there, a presigned URL
    reads the object itself, and erasing the person deletes the object."""
    point_at(
        api_stack.settings,
        lk,
        tmp_path,
        recording_storage="s3",
        recording_s3_endpoint=moto_s3,
        recording_s3_bucket=BUCKET,
        recording_s3_access_key=S3_KEY,
        recording_s3_secret_key=S3_SECRET,
    )
    call = await answered_call(api_stack.org_a.http)
    await record_call(lk, api_stack.settings, api_stack.sessions, call, recorded_seconds=1.5)
    [row] = await rows_of(api_stack, call)
    assert row.storage == "s3" and row.location.startswith("recordings/call-")
    s3 = boto3.client(
        "s3", endpoint_url=moto_s3, region_name="us-east-1", aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET
    )
    assert s3.head_object(Bucket=BUCKET, Key=row.location)["ContentLength"] == row.size_bytes

    link = (await api_stack.org_a.http.get(f"/v1/calls/{call['id']}/recording")).json()
    streamed = await api_stack.anonymous.get(link["url"])
    assert streamed.status_code == 200 and wav_seconds(streamed.content) == pytest.approx(1.5)
    async with httpx.AsyncClient() as outside:
        direct = await outside.get(link["storage_url"])
    assert direct.status_code == 200 and direct.content == streamed.content

    erased = await api_stack.org_a.http.delete(f"/v1/people/{call['phone']}")
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"]["recordings"] == 1
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0
    assert await rows_of(api_stack, call) == []


async def test_erasing_the_person_deletes_their_recording_file_and_row(
    api_stack: ApiStack, lk: LiveKitStandIn, tmp_path: Path
) -> None:
    point_at(api_stack.settings, lk, tmp_path)
    erased_call = await answered_call(api_stack.org_a.http, 1)
    kept_call = await answered_call(api_stack.org_a.http, 2)
    for call in (erased_call, kept_call):
        await record_call(lk, api_stack.settings, api_stack.sessions, call)
    [erased_row], [kept_row] = await rows_of(api_stack, erased_call), await rows_of(api_stack, kept_call)
    link = (await api_stack.org_a.http.get(f"/v1/calls/{erased_call['id']}/recording")).json()
    assert on_disk(erased_row.location)

    answer = await api_stack.org_a.http.delete(f"/v1/people/{erased_call['phone']}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["erased"]["recordings"] == 1
    assert on_disk(erased_row.location) is None
    assert await rows_of(api_stack, erased_call) == []
    assert (await api_stack.anonymous.get(link["url"])).status_code == 404  # a link handed out before is dead
    assert on_disk(kept_row.location) and len(await rows_of(api_stack, kept_call)) == 1


# ---- the dashboard ---------------------------------------------------------------------------------------


async def test_the_call_page_plays_the_recording(api_stack: ApiStack, lk: LiveKitStandIn, tmp_path: Path) -> None:
    """A member sees the agent's recording switch on, then opens a recorded call: the page has an audio player whose
    source loads (its duration known)."""
    point_at(api_stack.settings, lk, tmp_path)
    call = await answered_call(api_stack.org_a.http)
    await record_call(lk, api_stack.settings, api_stack.sessions, call, recorded_seconds=3.0)
    errors: list[str] = []
    async with headless_chromium() as browser:
        context, page = await logged_in(browser, api_stack.base_url, api_stack.org_a.email, errors)
        await page.goto(f"/agents/{RECORDING_AGENT['name']}")  # the agent's switch shows it records
        await expect(page.locator("input[name=recording]")).to_be_checked()
        await page.goto(f"/calls/{call['id']}")
        player = page.locator("#call-recording-player")
        await expect(player).to_be_visible()
        await expect(page.locator("#call-recording-check")).to_contain_text("as long as the call")
        # HAVE_METADATA or better: the browser fetched the signed link and read the file.
        await page.wait_for_function("document.querySelector('#call-recording-player').readyState >= 1", timeout=20_000)
        duration = await player.evaluate("audio => audio.duration")
        await context.close()
    assert duration == pytest.approx(3.0, abs=0.1)
    assert errors == []
