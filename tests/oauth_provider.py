"""A real OAuth 2.0 provider on 127.0.0.1 for connection tests, with a protected API behind it: an authorize
endpoint that redirects back with a code, a token endpoint that checks the PKCE verifier (S256) and the client,
the refresh grant, an RFC 7009 revocation endpoint, and a protected API that checks the bearer token:
``GET /api/me``, and the Google Calendar and HubSpot endpoints the platform tools call, answering as those APIs
do (in short)."""

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from webhook_receiver import free_port, serve_locally

CLIENT_ID = "ringflow-test-client"
CLIENT_SECRET = "client-secret-5f2a"


@dataclass
class OAuthProvider:
    token_lifetime_seconds: int = 3600
    port: int = field(default_factory=free_port)
    refreshes: int = 0
    access_tokens: dict[str, float] = field(default_factory=dict)  # live access token -> when it expires
    refresh_tokens: set[str] = field(default_factory=set)
    revoked: list[str] = field(default_factory=list)
    bearers_seen: list[str] = field(default_factory=list)
    api_calls: list[tuple[str, Any]] = field(default_factory=list)  # (path, JSON body) of the platform APIs
    _codes: dict[str, dict[str, str]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection(self, name: str) -> dict[str, Any]:
        """``POST /v1/connections``'s body for a generic connection to this provider."""
        return {
            "name": name,
            "provider": "generic",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "authorize_url": f"{self.base_url}/authorize",
            "token_url": f"{self.base_url}/token",
            "revoke_url": f"{self.base_url}/revoke",
            "scopes": ["calendar", "contacts"],
        }

    def revoke_everything(self) -> None:
        """The user revokes the grant at the provider, behind Ringflow's back."""
        self.access_tokens.clear()
        self.refresh_tokens.clear()

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("client_id") != CLIENT_ID or query.get("code_challenge_method") != "S256":
            return web.json_response({"error": "invalid_request"}, status=400)
        code = secrets.token_urlsafe(16)
        self._codes[code] = {"challenge": query["code_challenge"], "redirect_uri": query["redirect_uri"]}
        target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
        raise web.HTTPFound(target)

    def _issue(self, refresh_token: str | None = None) -> web.Response:
        access = secrets.token_urlsafe(24)
        self.access_tokens[access] = time.time() + self.token_lifetime_seconds
        refresh = refresh_token or secrets.token_urlsafe(24)
        self.refresh_tokens.add(refresh)
        return web.json_response(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.token_lifetime_seconds,
                "refresh_token": refresh,
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") == "authorization_code":
            grant = self._codes.pop(str(form.get("code")), None)
            verifier = str(form.get("code_verifier", ""))
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if grant is None or grant["challenge"] != challenge or grant["redirect_uri"] != form.get("redirect_uri"):
                return web.json_response({"error": "invalid_grant", "error_description": "bad code"}, status=400)
            return self._issue()
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return web.json_response(
                    {"error": "invalid_grant", "error_description": "Token has been revoked"}, status=400
                )
            self.refreshes += 1
            return self._issue(str(form["refresh_token"]))
        return web.json_response({"error": "unsupported_grant_type"}, status=400)

    async def _revoke(self, request: web.Request) -> web.Response:
        token = str((await request.post()).get("token"))
        self.revoked.append(token)
        if token in self.refresh_tokens:  # a refresh token takes the grant's access tokens with it
            self.revoke_everything()
        self.access_tokens.pop(token, None)
        return web.Response(status=200)

    def _authorized(self, request: web.Request) -> bool:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.bearers_seen.append(bearer)
        expires = self.access_tokens.get(bearer)
        return expires is not None and expires >= time.time()

    async def _me(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "invalid_token"}, status=401)
        return web.json_response({"user": "ada@example.com", "calendar": "primary"})

    async def _platform_api(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "invalid_token"}, status=401)
        body = await request.json()
        self.api_calls.append((request.path, body))
        answers: dict[str, Any] = {
            "/calendar/v3/freeBusy": {"calendars": {"primary": {"busy": [{"start": body.get("timeMin"), "end": "x"}]}}},
            "/calendar/v3/calendars/primary/events": {"id": "ev1", "status": "confirmed", "start": body.get("start")},
            "/crm/v3/objects/contacts/search": {"total": 1, "results": [{"id": "501", "properties": {"phone": "p"}}]},
            "/crm/v3/objects/contacts": {"id": "502"},
            "/crm/v3/objects/calls": {"id": "call-9"},
        }
        return web.json_response(answers[request.path], status=201 if request.path.endswith("s") else 200)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_post("/revoke", self._revoke)
        app.router.add_get("/api/me", self._me)
        for path in (
            "/calendar/v3/freeBusy",
            "/calendar/v3/calendars/primary/events",
            "/crm/v3/objects/contacts/search",
            "/crm/v3/objects/contacts",
            "/crm/v3/objects/calls",
        ):
            app.router.add_post(path, self._platform_api)
        self._runner = await serve_locally(app, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
