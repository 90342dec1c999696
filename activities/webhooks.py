"""The webhook activities: send one delivery, signed (Standard Webhooks), and dead-letter one."""

import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook
from temporalio import activity
from temporalio.exceptions import ApplicationError

from infra.webhooks import UnsafeWebhookUrlError, check_url
from schemas.settings import Settings
from schemas.webhooks import (
    BODY_EXCERPT_CHARS,
    DEAD_LETTER_WEBHOOK_ACTIVITY,
    SEND_WEBHOOK_ACTIVITY,
    WEBHOOK_REFUSED_ERROR,
    DeadLetterWebhook,
    DeliveryStatus,
    SendWebhook,
)
from store import webhooks

RETRYABLE_STATUS = frozenset({408, 425, 429})
LONGEST_RETRY_AFTER = timedelta(days=1)


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """The wait a ``Retry-After`` header asks for (seconds or an HTTP date), capped at a day; None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        try:
            wait = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    return max(timedelta(0), min(wait, LONGEST_RETRY_AFTER))


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer's body, for the delivery log; the rest is never read (a receiver may send a lot)."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= 4 * BODY_EXCERPT_CHARS:
            break
    return data.decode("utf-8", errors="replace")[:BODY_EXCERPT_CHARS]


class WebhookActivities:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient | None = None
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._http = http or httpx.AsyncClient(timeout=settings.webhook_timeout.total_seconds(), follow_redirects=False)

    @activity.defn(name=SEND_WEBHOOK_ACTIVITY)
    async def send_webhook(self, request: SendWebhook) -> None:
        """POST the delivery's event to its endpoint once. Raises to be retried (network errors, 408, 425,
        429, 5xx; ``Retry-After`` honoured), or non-retryable when the receiver refuses it for good."""
        async with self._sessions() as session:
            found = await webhooks.delivery_to_send(session, request.delivery_id)
        if found is None or found.delivery.status != DeliveryStatus.PENDING.value:
            return  # delivered (or settled) by an earlier try, or gone
        if found.endpoint.deleted_at is not None:
            await self._record(request.delivery_id, DeliveryStatus.FAILED, error="the endpoint was deleted")
            return
        url, secret, event_id = found.endpoint.url, found.endpoint.secret, found.event.id
        body = json.dumps(found.event.payload, separators=(",", ":"))
        try:
            await check_url(url, allow_private=self._settings.webhook_allow_private_urls)
        except UnsafeWebhookUrlError as err:
            await self._record(request.delivery_id, DeliveryStatus.FAILED, error=str(err))
            raise ApplicationError(str(err), type=WEBHOOK_REFUSED_ERROR, non_retryable=True) from None
        now = datetime.now(UTC)
        signature = Webhook(secret).sign(event_id, now, body)
        headers = {
            "content-type": "application/json",
            "user-agent": "Ringflow-Webhooks/1",
            "webhook-id": event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        try:
            async with self._http.stream("POST", url, content=body.encode(), headers=headers) as response:
                code, text = response.status_code, await _excerpt(response)
                wait = retry_after(response.headers.get("retry-after"), now)
        except httpx.HTTPError as err:
            error = f"{type(err).__name__}: {err}"
            await self._record(request.delivery_id, DeliveryStatus.PENDING, error=error)
            raise ApplicationError(f"delivery to {url} failed: {error}") from None
        if 200 <= code < 300:
            await self._record(request.delivery_id, DeliveryStatus.DELIVERED, code, text)
            return
        if code in RETRYABLE_STATUS or code >= 500:
            await self._record(request.delivery_id, DeliveryStatus.PENDING, code, text)
            raise ApplicationError(f"{url} answered {code}", next_retry_delay=wait)
        await self._record(request.delivery_id, DeliveryStatus.FAILED, code, text)
        raise ApplicationError(f"{url} refused the event: {code}", type=WEBHOOK_REFUSED_ERROR, non_retryable=True)

    @activity.defn(name=DEAD_LETTER_WEBHOOK_ACTIVITY)
    async def dead_letter_webhook(self, request: DeadLetterWebhook) -> None:
        async with self._sessions() as session:
            await webhooks.dead_letter(session, request.delivery_id, request.error)
            await session.commit()

    async def _record(
        self, delivery_id: str, status: DeliveryStatus, code: int | None = None, body: str = "", error: str = ""
    ) -> None:
        async with self._sessions() as session:
            await webhooks.record_try(session, delivery_id, status=status, status_code=code, body=body, error=error)
            await session.commit()
