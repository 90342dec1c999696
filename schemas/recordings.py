"""Call recordings' contracts: the collect activity's input, a recording as the API shows it, its download link."""

from datetime import datetime

from pydantic import BaseModel, Field

COLLECT_RECORDINGS_ACTIVITY = "collect_recordings"
RECORDING_PATCH = "recording-collect"
"""The contact workflow's patch: after an answered call of a recording agent, it collects the call's recordings."""


class CollectRecordings(BaseModel):
    """After a call: find the files its room's egresses wrote and record each, checked against ``call_seconds``."""

    idempotency_key: str = Field(description="The dial's key: its room is named after it")
    org_id: str | None = None
    campaign_id: str
    external_id: str
    attempt: int
    call_seconds: float


class RecordingOut(BaseModel):
    id: str
    storage: str = Field(description="local | s3")
    content_type: str
    size_bytes: int
    duration_seconds: float = Field(description="The recording's length, as the egress that wrote it measured")
    call_seconds: float = Field(description="The call's duration, as the carrier measured it")
    length_mismatch: bool = Field(description="The two differ by more than the deployment's tolerance")
    problem: str = Field(description="Why it was flagged, if it was; empty otherwise")
    created_at: datetime


class RecordingLink(BaseModel):
    """A signed download link for a call's recording; it works without other authorization until it expires."""

    recording: RecordingOut
    url: str = Field(description="Streams the file through the API; signed (HMAC) for this recording until expiry")
    storage_url: str | None = Field(
        default=None, description="On S3 storage: a presigned URL of the object itself, valid as long"
    )
    expires_at: datetime
