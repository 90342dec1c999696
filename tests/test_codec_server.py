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
from infra.operator import OPERATOR_COOKIE, OPERATOR_LOGIN_SECONDS, is_valid_operator_cookie, operator_cookie
from schemas.settings import Settings
from store.orgs import create_org
from worker.http_server import serving

WEB_UI = "http://127.0.0.1:8233"
PHONE = "+442079460417"


OPERATOR_TOKEN = "operators-only-" + "x" * 24


@dataclass
class CodecApi:
    http: httpx.AsyncClient
    org_keys: dict[str, str]

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {OPERATOR_TOKEN}", "X-Namespace": "default"}


@pytest_asyncio.fixture
async def codec_api(time_env, session_factory, db_url) -> AsyncIterator[CodecApi]:
    org_keys = {}
    async with session_factory() as session:
        for name in ("org-a", "org-b"):
            _, org_keys[name] = await create_org(session, name)
        await session.commit()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=db_url,
        codec_cors_origins=f"{WEB_UI}, http://localhost:8233/",
        operator_token=OPERATOR_TOKEN,
    )
    app = create_app(settings, time_env.client, session_factory)
    async with serving(app, "127.0.0.1", 0) as server:
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield CodecApi(http, org_keys)


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


async def test_no_organization_key_decodes_or_mints_payloads_only_the_operator_token_does(codec_api: CodecApi):
    """Org A's sealed workflow input is not readable with org B's key, nor with org A's own: the codec
    opens every tenant's payloads, so it is the operators' alone."""
    org_a_input = as_json(*await suite_codec().encode([plain_payload()]))
    assert (await codec_api.http.post("/codec/decode", json=org_a_input)).status_code == 401
    for org_key in codec_api.org_keys.values():
        for header in ({"Authorization": f"Bearer {org_key}"}, {"X-API-Key": org_key}):
            decoded = await codec_api.http.post("/codec/decode", json=org_a_input, headers=header)
            assert decoded.status_code == 403 and PHONE not in decoded.text
            assert "operator token" in decoded.json()["detail"]
            minted = await codec_api.http.post("/codec/encode", json=as_json(plain_payload()), headers=header)
            assert minted.status_code == 403
    wrong = await codec_api.http.post("/codec/decode", json=org_a_input, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    operator = await codec_api.http.post("/codec/decode", json=org_a_input, headers=codec_api.auth())
    assert operator.status_code == 200 and from_json(operator.json())[0] == plain_payload()


async def test_the_web_ui_decodes_with_the_operator_login_cookie_until_logout(codec_api: CodecApi):
    body = as_json(*await suite_codec().encode([plain_payload()]))
    refused = await codec_api.http.post("/operator/login", data={"token": codec_api.org_keys["org-a"]})
    assert refused.status_code == 401 and OPERATOR_COOKIE not in codec_api.http.cookies
    login = await codec_api.http.post("/operator/login", data={"token": OPERATOR_TOKEN})
    assert login.status_code == 303
    cookie = codec_api.http.cookies[OPERATOR_COOKIE]
    assert OPERATOR_TOKEN not in cookie, "the browser never holds the token itself"
    # The Web UI with "include cross-origin credentials" sends the operator login's cookie.
    assert (await codec_api.http.post("/codec/decode", json=body)).status_code == 200
    await codec_api.http.post("/operator/logout")
    assert OPERATOR_COOKIE not in codec_api.http.cookies
    assert (await codec_api.http.post("/codec/decode", json=body)).status_code == 401
    codec_api.http.cookies.set(OPERATOR_COOKIE, cookie.split(".")[0] + ".forged")
    assert (await codec_api.http.post("/codec/decode", json=body)).status_code == 403


def test_an_operator_login_expires_and_dies_with_the_token():
    cookie = operator_cookie(OPERATOR_TOKEN, now=1_000)
    assert is_valid_operator_cookie(OPERATOR_TOKEN, cookie, now=1_000 + OPERATOR_LOGIN_SECONDS - 1)
    assert not is_valid_operator_cookie(OPERATOR_TOKEN, cookie, now=1_000 + OPERATOR_LOGIN_SECONDS + 1)
    assert not is_valid_operator_cookie("a rotated token", cookie, now=1_000)


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
