"""The recordings activity: after a call, record the files its room's egresses wrote, each checked against the
call's duration (docs/recordings.md). The one writer of ``recordings`` rows."""

from datetime import timedelta

import aiohttp
from livekit import api
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from infra.recordings import RecordingUnavailableError, content_type_of, length_mismatch, room_recordings, storage_for
from schemas.recordings import COLLECT_RECORDINGS_ACTIVITY, CollectRecordings
from schemas.settings import Settings
from store import recordings
from telephony.livekit_sip import room_name_for

STILL_RECORDING_ERROR = "RecordingStillEnding"
API_TIMEOUT = timedelta(seconds=10)


class RecordingActivities:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._settings = settings
        self._sessions = sessions

    @activity.defn(name=COLLECT_RECORDINGS_ACTIVITY)
    async def collect_recordings(self, request: CollectRecordings) -> int:
        """Record each file of the call's egresses; how many. An egress still at work is stopped (the call is
        over) and the activity fails, to be retried once it has finished writing. Retrying records nothing twice."""
        settings = self._settings
        if not settings.livekit_configured:
            return 0  # no LiveKit, no egress: the call was not recorded
        room = room_name_for(request.idempotency_key)
        timeout = aiohttp.ClientTimeout(total=API_TIMEOUT.total_seconds())
        async with aiohttp.ClientSession(timeout=timeout) as http:
            lk = api.LiveKitAPI(
                str(settings.livekit_url), settings.livekit_api_key, settings.livekit_api_secret, session=http
            )
            files = await room_recordings(lk, room)
        if files is None:
            raise ApplicationError(f"the recording of {room} is still being written", type=STILL_RECORDING_ERROR)
        storage = storage_for(settings)
        tolerance = settings.recording_length_tolerance
        async with self._sessions() as session:
            for file in files:
                problems = []
                try:
                    stored = await storage.size(file.location)
                except RecordingUnavailableError as err:  # written outside the recordings directory
                    stored = None
                    problems.append(str(err))
                if file.error:
                    problems.append(f"the egress failed: {file.error}")
                if stored is None and not problems:
                    problems.append(f"no file at {file.location}")
                mismatch = length_mismatch(file.duration_seconds, request.call_seconds, tolerance)
                if mismatch:
                    problems.append(
                        f"the recording is {file.duration_seconds:.1f}s long, the call {request.call_seconds:.1f}s"
                    )
                await recordings.record_recording(
                    session,
                    egress_id=file.egress_id,
                    org_id=request.org_id,
                    campaign_id=request.campaign_id,
                    external_id=request.external_id,
                    attempt=request.attempt,
                    storage=storage.kind,
                    location=file.location,
                    content_type=content_type_of(file.location),
                    size_bytes=stored if stored is not None else file.size_bytes,
                    duration_seconds=file.duration_seconds,
                    call_seconds=request.call_seconds,
                    length_mismatch=mismatch or stored is None,
                    problem="; ".join(problems),
                )
            await session.commit()
        return len(files)
