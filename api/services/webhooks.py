"""Webhook endpoints and their deliveries: create, list, delete, the delivery log, redelivery, and recording
an event. The REST API (``/v1/webhooks``) and the CLI go through here."""

import asyncio
from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.services import audit
from infra.webhooks import UnsafeWebhookUrlError, check_url, dispatch
from schemas.settings import Settings
from schemas.webhooks import (
    DeliveryStatus,
    WebhookDeliveryOut,
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEventType,
)
from store import webhooks
from store.models import WebhookEndpointRow

MAX_LOG = 100_000


class WebhookServiceError(Exception):
    """A webhook request the service refuses; its sentence is the answer."""


class WebhookNotFoundError(WebhookServiceError, LookupError):
    pass


class InvalidWebhookError(WebhookServiceError, ValueError):
    pass


def endpoint_view(row: WebhookEndpointRow) -> WebhookEndpointOut:
    events = "*" if webhooks.ALL_EVENTS in row.events else list(row.events)
    return WebhookEndpointOut(
        id=row.id, url=row.url, events=events, description=row.description, created_at=row.created_at
    )


async def create(
    session: AsyncSession, settings: Settings, *, org_id: str, endpoint: WebhookEndpointIn, actor: str = audit.CLI_ACTOR
) -> WebhookEndpointCreated:
    """Register an endpoint; its signing secret is in the answer, and never shown again."""
    try:
        await check_url(endpoint.url, allow_private=settings.webhook_allow_private_urls)
    except UnsafeWebhookUrlError as err:
        raise InvalidWebhookError(str(err)) from None
    events = [webhooks.ALL_EVENTS] if endpoint.events == "*" else sorted({e.value for e in endpoint.events})
    if not events:
        raise InvalidWebhookError('events: name at least one event type, or "*"')
    row = await webhooks.create_endpoint(session, org_id, endpoint.url, events, endpoint.description)
    await audit.record(
        session, org_id=org_id, actor=actor, action="webhook.create", target=row.id, details={"url": row.url}
    )
    await session.commit()
    return WebhookEndpointCreated(**endpoint_view(row).model_dump(), secret=row.secret)


async def list_endpoints(session: AsyncSession, *, org_id: str) -> list[WebhookEndpointOut]:
    return [endpoint_view(row) for row in await webhooks.list_endpoints(session, org_id)]


async def delete(session: AsyncSession, *, org_id: str, endpoint_id: str, actor: str = audit.CLI_ACTOR) -> None:
    if not await webhooks.delete_endpoint(session, org_id, endpoint_id):
        raise WebhookNotFoundError(f"no webhook endpoint {endpoint_id}")
    await audit.record(session, org_id=org_id, actor=actor, action="webhook.delete", target=endpoint_id)
    await session.commit()


async def deliveries(
    session: AsyncSession, *, org_id: str, endpoint_id: str, limit: int = 100, offset: int = 0
) -> list[WebhookDeliveryOut]:
    """The endpoint's delivery log, newest first."""
    if await webhooks.get_endpoint(session, org_id, endpoint_id) is None:
        raise WebhookNotFoundError(f"no webhook endpoint {endpoint_id}")
    return [
        WebhookDeliveryOut(
            id=row.id,
            event_id=row.event_id,
            event_type=event_type,
            endpoint_id=row.endpoint_id,
            status=DeliveryStatus(row.status),
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_body_excerpt=row.last_body_excerpt,
            last_error=row.last_error,
            created_at=row.created_at,
            updated_at=row.updated_at,
            delivered_at=row.delivered_at,
        )
        for row, event_type in await webhooks.list_deliveries(session, org_id, endpoint_id, limit=limit, offset=offset)
    ]


async def settle_deliveries(
    sessions: async_sessionmaker[AsyncSession], *, org_id: str, endpoint_id: str, within: float = 30.0
) -> dict[str, int]:
    """The endpoint's deliveries by status, once none is pending (or ``within`` seconds have passed)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with sessions() as session:
            log = await deliveries(session, org_id=org_id, endpoint_id=endpoint_id, limit=MAX_LOG)
        counts = Counter(delivery.status.value for delivery in log)
        if not counts[DeliveryStatus.PENDING.value] or asyncio.get_running_loop().time() > deadline:
            return dict(counts)
        await asyncio.sleep(0.5)


async def redeliver(
    session: AsyncSession, client: Client, settings: Settings, *, org_id: str, delivery_id: str
) -> None:
    """Send a delivery again (a dead-lettered or failed one, or any other), behind its key's queue."""
    queued = await webhooks.reopen_delivery(session, org_id, delivery_id)
    if queued is None:
        raise WebhookNotFoundError(f"no webhook delivery {delivery_id}")
    await session.commit()
    await dispatch(client, settings, [queued])


async def emit(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    *,
    org_id: str,
    event_type: WebhookEventType,
    key: str,
    ordering_key: str,
    data: dict[str, Any],
) -> str:
    """Record an event (outbox) and queue its deliveries; returns the event id. Recording it again is a no-op."""
    queued = await webhooks.record_event(
        session, org_id=org_id, event_type=event_type, key=key, ordering_key=ordering_key, data=data
    )
    await session.commit()
    await dispatch(client, settings, queued)
    return webhooks.event_id(event_type, key)
