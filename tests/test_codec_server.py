"""The API's codec server over real HTTP (uvicorn): what the Temporal Web UI and CLI send, and what they get back."""

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest_asyncio
from codec_test_keys import suite_codec
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from api.main import create_app
from api.routers.codec import cors_origins
from infra.codec import EncryptionCodec, new_codec_key, parse_codec_keys
from schemas.settings import Settings
from store.members import add_member
from store.orgs import create_org
from worker.http_server import serving

WEB_UI = "http://127.0.0.1:8233"
PHONE = "+442079460417"
OPERATOR_EMAIL = "ops@example.com"
OPERATOR_PASSWORD = "a long enough password"


@dataclass
class CodecApi:
    http: httpx.AsyncClient
    api_key: str

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "X-Namespace": "default"}


@pytest_asyncio.fixture
async def codec_api(time_env, session_factory, db_url) -> AsyncIterator[CodecApi]:
    async with session_factory() as session:
        org, api_key = await create_org(session, "ops")
        await add_member(session, org.id, OPERATOR_EMAIL, OPERATOR_PASSWORD, "admin")
        await session.commit()
    settings = Settings(_env_file=None, database_url=db_url, codec_cors_origins=f"{WEB_UI}, http://localhost:8233/")  # type: ignore[call-arg]
    app = create_app(settings, time_env.client, session_factory)
    async with serving(app, "127.0.0.1", 0) as server:
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield CodecApi(http, api_key)


def plain_payload() -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"phone": PHONE}).encode())


def as_json(*payloads: Payload) -> dict:
    """The body the Web UI sends: Payloads as proto3 JSON (bytes as base64)."""
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


def from_json(body: dict) -> list[Payload]:
    return [json_format.ParseDict(p, Payload()) for p in body["payloads"]]


async def test_the_web_ui_reads_what_a_worker_sealed_and_seals_what_it_sends(codec_api: CodecApi):
    sealed = await suite_codec().encode([plain_payload()])
    decoded = await codec_api.http.post("/codec/decode", json=as_json(*sealed), headers=codec_api.auth())
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["content-type"] == "application/json"
    assert from_json(decoded.json()) == [plain_payload()]

    encoded = await codec_api.http.post("/codec/encode", json=as_json(plain_payload()), headers=codec_api.auth())
    assert encoded.status_code == 200, encoded.text
    [resealed] = from_json(encoded.json())
    assert resealed.metadata["encryption-key-id"] == b"test-only-not-secret"
    assert PHONE not in encoded.text and base64.b64encode(PHONE.encode()).decode() not in encoded.text
    assert await suite_codec().decode([resealed]) == [plain_payload()]


async def test_the_codec_server_needs_an_organization_api_key(codec_api: CodecApi):
    body = as_json(*await suite_codec().encode([plain_payload()]))
    assert (await codec_api.http.post("/codec/decode", json=body)).status_code == 401
    wrong = await codec_api.http.post("/codec/decode", json=body, headers={"Authorization": "Bearer rf_wrong"})
    assert wrong.status_code == 401
    assert (await codec_api.http.post("/codec/encode", json=as_json(plain_payload()))).status_code == 401
    # The Web UI with "include cross-origin credentials" sends the dashboard's session cookie.
    login = await codec_api.http.post("/login", data={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})
    assert login.status_code == 303
    assert (await codec_api.http.post("/codec/decode", json=body)).status_code == 200


async def test_the_web_ui_origin_passes_the_cors_preflight_and_reads_the_answer(codec_api: CodecApi):
    preflight = await codec_api.http.options(
        "/codec/decode",
        headers={
            "Origin": WEB_UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == WEB_UI
    assert preflight.headers["access-control-allow-credentials"] == "true"
    allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "x-namespace", "authorization"} <= allowed

    answer = await codec_api.http.post(
        "/codec/decode",
        json=as_json(*await suite_codec().encode([plain_payload()])),
        headers={**codec_api.auth(), "Origin": "http://localhost:8233"},
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "http://localhost:8233"
    refused = await codec_api.http.post("/codec/decode", json=as_json(), headers={"Origin": WEB_UI})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == WEB_UI, (
        "the Web UI can tell a missing login from a network error"
    )


async def test_other_origins_and_other_routes_get_no_cors(codec_api: CodecApi):
    request = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    foreign = await codec_api.http.options("/codec/decode", headers={**request, "Origin": "https://evil.example"})
    assert foreign.status_code == 400 and "access-control-allow-origin" not in foreign.headers
    api_route = await codec_api.http.options("/twilio/voice/incoming", headers={**request, "Origin": WEB_UI})
    assert "access-control-allow-origin" not in api_route.headers


async def test_bad_bodies_and_foreign_payloads_are_a_400_that_says_why(codec_api: CodecApi):
    post = codec_api.http.post
    not_json = await post(
        "/codec/decode", content=b"{nope", headers={**codec_api.auth(), "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    bad_base64 = await post("/codec/decode", json={"payloads": [{"data": "a"}]}, headers=codec_api.auth())
    assert bad_base64.status_code == 400 and "base64" in bad_base64.json()["detail"]
    not_payloads = await post("/codec/decode", json={"payloads": [{"data": ["x"]}]}, headers=codec_api.auth())
    assert not_payloads.status_code == 400
    foreign = await EncryptionCodec(parse_codec_keys(new_codec_key("elsewhere"))).encode([plain_payload()])
    unknown = await post("/codec/decode", json=as_json(*foreign), headers=codec_api.auth())
    assert unknown.status_code == 400 and "'elsewhere'" in unknown.json()["detail"]
    empty = await post("/codec/decode", json={}, headers=codec_api.auth())
    assert empty.status_code == 200 and empty.json() == {"payloads": []}


def test_the_web_ui_of_the_settings_is_always_an_allowed_origin():
    moved = Settings(_env_file=None, temporal_ui_url="http://127.0.0.1:18233/")  # type: ignore[call-arg]
    assert cors_origins(moved) == ["http://127.0.0.1:8233", "http://localhost:8233", "http://127.0.0.1:18233"]
    assert cors_origins(Settings(_env_file=None)) == ["http://127.0.0.1:8233", "http://localhost:8233"]  # type: ignore[call-arg]
