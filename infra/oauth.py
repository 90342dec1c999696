"""OAuth 2.0 connections' machinery: the authorization-code flow with PKCE, and an access token that is fresh
when a tool needs it; their secrets are sealed at rest with ``infra/sealing.py``. authlib's httpx client speaks
the protocol; the API's service (``api/services/connections.py``), the tool activity and the refresh activity all
come here. docs/tools.md.
"""

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from cryptography.fernet import MultiFernet
from sqlalchemy.ext.asyncio import AsyncSession

from infra.sealing import seal, sealing_cipher, unseal
from schemas.connections import REFRESH_LEAD_SECONDS, ConnectionStatus, RefreshConnection, RefreshOutcome
from schemas.settings import Settings
from store.connections import get_connection_row
from store.models import OAuthConnectionRow, as_utc, utcnow

REFRESH_MARGIN = timedelta(seconds=60)
"""A token expiring within this is refreshed before it is used."""
PENDING_FLOW_LIFETIME = timedelta(minutes=10)
"""How long an authorization URL's state is accepted back."""
PROVIDER_TIMEOUT_SECONDS = 15.0


class ProviderUnreachableError(Exception):
    """The provider gave no answer (or a 5xx) to a refresh: worth trying again, and no reason to give up the grant."""


class ConnectionUnavailableError(Exception):
    """The connection cannot give a token now; the message is one sentence an agent or a user can be told."""


def _client(cipher: MultiFernet, row: OAuthConnectionRow, redirect_uri: str | None = None) -> AsyncOAuth2Client:
    secret = unseal(cipher, row.sealed_client_secret)
    return AsyncOAuth2Client(
        client_id=row.client_id,
        client_secret=secret or None,
        token_endpoint_auth_method="client_secret_post" if secret else "none",
        scope=" ".join(row.scopes) or None,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=PROVIDER_TIMEOUT_SECONDS,
    )


def _failure(err: Exception) -> str:
    if isinstance(err, OAuthError):
        return f"{err.error}: {err.description}" if err.description else str(err.error)
    return f"{type(err).__name__}: {err}".rstrip(": ")


async def start_flow(cipher: MultiFernet, row: OAuthConnectionRow, redirect_uri: str) -> str:
    """Make the row pending with a fresh state and PKCE verifier (kept sealed), and answer the authorization URL."""
    verifier = generate_token(64)
    state = secrets.token_urlsafe(32)
    async with _client(cipher, row, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            row.authorize_url, state=state, code_verifier=verifier, **row.authorize_params
        )
    row.status = ConnectionStatus.PENDING.value
    row.pending_state = state
    row.sealed_code_verifier = seal(cipher, verifier)
    row.pending_until = utcnow() + PENDING_FLOW_LIFETIME
    return url


def _keep_tokens(cipher: MultiFernet, row: OAuthConnectionRow, token: dict[str, Any]) -> None:
    row.sealed_access_token = seal(cipher, token["access_token"])
    if token.get("refresh_token"):  # a refresh may or may not rotate the refresh token
        row.sealed_refresh_token = seal(cipher, token["refresh_token"])
    expires_at = token.get("expires_at")
    row.expires_at = datetime.fromtimestamp(expires_at, UTC) if expires_at else None
    row.status = ConnectionStatus.CONNECTED.value
    row.last_error = ""


async def finish_flow(cipher: MultiFernet, row: OAuthConnectionRow, code: str, redirect_uri: str) -> None:
    """Exchange the code (with the PKCE verifier) for tokens; a refusal leaves the row in error, saying why."""
    assert row.sealed_code_verifier is not None  # a pending row has one
    verifier = unseal(cipher, row.sealed_code_verifier)
    row.pending_state = row.sealed_code_verifier = row.pending_until = None
    try:
        async with _client(cipher, row, redirect_uri) as client:
            token = await client.fetch_token(row.token_url, code=code, code_verifier=verifier)
    except (OAuthError, httpx.HTTPError, ValueError, KeyError) as err:
        row.status, row.last_error = ConnectionStatus.ERROR.value, f"the code exchange failed: {_failure(err)}"
        return
    _keep_tokens(cipher, row, token)


async def refresh_now(cipher: MultiFernet, row: OAuthConnectionRow) -> None:
    """Use the refresh token; a refusal (a revoked grant, say) leaves the row in error, saying why. A provider
    that does not answer raises :class:`ProviderUnreachableError` and changes nothing."""
    if row.sealed_refresh_token is None:
        row.status, row.last_error = (
            ConnectionStatus.ERROR.value,
            "the token expired and the provider gave no refresh token",
        )
        return
    try:
        async with _client(cipher, row) as client:
            token = await client.refresh_token(row.token_url, refresh_token=unseal(cipher, row.sealed_refresh_token))
    except (httpx.TransportError, httpx.HTTPStatusError) as err:
        raise ProviderUnreachableError(_failure(err)) from None
    except (OAuthError, httpx.HTTPError, ValueError, KeyError) as err:
        row.status, row.last_error = ConnectionStatus.ERROR.value, f"the refresh failed: {_failure(err)}"
        return
    _keep_tokens(cipher, row, token)


async def revoke_at_provider(cipher: MultiFernet, row: OAuthConnectionRow) -> str:
    """Ask the provider to revoke the grant (the refresh token, which takes its access tokens with it); answer
    what went wrong, or "" when it was revoked or there was nothing to revoke there."""
    sealed = row.sealed_refresh_token or row.sealed_access_token
    if row.revoke_url is None or sealed is None:
        return ""
    hint = "refresh_token" if row.sealed_refresh_token else "access_token"
    try:
        async with _client(cipher, row) as client:
            response = await client.revoke_token(row.revoke_url, token=unseal(cipher, sealed), token_type_hint=hint)
    except httpx.HTTPError as err:
        return _failure(err)
    return "" if response.status_code < 300 else f"the provider answered {response.status_code} to the revocation"


def forget_tokens(row: OAuthConnectionRow, status: ConnectionStatus) -> None:
    row.sealed_access_token = row.sealed_refresh_token = row.expires_at = None
    row.pending_state = row.sealed_code_verifier = row.pending_until = None
    row.status = status.value


def needs_refresh(row: OAuthConnectionRow, now: datetime | None = None, margin: timedelta = REFRESH_MARGIN) -> bool:
    return row.expires_at is not None and as_utc(row.expires_at) - (now or utcnow()) <= margin


async def refresh_if_due(session: AsyncSession, settings: Settings, request: RefreshConnection) -> RefreshOutcome:
    """The refresh workflow's step: under the row lock, refresh a connected token expiring within the lead of
    ``request.as_of``; answer the expiry to sleep towards, None when the connection no longer refreshes
    (revoked, failed, or a token without expiry). An unreachable provider raises, for the activity to retry."""
    row = await get_connection_row(session, request.org_id, request.name, for_update=True)
    if row is None or unavailable_reason(request.name, row) is not None or row.sealed_refresh_token is None:
        await session.rollback()
        return RefreshOutcome(expires_at=None)
    lead = timedelta(seconds=REFRESH_LEAD_SECONDS)
    if request.as_of is not None and needs_refresh(row, request.as_of, lead):
        await refresh_now(sealing_cipher(settings), row)
    await session.commit()
    connected = row.status == ConnectionStatus.CONNECTED.value
    return RefreshOutcome(expires_at=row.expires_at if connected else None)


def unavailable_reason(name: str, row: OAuthConnectionRow | None) -> str | None:
    """Why the connection gives no token, in one sentence; None when it is connected."""
    if row is None:
        return f"There is no connection named {name!r}."
    match ConnectionStatus(row.status):
        case ConnectionStatus.CONNECTED:
            return None
        case ConnectionStatus.REVOKED:
            return f"The {name} connection was revoked: it must be connected again."
        case ConnectionStatus.PENDING:
            return f"The {name} connection is not authorized yet: finish connecting it first."
        case ConnectionStatus.ERROR:
            return f"The {name} connection needs to be connected again ({row.last_error})."


async def access_token(session: AsyncSession, settings: Settings, org_id: str, name: str) -> str:
    """The connection's access token, refreshed first when it expires within a minute. The row is locked while
    refreshing, so racing callers refresh once; the outcome is committed (a failed refresh marks the row)."""
    row = await get_connection_row(session, org_id, name, for_update=True)
    reason = unavailable_reason(name, row)
    if reason is None and row is not None and needs_refresh(row):
        try:
            await refresh_now(sealing_cipher(settings), row)
        except ProviderUnreachableError as err:
            await session.rollback()
            raise ConnectionUnavailableError(
                f"The {name} provider could not be reached to refresh the token ({err})."
            ) from None
        await session.commit()
        reason = unavailable_reason(name, row)
    if reason is not None or row is None or row.sealed_access_token is None:
        await session.rollback()
        raise ConnectionUnavailableError(reason or f"The {name} connection has no access token.")
    token = unseal(sealing_cipher(settings), row.sealed_access_token)
    await session.commit()
    return token
