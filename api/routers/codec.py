"""The codec server: the Temporal Web UI and CLI decrypt (and encrypt) payloads through the API.

It follows Temporal's codec server protocol: ``POST /codec/decode`` and ``POST /codec/encode`` take and
return ``{"payloads": [...]}`` (Payloads as proto3 JSON), a bad body or a payload that cannot be
decrypted is a 400. The keys are the ones of the API's own Temporal client, so whatever the workers
sealed, the API opens. Callers need an organization API key (Bearer, X-API-Key) or a member's dashboard
session (its cookie, which the Web UI sends when "include cross-origin credentials" is on).

The Web UI calls from its own origin: :class:`CodecCorsMiddleware` answers the CORS preflight and adds
the CORS headers for the origins in ``codec_cors_origins``, on these routes only; the rest of the API
stays same-origin.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from pydantic import ValidationError
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from api.deps import AppContext, Context, signed_in
from infra.codec import CODEC_SERVER_PATH, PayloadDecryptionError
from schemas.codec import CodecPayloads
from schemas.settings import Settings

CODEC_REQUEST_HEADERS = ["Authorization", "Content-Type", "X-API-Key", "X-Namespace"]
PREFLIGHT_MAX_AGE_SECONDS = 600

router = APIRouter(prefix=CODEC_SERVER_PATH, tags=["codec"], dependencies=[Depends(signed_in)])

CodecStep = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]

# The body is read by hand: the protocol answers 400 to a body that is not Payloads JSON, where the
# API's own validation says 422. OpenAPI still shows it (the response model puts the schema in components).
_DOCUMENTED_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{CodecPayloads.__name__}"}}},
    }
}
# What the two routes declare alike; the summary tells them apart.
_ROUTE: dict[str, Any] = {"response_model": CodecPayloads, "openapi_extra": _DOCUMENTED_BODY}


async def _unchanged(payloads: Sequence[Payload]) -> list[Payload]:
    return list(payloads)


async def _apply(direction: Literal["decode", "encode"], request: Request, ctx: AppContext) -> JSONResponse:
    """The protocol's one shape for both directions: Payloads JSON in, each payload through the API
    client's codec (as it is when the client has none), Payloads JSON out."""
    codec = ctx.client.data_converter.payload_codec
    step: CodecStep = getattr(codec, direction) if codec else _unchanged
    try:
        body = CodecPayloads.model_validate_json(await request.body())
        payloads = json_format.ParseDict(body.model_dump(), Payloads(), ignore_unknown_fields=True)
    except (ValidationError, json_format.ParseError) as err:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"not Temporal Payloads JSON: {_why(err)}") from None
    try:
        converted = await step(payloads.payloads)
    except PayloadDecryptionError as err:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(err)) from None
    # Always a ``payloads`` list: proto3 JSON would drop an empty one, and clients map over it.
    return JSONResponse({"payloads": [json_format.MessageToDict(payload) for payload in converted]})


def _why(err: ValidationError | json_format.ParseError) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc']) or 'body'}: {first['msg']}"
    return str(err)


@router.post("/decode", summary="Decrypt payloads (Temporal codec server protocol)", **_ROUTE)
async def decode(request: Request, ctx: Context) -> JSONResponse:
    return await _apply("decode", request, ctx)


@router.post("/encode", summary="Encrypt payloads (Temporal codec server protocol)", **_ROUTE)
async def encode(request: Request, ctx: Context) -> JSONResponse:
    return await _apply("encode", request, ctx)


def cors_origins(settings: Settings) -> list[str]:
    """The configured origins, and always the Web UI's own (``temporal_ui_url``), whatever port it was moved to."""
    configured = [origin.strip().rstrip("/") for origin in settings.codec_cors_origins.split(",") if origin.strip()]
    ui = urlsplit(settings.temporal_ui_url)
    web_ui = f"{ui.scheme}://{ui.netloc}"
    return configured if web_ui in configured else [*configured, web_ui]


class CodecCorsMiddleware:
    """Starlette's CORS handling for ``/codec/*`` only, with the origins of the app's settings.

    Credentials are allowed (the dashboard's cookie), so origins are listed, never ``*``. The
    settings live on the app's state, set after the middleware stack is built: the CORS layer is
    made on the first codec request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._cors: CORSMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(CODEC_SERVER_PATH + "/"):
            await self.app(scope, receive, send)
            return
        if self._cors is None:
            self._cors = CORSMiddleware(
                self.app,
                allow_origins=cors_origins(scope["app"].state.ringflow.settings),
                allow_methods=["POST"],
                allow_headers=CODEC_REQUEST_HEADERS,
                allow_credentials=True,
                max_age=PREFLIGHT_MAX_AGE_SECONDS,
            )
        await self._cors(scope, receive, send)
