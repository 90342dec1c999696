"""Who may do what: members and their roles, dashboard sessions (revoked, expired, CSRF), read-only API keys,
the security headers, and the audit log. Roles and scopes are decided in one place (api/auth.py)."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from api_stack import MEMBER_PASSWORD
from sqlalchemy import select, update
from starlette.requests import Request

from api.deps import cookie_secure
from schemas.settings import Settings
from store.members import add_member, authenticate
from store.models import MemberRow, SessionRow, utcnow
from store.orgs import create_org

SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@asynccontextmanager
async def member_session(api_stack, role: str | None = None) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client logged in to org A's dashboard (as a new member with ``role``, or as its owner), and the
    session's CSRF token from a page."""
    email = api_stack.org_a.email
    if role is not None:
        email = f"{role}@{api_stack.org_a.id}.example.com"
        async with api_stack.sessions() as session:
            await add_member(session, api_stack.org_a.id, email, MEMBER_PASSWORD, role)
            await session.commit()
    async with httpx.AsyncClient(base_url=api_stack.base_url, timeout=30) as http:
        response = await http.post("/login", data={"email": email, "password": MEMBER_PASSWORD})
        assert response.status_code == 303, response.text
        page = await http.get("/")
        match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert match
        yield http, match.group(1)


async def draft_campaign(api_stack) -> str:
    body = {"name": "spring", "start": False, "contacts": [{"external_id": "a", "phone": "+14155550101"}]}
    response = await api_stack.org_a.http.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    return response.json()["campaign"]["id"]


async def test_a_viewer_cannot_pause_a_campaign_and_is_told_why(api_stack):
    campaign_id = await draft_campaign(api_stack)
    async with member_session(api_stack, "viewer") as (http, token):
        assert (await http.get(f"/v1/campaigns/{campaign_id}")).status_code == 200
        response = await http.post(f"/v1/campaigns/{campaign_id}/pause", headers={"X-CSRF-Token": token})
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "your role (viewer) may not do this: it needs the operate permission (owner, admin, operator)"
    )


async def test_an_operator_may_steer_campaigns_but_not_edit_agents(api_stack):
    campaign_id = await draft_campaign(api_stack)
    async with member_session(api_stack, "operator") as (http, token):
        paused = await http.post(f"/v1/campaigns/{campaign_id}/pause", headers={"X-CSRF-Token": token})
        agent = await http.post(
            "/v1/agents", json={"name": "sam", "instructions": "Hi."}, headers={"X-CSRF-Token": token}
        )
        listed = await http.post("/v1/dnc", json={"phone": "+14155550199"}, headers={"X-CSRF-Token": token})
    assert paused.status_code == 409  # allowed through; a draft has nothing to pause yet
    assert agent.status_code == 403
    assert listed.status_code == 201


async def test_a_read_only_key_reads_but_cannot_write(api_stack):
    created = await api_stack.org_a.http.post("/v1/keys", json={"label": "dashboards", "scope": "read"})
    assert created.status_code == 201 and created.json()["scope"] == "read"
    headers = {"Authorization": f"Bearer {created.json()['key']}"}
    async with httpx.AsyncClient(base_url=api_stack.base_url, headers=headers, timeout=30) as read_only:
        assert (await read_only.get("/v1/campaigns")).status_code == 200
        refused = await read_only.post("/v1/dnc", json={"phone": "+14155550199"})
        assert (await read_only.get("/v1/keys")).status_code == 403
    assert refused.status_code == 403
    assert refused.json()["detail"] == "this API key is read-only: use a full key to change anything"


async def test_existing_keys_are_full_and_act_as_an_admin_but_never_manage_members(api_stack):
    http = api_stack.org_a.http
    assert (await http.post("/v1/agents", json={"name": "sam", "instructions": "Hi."})).status_code == 201
    assert (await http.get("/v1/audit")).status_code == 200
    refused = await http.post("/v1/members", json={"email": "x@example.com", "password": "x" * 12, "role": "owner"})
    assert refused.status_code == 403


async def test_a_session_write_without_its_csrf_token_is_refused(api_stack):
    async with member_session(api_stack) as (http, token):
        missing = await http.post("/v1/dnc", json={"phone": "+14155550199"})
        wrong = await http.post("/v1/dnc", json={"phone": "+14155550199"}, headers={"X-CSRF-Token": token + "x"})
        sent = await http.post("/v1/dnc", json={"phone": "+14155550199"}, headers={"X-CSRF-Token": token})
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    assert wrong.status_code == 403
    assert sent.status_code == 201


async def test_an_expired_session_is_refused_and_forgotten(api_stack):
    async with member_session(api_stack) as (http, _):
        async with api_stack.sessions() as session:
            await session.execute(update(SessionRow).values(expires_at=utcnow() - timedelta(seconds=1)))
            await session.commit()
        assert (await http.get("/v1/me")).status_code == 401
        assert (await http.get("/")).status_code == 303
    async with api_stack.sessions() as session:
        assert (await session.scalars(select(SessionRow))).all() == []


async def test_an_idle_session_is_refused(api_stack):
    idle = api_stack.settings.session_idle_timeout + timedelta(seconds=1)
    async with member_session(api_stack) as (http, _):
        async with api_stack.sessions() as session:
            await session.execute(update(SessionRow).values(last_seen_at=utcnow() - idle))
            await session.commit()
        assert (await http.get("/v1/me")).status_code == 401


async def test_using_a_session_moves_its_idle_end_on(api_stack):
    almost_idle = utcnow() - api_stack.settings.session_idle_timeout + timedelta(minutes=2)
    async with member_session(api_stack) as (http, _):
        async with api_stack.sessions() as session:
            await session.execute(update(SessionRow).values(last_seen_at=almost_idle))
            await session.commit()
        assert (await http.get("/v1/me")).status_code == 200
        async with api_stack.sessions() as session:
            assert (await session.scalars(select(SessionRow.last_seen_at))).one() > almost_idle + timedelta(minutes=1)


async def test_removing_a_member_ends_their_sessions(api_stack):
    async with member_session(api_stack, "admin") as (http, _), member_session(api_stack) as (owner, token):
        assert (await http.get("/v1/me")).status_code == 200
        email = f"admin@{api_stack.org_a.id}.example.com"
        removed = await owner.delete(f"/v1/members/{email}", headers={"X-CSRF-Token": token})
        assert removed.status_code == 204
        assert (await http.get("/v1/me")).status_code == 401


async def test_the_owner_manages_members_but_cannot_remove_the_last_owner(api_stack):
    async with member_session(api_stack) as (owner, token):
        headers = {"X-CSRF-Token": token}
        added = await owner.post(
            "/v1/members", json={"email": "Ops@Example.com", "password": "p" * 12, "role": "operator"}, headers=headers
        )
        taken = await owner.post(
            "/v1/members", json={"email": "ops@example.com", "password": "p" * 12, "role": "viewer"}, headers=headers
        )
        promoted = await owner.put("/v1/members/ops@example.com", json={"role": "admin"}, headers=headers)
        last = await owner.delete(f"/v1/members/{api_stack.org_a.email}", headers=headers)
        members = (await owner.get("/v1/members")).json()
    assert added.status_code == 201 and added.json()["email"] == "ops@example.com"
    assert taken.status_code == 409
    assert promoted.json()["role"] == "admin"
    assert last.status_code == 409 and "last owner" in last.json()["detail"]
    assert {m["email"]: m["role"] for m in members} == {api_stack.org_a.email: "owner", "ops@example.com": "admin"}


async def test_pages_and_api_answers_carry_the_security_headers(api_stack):
    async with member_session(api_stack) as (http, _):
        answers = [await http.get("/"), await http.get("/v1/me"), await api_stack.anonymous.get("/login")]
    answers.append(await api_stack.org_a.http.get("/v1/campaigns"))
    for response in answers:
        assert response.status_code == 200, response.url
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (response.url, name)
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self' 'unsafe-eval';" in policy
        assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]


async def test_the_dashboard_pages_have_no_inline_script(api_stack):
    async with member_session(api_stack) as (http, _):
        page = (await http.get("/audit")).text
    for tag in re.findall(r"<script[^>]*>", page):
        assert 'src="/static/' in tag, tag
    assert not re.search(r"<script[^>]*>\s*[^<\s]", page)


async def test_audit_events_name_the_actor_and_are_listed_newest_first_for_admins(api_stack):
    campaign_id = await draft_campaign(api_stack)
    async with member_session(api_stack) as (owner, token):
        listed = await owner.post("/v1/dnc", json={"phone": "+14155550199"}, headers={"X-CSRF-Token": token})
        assert listed.status_code == 201
        cancelled = await owner.post(f"/v1/campaigns/{campaign_id}/cancel", headers={"X-CSRF-Token": token})
        assert cancelled.status_code == 200
        page = (await owner.get("/v1/audit", params={"limit": 2})).json()
    assert (await api_stack.org_a.http.post("/v1/agents", json={"name": "sam", "instructions": "Hi."})).is_success
    everything = (await api_stack.org_a.http.get("/v1/audit")).json()

    assert page["total"] == 3 and len(page["items"]) == 2
    assert [(e["action"], e["actor"], e["target"]) for e in page["items"]] == [
        ("campaign.cancel", api_stack.org_a.email, campaign_id),
        ("dnc.add", api_stack.org_a.email, "+14155550199"),
    ]
    newest = everything["items"][0]
    assert newest["action"] == "agent.create" and newest["target"] == "sam"
    assert newest["actor"] == f"API key {api_stack.org_a.key[:10]}… (first key)"
    assert everything["items"][-1]["action"] == "campaign.create"
    assert (await api_stack.org_b.http.get("/v1/audit")).json()["total"] == 0

    async with member_session(api_stack, "viewer") as (viewer, _):
        assert (await viewer.get("/v1/audit")).status_code == 403
        assert 'href="/audit"' not in (await viewer.get("/")).text


async def test_a_password_is_stored_as_an_argon2id_hash_never_as_given(session_factory):
    async with session_factory() as session:
        org, _ = await create_org(session, "Acme")
        await add_member(session, org.id, "Ann@Example.com", MEMBER_PASSWORD, "owner")
        await session.commit()
        stored = (await session.scalars(select(MemberRow))).one()
        assert stored.email == "ann@example.com"
        assert stored.password_hash.startswith("$argon2id$") and MEMBER_PASSWORD not in stored.password_hash
        assert (await authenticate(session, "ann@example.com", MEMBER_PASSWORD)) is not None
        assert (await authenticate(session, "ann@example.com", MEMBER_PASSWORD + "!")) is None


def _request(scheme: str, peer: str, forwarded_proto: str | None = None) -> Request:
    headers = [(b"x-forwarded-proto", forwarded_proto.encode())] if forwarded_proto else []
    scope = {
        "type": "http",
        "scheme": scheme,
        "server": ("ringflow.example.com", 443),
        "path": "/",
        "query_string": b"",
    }
    return Request({**scope, "client": (peer, 5000), "headers": headers})


@pytest.mark.parametrize(
    ("scheme", "peer", "forwarded", "settings", "secure"),
    [
        ("https", "10.0.0.9", None, {}, True),
        ("http", "10.0.0.9", None, {}, False),
        ("http", "10.0.0.2", "https", {"trusted_proxies": "10.0.0.2, 10.0.0.3"}, True),
        ("http", "10.0.0.9", "https", {"trusted_proxies": "10.0.0.2"}, False),  # anyone can send the header
        ("http", "10.0.0.9", None, {"cookie_secure": True}, True),
        ("https", "10.0.0.9", None, {"cookie_secure": False}, False),
    ],
)
def test_the_cookie_is_secure_over_https_seen_directly_or_through_a_trusted_proxy(
    scheme: str, peer: str, forwarded: str | None, settings: dict, secure: bool
) -> None:
    configured = Settings(_env_file=None, **settings)  # type: ignore[call-arg]
    assert cookie_secure(_request(scheme, peer, forwarded), configured) is secure
