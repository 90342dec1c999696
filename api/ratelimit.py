"""Rate limits: dashboard logins per client address and per account, ``/v1`` requests per API key and, without a
valid key, per client address. Every refusal is a 429 with ``Retry-After`` and a one-line ``detail``.

The counting is the ``limits`` library's moving window, kept where ``rate_limit_storage_uri`` says: in the
process (``memory://``, right for one API process) or in Redis (``redis://…``), which every replica shares.

The Twilio webhooks are not limited here. Twilio signs them, calls arrive from Twilio's shared address pool,
and a burst of real calls must never be turned away because it came from one address.
"""

import math
import time
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import presented_api_key
from api.proxies import client_address, trusted_networks
from schemas.settings import Settings
from store.orgs import hash_api_key

ASYNC_SCHEME = "async+"


class RateLimits:
    """The limits of one app, parsed once from its settings, and the counters they are kept in."""

    def __init__(self, settings: Settings) -> None:
        uri = settings.rate_limit_storage_uri
        # The event loop must not wait on Redis: always the library's asyncio flavour of the storage.
        storage = storage_from_string(uri if uri.startswith(ASYNC_SCHEME) else ASYNC_SCHEME + uri)
        assert isinstance(storage, Storage)
        self._limiter = MovingWindowRateLimiter(storage)
        self.login_per_address = parse(settings.rate_limit_login_per_address)
        self.login_failures_per_account = parse(settings.rate_limit_login_failures_per_account)
        self.api_per_key = parse(settings.rate_limit_api_per_key)
        self.api_unauthenticated_per_address = parse(settings.rate_limit_api_unauthenticated_per_address)
        self.trusted_proxies = trusted_networks(settings.trusted_proxies)

    async def check_login(self, address: str, account: str) -> None:
        """Before a login is checked: count the attempt against the address, and refuse an account whose
        failures have locked it, whichever address tries (a lockout against guessing from many places)."""
        await self.hit(self.login_per_address, "login-address", address, what="login attempts from this address")
        if not await self._limiter.test(self.login_failures_per_account, "login-account", account):
            raise await self._refusal(self.login_failures_per_account, ("login-account", account), "failed logins")

    async def login_failed(self, account: str) -> None:
        await self._limiter.hit(self.login_failures_per_account, "login-account", account)

    async def login_succeeded(self, account: str) -> None:
        """The holder proved who they are: the failures before do not count against them any more."""
        await self._limiter.clear(self.login_failures_per_account, "login-account", account)

    async def hit(self, item: RateLimitItem, *identifiers: str, what: str) -> None:
        """Count one request; a 429 when the window already holds as many as ``item`` allows."""
        if not await self._limiter.hit(item, *identifiers):
            raise await self._refusal(item, identifiers, what)

    async def _refusal(self, item: RateLimitItem, identifiers: tuple[str, ...], what: str) -> HTTPException:
        stats = await self._limiter.get_window_stats(item, *identifiers)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        return HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many {what}: at most {item.amount} per {_window(item)}; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


def _window(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"


def rate_limits(request: Request) -> RateLimits:
    return request.app.state.rate_limits


Limits = Annotated[RateLimits, Depends(rate_limits)]


async def limit_api_key(request: Request, limits: Limits) -> None:
    """Count a ``/v1`` request against the key it presents (by the key's hash), before the key is looked up.
    A request without a key is counted per address when it is refused (``limit_unauthenticated``)."""
    raw_key = presented_api_key(request)
    if raw_key is not None:
        await limits.hit(limits.api_per_key, "api-key", hash_api_key(raw_key), what="requests with this API key")


async def limit_unauthenticated(request: Request, exc: Exception) -> Response:
    """Every 401 (no key, or a key that is not valid) spends the client address's allowance; once it is spent,
    the answer is a 429 instead, so guessing keys from one address soon stops getting answers."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == status.HTTP_401_UNAUTHORIZED:
        limits = rate_limits(request)
        address = client_address(request, limits.trusted_proxies)
        try:
            await limits.hit(
                limits.api_unauthenticated_per_address, "api-address", address, what="unauthenticated requests"
            )
        except HTTPException as refusal:
            exc = refusal
    return await http_exception_handler(request, exc)


def install(app: FastAPI, settings: Settings) -> None:
    app.state.rate_limits = RateLimits(settings)
    app.add_exception_handler(StarletteHTTPException, limit_unauthenticated)
