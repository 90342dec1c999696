"""Call recordings in tests: a deployment's recording settings pointed at the LiveKit stand-in, and a call's
recording made the way a live call's is (the voice worker starts the room's egress, the room closes, and the
``collect_recordings`` activity records the file the egress wrote)."""

from pathlib import Path
from typing import Any

import httpx
from api_helpers import FAST, eventually, person
from livekit import api
from livekit.protocol.room import DeleteRoomRequest
from livekit_standin import LiveKitStandIn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.recordings import RecordingActivities
from infra.recordings import start_recording
from schemas.recordings import CollectRecordings
from schemas.settings import Settings
from schemas.workflow_io import attempt_idempotency_key, contact_workflow_id
from telephony.livekit_sip import room_name_for

RECORDING_AGENT = {
    "name": "rita",
    "instructions": "You are Rita from Ringflow. Be brief and polite.",
    "greeting": "Hi, this is Rita from Ringflow.",
    "disclosure": "This call is recorded.",
    "recording": True,
}


def point_at(settings: Settings, lk: LiveKitStandIn, data_dir: Path, **recording: Any) -> Settings:
    """``settings`` (changed in place: the app and worker hold this object) recording through the stand-in into
    ``data_dir``."""
    settings.data_dir = data_dir
    settings.livekit_url = lk.url
    settings.livekit_api_key = lk.api_key
    settings.livekit_api_secret = lk.api_secret
    for name, value in recording.items():
        setattr(settings, name, value)
    (data_dir / "recordings").mkdir(parents=True, exist_ok=True)
    return settings


def livekit(lk: LiveKitStandIn) -> api.LiveKitAPI:
    return api.LiveKitAPI(lk.url, lk.api_key, lk.api_secret)


async def record_call(
    lk: LiveKitStandIn,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    call: dict[str, Any],
    *,
    org_id: str | None = None,
    recorded_seconds: float | None = None,
) -> int:
    """Record the call (a ``/v1/calls`` item) as a live one is: egress started in its room, the room closed, then
    ``collect_recordings``; ``recorded_seconds`` scripts the file's length (else the call's own)."""
    key = attempt_idempotency_key(contact_workflow_id(call["campaign_id"], call["external_id"]), call["attempt"])
    room = room_name_for(key)
    lk.add_room(room)
    lk.recording_seconds = call["duration_seconds"] if recorded_seconds is None else recorded_seconds
    async with livekit(lk) as client:
        await start_recording(client, settings, room)
        await client.room.delete_room(DeleteRoomRequest(room=room))
    request = CollectRecordings(
        idempotency_key=key,
        org_id=org_id,
        campaign_id=call["campaign_id"],
        external_id=call["external_id"],
        attempt=call["attempt"],
        call_seconds=call["duration_seconds"],
    )
    return await ActivityEnvironment().run(RecordingActivities(settings, sessions).collect_recordings, request)


async def answered_call(http: httpx.AsyncClient, index: int = 1) -> dict[str, Any]:
    """A finished, answered sim call by the recording agent, as ``GET /v1/calls`` lists it."""
    if (await http.get(f"/v1/agents/{RECORDING_AGENT['name']}")).status_code == 404:
        created = await http.post("/v1/agents", json=RECORDING_AGENT)
        assert created.status_code == 201, created.text
    body = {"name": f"rec-{index}", "agent_name": RECORDING_AGENT["name"], "settings": FAST}
    body["contacts"] = [person(index)]
    created = await http.post("/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaign"]["id"]
    listed = await eventually(
        lambda: http.get("/v1/calls", params={"campaign_id": campaign_id}),
        lambda body: bool(body["items"]) and body["items"][0]["ended_at"] is not None,
    )
    call = listed["items"][0]
    assert call["answered"], call
    return call
