"""OAuth 2.0 connections: an organization's authorized access to a provider's API (Google Calendar, HubSpot, or
any OAuth 2 provider), which HTTP tools use with ``auth: {"kind": "oauth", "connection": NAME}``. docs/tools.md.

A connection is made with the authorization-code flow and PKCE (S256): ``POST /v1/connections`` stores the
client and a pending state, and answers the provider's authorization URL; the provider sends the browser back
to ``/oauth/callback``, where the code is exchanged. Tokens and the client secret are encrypted at rest.
"""

from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

CONNECTION_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
CALLBACK_PATH = "/oauth/callback"
"""Where the provider sends the browser back: outside /v1, since the browser carries no API key."""


class ConnectionStatus(StrEnum):
    PENDING = "pending"  # authorization URL handed out, no code yet
    CONNECTED = "connected"
    REVOKED = "revoked"
    ERROR = "error"  # the provider refused a code exchange or a refresh: ``last_error`` says why


class Provider(StrEnum):
    GOOGLE_CALENDAR = "google_calendar"
    HUBSPOT = "hubspot"
    GENERIC = "generic"


class ProviderEndpoints(BaseModel):
    authorize_url: str
    token_url: str
    revoke_url: str | None = Field(
        default=None, description="RFC 7009 revocation endpoint; None: revoking only forgets the tokens"
    )
    scopes: list[str] = Field(default_factory=list)
    authorize_params: dict[str, str] = Field(
        default_factory=dict, description="Extra authorization-request parameters the provider needs"
    )


PRESETS: dict[Provider, ProviderEndpoints] = {
    Provider.GOOGLE_CALENDAR: ProviderEndpoints(
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",
        revoke_url="https://oauth2.googleapis.com/revoke",
        scopes=[
            "https://www.googleapis.com/auth/calendar.freebusy",
            "https://www.googleapis.com/auth/calendar.events",
        ],
        # Google hands out a refresh token only for offline access, and again only when consent is asked.
        authorize_params={"access_type": "offline", "prompt": "consent"},
    ),
    Provider.HUBSPOT: ProviderEndpoints(
        authorize_url="https://app.hubspot.com/oauth/authorize",
        token_url="https://api.hubapi.com/oauth/v1/token",
        revoke_url=None,  # HubSpot has no RFC 7009 endpoint; its app settings revoke an installation
        scopes=["crm.objects.contacts.read", "crm.objects.contacts.write"],
    ),
}


class ConnectionCreate(BaseModel):
    """``POST /v1/connections``: a preset needs only the client; a generic provider names its endpoints too."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=CONNECTION_NAME_PATTERN, description="How tools name it: lower-case, digits, - and _")
    provider: Provider = Provider.GENERIC
    client_id: str = Field(min_length=1, max_length=512)
    client_secret: str = Field(
        default="", max_length=4096, description="Write-only; empty for a public client (PKCE only)"
    )
    authorize_url: str | None = Field(default=None, max_length=2048, description="generic: required")
    token_url: str | None = Field(default=None, max_length=2048, description="generic: required")
    revoke_url: str | None = Field(default=None, max_length=2048, description="generic: optional")
    scopes: list[str] | None = Field(default=None, description="Unset: the preset's scopes")

    @model_validator(mode="after")
    def _endpoints_known(self) -> Self:
        if self.provider == Provider.GENERIC:
            if not self.authorize_url or not self.token_url:
                raise ValueError("a generic provider needs its authorize_url and token_url")
        elif self.authorize_url or self.token_url or self.revoke_url:
            raise ValueError(f"the {self.provider.value} preset has its own endpoints: leave the URLs out")
        for url in (self.authorize_url, self.token_url, self.revoke_url):
            if url is not None and not url.startswith(("https://", "http://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return self

    def endpoints(self) -> ProviderEndpoints:
        if self.provider != Provider.GENERIC:
            preset = PRESETS[self.provider]
            return preset if self.scopes is None else preset.model_copy(update={"scopes": self.scopes})
        assert self.authorize_url and self.token_url  # the validator made sure
        return ProviderEndpoints(
            authorize_url=self.authorize_url,
            token_url=self.token_url,
            revoke_url=self.revoke_url,
            scopes=self.scopes or [],
        )


class ConnectionOut(BaseModel):
    """A connection as the API shows it: never a token or the client secret."""

    name: str
    provider: Provider
    status: ConnectionStatus
    client_id: str
    authorize_url: str
    token_url: str
    revoke_url: str | None
    scopes: list[str]
    expires_at: datetime | None = Field(description="When the current access token expires")
    last_error: str
    created_at: datetime
    updated_at: datetime


class ConnectionStarted(BaseModel):
    connection: ConnectionOut
    authorization_url: str = Field(description="Open it in a browser: the provider asks the user, then sends back")


CONNECTION_REFRESH_WORKFLOW = "ConnectionRefreshWorkflow"
REFRESH_CONNECTION_ACTIVITY = "refresh_connection"
REFRESH_LEAD_SECONDS = 300
"""The refresh workflow refreshes this long before the access token expires."""


def refresh_workflow_id(org_id: str, name: str) -> str:
    return f"oauth-refresh-{org_id}-{name}"


class RefreshConnection(BaseModel):
    """The refresh workflow's input and its activity's: which connection, never its tokens."""

    org_id: str
    name: str
    as_of: datetime | None = Field(
        default=None,
        description="The workflow's time: refresh when the token expires within the lead of it. None: only read",
    )


class RefreshOutcome(BaseModel):
    """What a refresh left: the new expiry to sleep towards, or None when the connection no longer refreshes."""

    expires_at: datetime | None
