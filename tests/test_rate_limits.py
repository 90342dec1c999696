"""Rate limits (api/ratelimit.py): logins per address and per account, ``/v1`` requests per key and, without a
valid key, per address; each refusal a 429 with ``Retry-After`` and a one-line ``detail``.

The app runs in-process (httpx's ASGI transport, whose peer is 127.0.0.1) on the real database, with a
Temporal client that never connects: the routes used here need none. Limits are small and windows short.
"""

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
from starlette.requests import Request
from temporalio.client import Client

from api.main import create_app
from api.proxies import client_address, trusted_networks
from schemas.settings import Settings
from store.members import add_member
from store.orgs import create_org

BASE = "http://ringflow.test"
PROXY = "127.0.0.1"  # the ASGI transport's peer, trusted as a proxy where a test needs many client addresses


PASSWORD = "a long enough password"
NO_SUCH_MEMBER = {"email": "nobody@example.com", "password": "wrong"}


def settings(**limits: str) -> Settings:
    return Settings(_env_file=None, **limits)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def api(config: Settings, sessions) -> AsyncIterator[httpx.AsyncClient]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    temporal = await Client.connect(f"127.0.0.1:{port}", lazy=True)
    app = create_app(config, temporal, sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


async def new_key(sessions, name: str) -> str:
    async with sessions() as session:
        _, key = await create_org(session, name)
        await session.commit()
    return key


async def new_member(sessions, name: str) -> dict[str, str]:
    """A member's login form: a fresh organization's owner."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    async with sessions() as session:
        org, _ = await create_org(session, name)
        await add_member(session, org.id, email, PASSWORD, "owner")
        await session.commit()
    return {"email": email, "password": PASSWORD}


def wrong_password(login: dict[str, str]) -> dict[str, str]:
    return {**login, "password": PASSWORD + "-not"}


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "too many" in detail


async def test_the_login_attempt_past_the_address_limit_is_a_429_with_retry_after(session_factory) -> None:
    login = await new_member(session_factory, "Logins")
    async with api(settings(rate_limit_login_per_address="3/minute"), session_factory) as http:
        answers = [
            (await http.post("/login", data={"email": f"nobody{n}@example.com", "password": "x"})).status_code
            for n in range(3)
        ]
        refused = await http.post("/login", data=login)
    assert answers == [401, 401, 401]
    assert_refused(refused)


async def test_failures_against_one_account_from_many_addresses_lock_it(session_factory) -> None:
    login, other = await new_member(session_factory, "Locked"), await new_member(session_factory, "Other")
    config = settings(rate_limit_login_failures_per_account="3/minute", trusted_proxies=PROXY)
    async with api(config, session_factory) as http:
        for n in range(3):
            failed = await http.post("/login", data=wrong_password(login), headers=from_address(f"203.0.113.{n}"))
            assert failed.status_code == 401
        locked = await http.post("/login", data=login, headers=from_address("198.51.100.7"))
        other_account = await http.post("/login", data=other, headers=from_address("198.51.100.7"))
    assert_refused(locked)
    assert other_account.status_code == 303


async def test_a_successful_login_forgives_the_accounts_earlier_failures(session_factory) -> None:
    login = await new_member(session_factory, "Forgiven")
    async with api(settings(rate_limit_login_failures_per_account="2/minute"), session_factory) as http:
        await http.post("/login", data=wrong_password(login))
        assert (await http.post("/login", data=login)).status_code == 303
        await http.post("/login", data=wrong_password(login))
        assert (await http.post("/login", data=login)).status_code == 303


async def test_the_request_past_a_keys_limit_is_a_429_and_another_key_is_not_affected(session_factory) -> None:
    busy, quiet = await new_key(session_factory, "Busy"), await new_key(session_factory, "Quiet")
    async with api(settings(rate_limit_api_per_key="3/minute"), session_factory) as http:
        answers = [
            (await http.get("/v1/me", headers={"Authorization": f"Bearer {busy}"})).status_code for _ in range(3)
        ]
        refused = await http.get("/v1/me", headers={"Authorization": f"Bearer {busy}"})
        same_key_in_another_header = await http.get("/v1/me", headers={"X-API-Key": busy})
        other = await http.get("/v1/me", headers={"Authorization": f"Bearer {quiet}"})
    assert answers == [200, 200, 200]
    assert_refused(refused)
    assert_refused(same_key_in_another_header)
    assert other.status_code == 200


async def test_a_keys_limit_resets_after_its_window(session_factory) -> None:
    key = await new_key(session_factory, "Patient")
    headers = {"Authorization": f"Bearer {key}"}
    async with api(settings(rate_limit_api_per_key="2/1 second"), session_factory) as http:
        for _ in range(2):
            assert (await http.get("/v1/me", headers=headers)).status_code == 200
        refused = await http.get("/v1/me", headers=headers)
        assert_refused(refused)
        await asyncio.sleep(int(refused.headers["retry-after"]) + 0.1)
        assert (await http.get("/v1/me", headers=headers)).status_code == 200


async def test_requests_without_a_valid_key_are_limited_per_address(session_factory) -> None:
    key = await new_key(session_factory, "Guessed")
    config = settings(rate_limit_api_unauthenticated_per_address="3/minute", trusted_proxies=PROXY)
    async with api(config, session_factory) as http:
        guesses = [
            (await http.get("/v1/me", headers={"X-API-Key": f"rf_guess{n}", **from_address("203.0.113.9")})).status_code
            for n in range(2)
        ]
        keyless = await http.get("/v1/me", headers=from_address("203.0.113.9"))
        refused = await http.get("/v1/me", headers=from_address("203.0.113.9"))
        elsewhere = await http.get("/v1/me", headers=from_address("203.0.113.10"))
        with_key = await http.get("/v1/me", headers={"X-API-Key": key, **from_address("203.0.113.9")})
    assert guesses == [401, 401] and keyless.status_code == 401
    assert_refused(refused)
    assert elsewhere.status_code == 401
    assert with_key.status_code == 200


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(session_factory) -> None:
    async with api(settings(rate_limit_login_per_address="2/minute"), session_factory) as http:
        answers = [
            (await http.post("/login", data=NO_SUCH_MEMBER, headers=from_address(f"203.0.113.{n}"))).status_code
            for n in range(3)
        ]
    assert answers == [401, 401, 429]  # every attempt counted against the real peer, whatever the header says


def request_from(peer: str, *forwarded_for: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded_for]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 443)})


def test_the_client_address_is_the_first_hop_no_trusted_proxy_vouches_past() -> None:
    proxies = trusted_networks("10.0.0.0/8, 192.0.2.1")
    # The client wrote the first entry itself; the proxies appended what they saw.
    chain = request_from("10.0.0.1", "198.51.100.1, 203.0.113.5", "10.0.0.2")
    assert client_address(chain, proxies) == "203.0.113.5"
    assert client_address(request_from("192.0.2.1", "203.0.113.6"), proxies) == "203.0.113.6"
    assert client_address(request_from("203.0.113.7", "198.51.100.1"), proxies) == "203.0.113.7"
    assert client_address(request_from("10.0.0.1"), proxies) == "10.0.0.1"
