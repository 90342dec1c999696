"""Call recordings: LiveKit Egress (start, stop, find a room's), where the files live (a local directory or an
S3-compatible bucket), the length check, and signed, expiring download links.

One call is one LiveKit room (``telephony/livekit_sip.room_name_for``). The voice worker starts a room-composite,
audio-only egress once the agent's disclosure has been said (:func:`start_recording`), with the agent on one
channel and the callee on the other (``DUAL_CHANNEL_AGENT``); the egress ends with the room. After the call the
``collect_recordings`` activity finds the room's egresses (:func:`room_recordings`) and writes one row per file,
checked against the call's duration (:func:`length_mismatch`). docs/recordings.md.
"""

import asyncio
import base64
import hashlib
import hmac
import mimetypes
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from livekit import api
from livekit.protocol.egress import (
    AudioMixing,
    EgressInfo,
    EgressStatus,
    EncodedFileOutput,
    EncodedFileType,
    ListEgressRequest,
    RoomCompositeEgressRequest,
    S3Upload,
    StopEgressRequest,
)

from schemas.settings import Settings

LINK_KEY_FILE = "recording-link.key"
CHUNK_BYTES = 64 * 1024

ENDED_STATUSES = frozenset(
    {
        EgressStatus.EGRESS_COMPLETE,
        EgressStatus.EGRESS_FAILED,
        EgressStatus.EGRESS_ABORTED,
        EgressStatus.EGRESS_LIMIT_REACHED,
    }
)
"""An egress in any of these has written (or given up on) its file; the others are still at work."""


class RecordingUnavailableError(Exception):
    """The recording's file is not where its row says (already erased, or never written)."""


# ---- LiveKit Egress -----------------------------------------------------------------------------------------


def recording_dir(settings: Settings) -> Path:
    return (settings.recording_dir or settings.data_dir / "recordings").resolve()


def file_output(settings: Settings, room: str) -> EncodedFileOutput:
    """Where the egress writes the room's recording: a file in the recordings directory (the egress service shares
    it), or an object in the bucket, named after the room."""
    name = f"{room}.ogg"
    if settings.recording_storage == "s3":
        return EncodedFileOutput(
            file_type=EncodedFileType.OGG,
            filepath=f"recordings/{name}",
            s3=S3Upload(
                access_key=settings.recording_s3_access_key or "",
                secret=settings.recording_s3_secret_key or "",
                region=settings.recording_s3_region,
                endpoint=settings.recording_s3_endpoint or "",
                bucket=settings.recording_s3_bucket or "",
                force_path_style=bool(settings.recording_s3_endpoint),
            ),
        )
    return EncodedFileOutput(file_type=EncodedFileType.OGG, filepath=str(recording_dir(settings) / name))


async def start_recording(lk: api.LiveKitAPI, settings: Settings, room: str) -> EgressInfo:
    """Start recording the room's audio, unless an egress of it already runs (a restarted job): that one is it."""
    running = await lk.egress.list_egress(ListEgressRequest(room_name=room, active=True))
    if running.items:
        return running.items[0]
    return await lk.egress.start_room_composite_egress(
        RoomCompositeEgressRequest(
            room_name=room,
            audio_only=True,
            audio_mixing=AudioMixing.DUAL_CHANNEL_AGENT,
            file_outputs=[file_output(settings, room)],
        )
    )


async def stop_recordings(lk: api.LiveKitAPI, room: str) -> None:
    """Stop the room's running egresses; one that ended meanwhile is fine."""
    running = await lk.egress.list_egress(ListEgressRequest(room_name=room, active=True))
    for info in running.items:
        try:
            await lk.egress.stop_egress(StopEgressRequest(egress_id=info.egress_id))
        except api.TwirpError as err:
            if err.code not in (api.TwirpErrorCode.FAILED_PRECONDITION, api.TwirpErrorCode.NOT_FOUND):
                raise


@dataclass(frozen=True)
class EgressFile:
    """One file an ended egress wrote: where (a path, or the bucket's key), its length and size as the egress saw."""

    egress_id: str
    location: str
    duration_seconds: float
    size_bytes: int
    error: str


async def room_recordings(lk: api.LiveKitAPI, room: str) -> list[EgressFile] | None:
    """The files the room's egresses wrote; None while one is still at work (it is told to stop: the call is over)."""
    listed = await lk.egress.list_egress(ListEgressRequest(room_name=room))
    if any(info.status not in ENDED_STATUSES for info in listed.items):
        await stop_recordings(lk, room)
        return None
    return [
        EgressFile(
            egress_id=info.egress_id,
            location=result.filename,
            duration_seconds=result.duration / 1e9,
            size_bytes=result.size,
            error=info.error,
        )
        for info in listed.items
        for result in info.file_results
        if result.filename
    ]


def length_mismatch(recording_seconds: float, call_seconds: float, tolerance: float) -> bool:
    """Whether a recording's length is off its call's duration by more than the tolerance."""
    return abs(recording_seconds - call_seconds) > tolerance


def content_type_of(location: str) -> str:
    kind, _ = mimetypes.guess_type(location)
    return kind or "application/octet-stream"


# ---- storage ------------------------------------------------------------------------------------------------


class RecordingStorage(Protocol):
    kind: str

    async def size(self, location: str) -> int | None:
        """The stored file's size; None if it is not there."""
        ...

    def read(self, location: str) -> AsyncIterator[bytes]: ...

    async def delete(self, location: str) -> None:
        """Delete the file; one already gone is fine."""
        ...


class LocalStorage:
    """Recordings in a directory of this deployment; nothing outside it is ever read or deleted."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, location: str) -> Path:
        path = (self.root / location).resolve()
        if not path.is_relative_to(self.root):
            raise RecordingUnavailableError(f"{location} is outside the recordings directory")
        return path

    async def size(self, location: str) -> int | None:
        return await asyncio.to_thread(self._size, self._path(location))

    @staticmethod
    def _size(path: Path) -> int | None:
        return path.stat().st_size if path.is_file() else None

    async def read(self, location: str) -> AsyncIterator[bytes]:
        path = self._path(location)
        if await asyncio.to_thread(self._size, path) is None:
            raise RecordingUnavailableError(f"no recording file at {location}")
        with path.open("rb") as file:
            while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
                yield chunk

    async def delete(self, location: str) -> None:
        await asyncio.to_thread(self._path(location).unlink, True)


class S3Storage:
    """Recordings in an S3-compatible bucket (boto3, run off the event loop)."""

    kind = "s3"

    def __init__(self, settings: Settings) -> None:
        import boto3
        from botocore.config import Config

        if not settings.recording_s3_bucket:
            raise ValueError("RINGFLOW_RECORDING_S3_BUCKET is not set")
        self.bucket = settings.recording_s3_bucket
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=settings.recording_s3_endpoint,
            region_name=settings.recording_s3_region,
            aws_access_key_id=settings.recording_s3_access_key,
            aws_secret_access_key=settings.recording_s3_secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    async def size(self, location: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=location)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    async def read(self, location: str) -> AsyncIterator[bytes]:
        body = (await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=location))["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK_BYTES):
                yield chunk
        finally:
            body.close()

    async def delete(self, location: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=location)

    def presigned_url(self, location: str, expires_in: int) -> str:
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": location}, ExpiresIn=expires_in
            )
        )


def storage_for(settings: Settings, kind: str | None = None) -> LocalStorage | S3Storage:
    """The storage of ``kind`` (a row's), or the deployment's current choice."""
    if (kind or settings.recording_storage) == "s3":
        return S3Storage(settings)
    return LocalStorage(recording_dir(settings))


# ---- signed links -------------------------------------------------------------------------------------------


def link_secret(settings: Settings) -> bytes:
    """``RINGFLOW_RECORDING_LINK_SECRET``, else the dev stack's key file in data_dir (made on first use)."""
    if settings.recording_link_secret:
        return settings.recording_link_secret.encode()
    path = settings.data_dir / LINK_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode(), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip().encode()


def link_signature(secret: bytes, recording_id: str, expires: int) -> str:
    return hmac.new(secret, f"{recording_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_path(settings: Settings, recording_id: str, now: float | None = None) -> tuple[str, int]:
    """The link route's path for a recording, signed until ``now + recording_link_seconds``; with its expiry."""
    expires = int(now if now is not None else time.time()) + settings.recording_link_seconds
    signature = link_signature(link_secret(settings), recording_id, expires)
    return f"/recordings/{recording_id}?expires={expires}&signature={signature}", expires


def link_is_valid(
    settings: Settings, recording_id: str, expires: int, signature: str, now: float | None = None
) -> bool:
    """The signature is the deployment's over this recording and expiry, and the expiry has not passed."""
    expected = link_signature(link_secret(settings), recording_id, expires)
    return hmac.compare_digest(expected, signature) and expires > (now if now is not None else time.time())
