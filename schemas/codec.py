"""Bodies of the codec server (``/codec/encode``, ``/codec/decode``): Temporal's Payloads as proto3 JSON."""

from pydantic import BaseModel, ConfigDict, Field

MAX_PAYLOADS_PER_REQUEST = 10_000


class CodecPayload(BaseModel):
    """One ``temporal.api.common.v1.Payload``: each metadata value and the data are base64, as proto3 JSON has it."""

    # Fields a newer Temporal adds to Payload pass through to the protobuf parser rather than being refused.
    model_config = ConfigDict(extra="allow")

    metadata: dict[str, str] = Field(default_factory=dict, examples=[{"encoding": "anNvbi9wbGFpbg=="}])
    data: str = ""


class CodecPayloads(BaseModel):
    """The codec server protocol's request and response body."""

    payloads: list[CodecPayload] = Field(default_factory=list, max_length=MAX_PAYLOADS_PER_REQUEST)
