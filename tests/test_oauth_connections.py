"""OAuth connections against a local OAuth provider and its API: the authorization round trip with PKCE, the
tokens sealed at rest, a tool sending the connection's token, refresh before expiry (once when callers race),
revoke (at Ringflow or at the provider) giving a tool a clear sentence, and who may connect."""

import asyncio
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from cryptography.fernet import Fernet
from oauth_provider import CLIENT_SECRET, OAuthProvider
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.worker import Worker
from typer.testing import CliRunner
from workflow_helpers import eventually

from activities.connections import ConnectionActivities
from activities.tools import ToolActivities
from api.services import connections as service
from cli.app import app
from infra import oauth, sealing
from schemas.connections import ConnectionCreate, Provider, refresh_workflow_id
from schemas.settings import Settings
from schemas.tools import HttpTool, InvocationStatus, InvokeHttpTool
from store.models import DEFAULT_ORG_ID, OAuthConnectionRow
from workflows.connections import ConnectionRefreshWorkflow

ME_TOOL = "who_am_i"


@pytest.fixture
async def provider():
    service = OAuthProvider()
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def oauth_api(api_stack):
    """The API stack with a token key and its own address as the public URL, so the provider redirects to it."""
    api_stack.settings.oauth_token_key = Fernet.generate_key().decode()
    api_stack.settings.public_base_url = api_stack.base_url
    return api_stack


def me_tool(provider: OAuthProvider, connection: str) -> dict[str, object]:
    return HttpTool(
        name=ME_TOOL,
        description="Who the calendar belongs to",
        url=f"{provider.base_url}/api/me",
        auth={"kind": "oauth", "connection": connection},
    ).model_dump(mode="json")


async def connect(oauth_api, provider: OAuthProvider, name: str = "calendar") -> dict[str, object]:
    """Start a connection, and let a browser (httpx, following redirects) authorize it and come back."""
    started = await oauth_api.org_a.http.post("/v1/connections", json=provider.connection(name))
    assert started.status_code == 201, started.text
    assert started.json()["connection"]["status"] == "pending"
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        landed = await browser.get(started.json()["authorization_url"])
    assert landed.status_code == 200, landed.text
    return landed.json()


async def row_of(oauth_api, name: str) -> OAuthConnectionRow:
    async with oauth_api.sessions() as session:
        return (await session.scalars(select(OAuthConnectionRow).where(OAuthConnectionRow.name == name))).one()


async def test_the_authorization_round_trip_connects_and_keeps_the_tokens_sealed(oauth_api, provider) -> None:
    started = await oauth_api.org_a.http.post("/v1/connections", json=provider.connection("calendar"))
    query = parse_qs(urlparse(started.json()["authorization_url"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"] == [
        f"{oauth_api.base_url}/oauth/callback"
    ]
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        landed = await browser.get(started.json()["authorization_url"])
    assert landed.json()["status"] == "connected" and landed.json()["expires_at"] is not None
    replayed = await oauth_api.anonymous.get("/oauth/callback", params={"state": query["state"][0], "code": "x"})
    assert replayed.status_code == 400 and "already used" in replayed.json()["detail"]

    listed = await oauth_api.org_a.http.get("/v1/connections")
    assert [c["name"] for c in listed.json()] == ["calendar"]
    (access_token,) = provider.access_tokens
    (refresh_token,) = provider.refresh_tokens
    for secret in (access_token, refresh_token, CLIENT_SECRET):
        assert secret not in listed.text
    row = await row_of(oauth_api, "calendar")
    raw = " ".join(str(value) for value in row.__dict__.values())
    for secret in (access_token, refresh_token, CLIENT_SECRET):
        assert secret not in raw
    cipher = sealing.sealing_cipher(oauth_api.settings)
    assert sealing.unseal(cipher, row.sealed_access_token or "") == access_token
    assert (await oauth_api.org_b.http.get("/v1/connections/calendar")).status_code == 404


async def test_a_tool_on_the_connection_sends_its_token(oauth_api, provider) -> None:
    await connect(oauth_api, provider)
    http = oauth_api.org_a.http
    assert (await http.post("/v1/tools", json=me_tool(provider, "calendar"))).status_code == 201
    tested = await http.post(f"/v1/tools/{ME_TOOL}/test", json={"arguments": {}})
    assert tested.json()["status"] == "ok" and "ada@example.com" in tested.json()["reply"], tested.text
    assert provider.bearers_seen == list(provider.access_tokens)
    assert provider.refreshes == 0  # an hour left: no refresh


async def test_a_tool_refreshes_a_token_about_to_expire_first(oauth_api, provider) -> None:
    provider.token_lifetime_seconds = 30  # inside the minute's margin: every use refreshes first
    await connect(oauth_api, provider)
    first_token = next(iter(provider.access_tokens))
    http = oauth_api.org_a.http
    await http.post("/v1/tools", json=me_tool(provider, "calendar"))
    tested = await http.post(f"/v1/tools/{ME_TOOL}/test", json={"arguments": {}})
    assert tested.json()["status"] == "ok", tested.text
    assert provider.refreshes == 1 and provider.bearers_seen[-1] != first_token


async def test_racing_callers_refresh_an_expiring_token_once(oauth_api, provider) -> None:
    if not oauth_api.settings.sqlalchemy_url.startswith("postgresql"):
        pytest.skip("SQLite has no row locks: racing refreshes are a Postgres deployment's concern")
    await connect(oauth_api, provider)
    provider.token_lifetime_seconds = 3600
    async with oauth_api.sessions() as session:
        row = await session.get(OAuthConnectionRow, (oauth_api.org_a.id, "calendar"))
        assert row is not None and row.expires_at is not None
        row.expires_at = row.expires_at.replace(year=2000)
        await session.commit()

    async def token() -> str:
        async with oauth_api.sessions() as session:
            return await oauth.access_token(session, oauth_api.settings, oauth_api.org_a.id, "calendar")

    tokens = await asyncio.gather(*(token() for _ in range(4)))
    assert provider.refreshes == 1 and len(set(tokens)) == 1


async def test_a_revoked_connection_revokes_at_the_provider_and_a_tool_says_so(oauth_api, provider) -> None:
    await connect(oauth_api, provider)
    http = oauth_api.org_a.http
    await http.post("/v1/tools", json=me_tool(provider, "calendar"))
    (refresh_token,) = provider.refresh_tokens
    revoked = await http.delete("/v1/connections/calendar")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked", revoked.text
    assert provider.revoked == [refresh_token] and not provider.access_tokens
    tested = await http.post(f"/v1/tools/{ME_TOOL}/test", json={"arguments": {}})
    assert tested.json()["status"] == "refused"
    assert "The calendar connection was revoked: it must be connected again." in tested.json()["reply"]
    assert provider.bearers_seen == []  # never sent without a token

    again = await connect(oauth_api, provider)  # a revoked name is connected again
    assert again["status"] == "connected"


async def test_a_grant_revoked_at_the_provider_fails_the_refresh_with_a_clear_error(oauth_api, provider) -> None:
    provider.token_lifetime_seconds = 30
    await connect(oauth_api, provider)
    await oauth_api.org_a.http.post("/v1/tools", json=me_tool(provider, "calendar"))
    provider.revoke_everything()
    activities = ToolActivities(oauth_api.settings, oauth_api.sessions)
    result = await activities.invoke_http_tool(
        InvokeHttpTool(org_id=oauth_api.org_a.id, name=ME_TOOL, arguments={}, idempotency_key="k-revoked")
    )
    assert result.status == InvocationStatus.REFUSED
    assert "needs to be connected again" in result.reply and "invalid_grant" in result.error
    shown = (await oauth_api.org_a.http.get("/v1/connections/calendar")).json()
    assert shown["status"] == "error" and "Token has been revoked" in shown["last_error"]


async def test_a_provider_refusing_the_authorization_leaves_the_connection_in_error(oauth_api, provider) -> None:
    started = await oauth_api.org_a.http.post("/v1/connections", json=provider.connection("crm"))
    state = parse_qs(urlparse(started.json()["authorization_url"]).query)["state"][0]
    back = await oauth_api.anonymous.get("/oauth/callback", params={"state": state, "error": "access_denied"})
    assert back.status_code == 200 and back.json()["status"] == "error"
    assert "access_denied" in back.json()["last_error"]


async def test_a_viewer_cannot_connect_or_revoke(oauth_api, provider) -> None:
    http = oauth_api.org_a.http
    read_key = (await http.post("/v1/keys", json={"label": "dash", "scope": "read"})).json()["key"]
    headers = {"Authorization": f"Bearer {read_key}"}
    async with httpx.AsyncClient(base_url=oauth_api.base_url, headers=headers) as viewer:
        assert (await viewer.post("/v1/connections", json=provider.connection("calendar"))).status_code == 403
        assert (await viewer.get("/v1/connections")).status_code == 200
        assert (await viewer.delete("/v1/connections/calendar")).status_code == 403


async def test_a_tool_must_name_a_connection_its_organization_has(oauth_api, provider) -> None:
    refused = await oauth_api.org_a.http.post("/v1/tools", json=me_tool(provider, "nowhere"))
    assert refused.status_code == 422
    assert refused.json()["detail"] == "auth.connection: the organization has no connection named 'nowhere'"


async def test_making_a_connection_without_a_token_key_says_what_to_set(api_stack, provider, tmp_path) -> None:
    api_stack.settings.oauth_token_key = None
    api_stack.settings.data_dir = tmp_path
    refused = await api_stack.org_a.http.post("/v1/connections", json=provider.connection("calendar"))
    assert refused.status_code == 422 and "RINGFLOW_OAUTH_TOKEN_KEY" in refused.json()["detail"]


def test_presets_bring_their_endpoints_and_generic_providers_name_theirs() -> None:
    google = ConnectionCreate(name="cal", provider=Provider.GOOGLE_CALENDAR, client_id="c").endpoints()
    assert google.authorize_url.startswith("https://accounts.google.com/")
    assert google.authorize_params["access_type"] == "offline"
    assert ConnectionCreate(name="crm", provider=Provider.HUBSPOT, client_id="c").endpoints().revoke_url is None
    with pytest.raises(ValueError, match="needs its authorize_url and token_url"):
        ConnectionCreate(name="x", client_id="c")
    with pytest.raises(ValueError, match="has its own endpoints"):
        ConnectionCreate(name="x", provider=Provider.HUBSPOT, client_id="c", token_url="https://evil.example/t")


def test_a_token_key_that_is_not_fernet_is_refused_naming_the_setting() -> None:
    with pytest.raises(sealing.SealingKeyError, match="RINGFLOW_OAUTH_TOKEN_KEY"):
        sealing.sealing_cipher(Settings(_env_file=None, oauth_token_key="not-a-key"))  # type: ignore[call-arg]


def test_the_cli_creates_lists_and_revokes_a_connection(cli_store_url: str, monkeypatch) -> None:
    monkeypatch.setenv("RINGFLOW_TOOL_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("RINGFLOW_OAUTH_TOKEN_KEY", Fernet.generate_key().decode())
    provider = OAuthProvider()
    endpoints = provider.connection("calendar")
    code, out = ringflow(
        "connection",
        "create",
        "calendar",
        "--client-id",
        str(endpoints["client_id"]),
        "--client-secret",
        CLIENT_SECRET,
        "--authorize-url",
        str(endpoints["authorize_url"]),
        "--token-url",
        str(endpoints["token_url"]),
        "--scope",
        "calendar",
    )
    assert code == 0 and "connection calendar: pending" in out and f"{provider.base_url}/authorize?" in out, out
    code, out = ringflow("connection", "list")
    assert code == 0 and "calendar  generic  pending" in out, out
    code, out = ringflow("connection", "create", "calendar", "--client-id", "c", "--provider", "hubspot")
    assert code == 0 and "https://app.hubspot.com/oauth/authorize?" in out, out  # unfinished: started again
    code, out = ringflow("connection", "tools", "calendar")
    assert code == 0 and "tool hubspot_log_call: POST https://api.hubapi.com/crm/v3/objects/calls" in out, out
    code, out = ringflow("connection", "revoke", "calendar")
    assert code == 0 and "connection calendar: revoked" in out, out
    code, out = ringflow("connection", "revoke", "nowhere")
    assert code == 1 and "no connection named 'nowhere'" in out, out
    code, out = ringflow("connection", "create", "x", "--client-id", "c")
    assert code != 0 and "needs its authorize_url and token_url" in out, out


def ringflow(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


async def test_the_refresh_workflow_refreshes_before_expiry_and_ends_on_revoke(
    time_env, session_factory, provider
) -> None:
    provider.token_lifetime_seconds = 600  # the workflow wakes 5 minutes before expiry
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        oauth_token_key=Fernet.generate_key().decode(),
        tool_allow_private_urls=True,
        task_queue=f"tq-oauth-{uuid.uuid4().hex[:8]}",
    )
    activities = ConnectionActivities(settings, session_factory)
    async with Worker(
        time_env.client,
        task_queue=settings.task_queue,
        workflows=[ConnectionRefreshWorkflow],
        activities=[activities.refresh_connection],
    ):
        async with session_factory() as session:
            started = await service.create(
                session, settings, org_id=DEFAULT_ORG_ID, request=ConnectionCreate(**provider.connection("calendar"))
            )
        async with httpx.AsyncClient() as browser:  # the provider's redirect, not followed: no API here
            back = await browser.get(started.authorization_url)
        query = parse_qs(urlparse(back.headers["location"]).query)
        async with session_factory() as session:
            shown = await service.complete(
                session, settings, time_env.client, state=query["state"][0], code=query["code"][0]
            )
        assert shown.status == "connected"
        first_token = next(iter(provider.access_tokens))
        handle = time_env.client.get_workflow_handle(refresh_workflow_id(DEFAULT_ORG_ID, "calendar"))

        await time_env.sleep(timedelta(minutes=6))
        await eventually(lambda: provider.refreshes >= 1)
        async with session_factory() as session:
            row = await session.get(OAuthConnectionRow, (DEFAULT_ORG_ID, "calendar"))
            cipher = sealing.sealing_cipher(settings)
            assert row is not None and sealing.unseal(cipher, row.sealed_access_token or "") != first_token
            await service.revoke(session, settings, time_env.client, org_id=DEFAULT_ORG_ID, name="calendar")
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED


async def test_platform_tools_book_on_the_calendar_and_log_the_call_in_the_crm(oauth_api, provider) -> None:
    http = oauth_api.org_a.http
    await connect(oauth_api, provider, "calendar")
    await connect(oauth_api, provider, "crm")
    made = await http.post(
        "/v1/connections/calendar/tools", json={"kit": "google_calendar", "api_base_url": provider.base_url}
    )
    assert made.status_code == 201, made.text
    assert [tool["name"] for tool in made.json()] == ["calendar_free_busy", "calendar_book"]
    assert made.json()[0]["auth"]["connection"] == "calendar"
    made = await http.post("/v1/connections/crm/tools", json={"kit": "hubspot", "api_base_url": provider.base_url})
    assert [tool["name"] for tool in made.json()] == [
        "hubspot_find_contact",
        "hubspot_create_contact",
        "hubspot_log_call",
    ]
    again = await http.post("/v1/connections/crm/tools", json={"kit": "hubspot", "api_base_url": provider.base_url})
    assert again.status_code == 409 and "hubspot_find_contact" in again.json()["detail"]
    generic = await http.post("/v1/connections/crm/tools", json={})
    assert generic.status_code == 422 and "generic has no platform tools" in generic.json()["detail"]

    async def run(tool: str, arguments: dict[str, str]) -> str:
        tested = await http.post(f"/v1/tools/{tool}/test", json={"arguments": arguments})
        assert tested.json()["status"] == "ok", tested.text
        return tested.json()["reply"]

    busy = await run("calendar_free_busy", {"time_min": "2026-12-01T09:00:00Z", "time_max": "2026-12-01T17:00:00Z"})
    assert busy == '{"calendars.primary.busy":[{"start":"2026-12-01T09:00:00Z","end":"x"}]}'
    booked = await run(
        "calendar_book", {"summary": "Ada", "start": "2026-12-01T10:00:00Z", "end": "2026-12-01T10:30:00Z"}
    )
    assert '"id":"ev1"' in booked
    assert provider.api_calls[-1][1]["start"] == {"dateTime": "2026-12-01T10:00:00Z"}
    assert '"results.0.id":"501"' in await run("hubspot_find_contact", {"phone": "+14155550100"})
    assert provider.api_calls[-1][1]["filterGroups"][0]["filters"][0]["value"] == "+14155550100"
    assert '"id":"502"' in await run("hubspot_create_contact", {"phone": "+14155550100", "first_name": "Ada"})
    logged = await run(
        "hubspot_log_call", {"contact_id": "502", "timestamp": "2026-12-01T10:00:00Z", "summary": "Booked"}
    )
    assert '"id":"call-9"' in logged
    call = provider.api_calls[-1][1]
    assert call["associations"][0]["to"] == {"id": "502"} and call["properties"]["hs_call_body"] == "Booked"
    assert set(provider.bearers_seen) <= set(provider.access_tokens)  # every request carried a live token


def test_the_dev_stack_makes_its_token_key_once_and_keeps_it(tmp_path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, oauth_token_key=None)  # type: ignore[call-arg]
    with pytest.raises(sealing.SealingKeyError, match="RINGFLOW_OAUTH_TOKEN_KEY"):
        sealing.sealing_cipher(settings)
    sealing.ensure_dev_sealing_key(settings)
    sealed = sealing.seal(sealing.sealing_cipher(settings), "ya29.token")
    assert (tmp_path / sealing.KEY_FILE).stat().st_mode & 0o777 == 0o600
    sealing.ensure_dev_sealing_key(settings)
    assert sealing.unseal(sealing.sealing_cipher(settings), sealed) == "ya29.token", "a second start keeps the key"
