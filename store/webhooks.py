"""Webhook endpoints, the event outbox and the delivery log."""

import hashlib
import secrets
import uuid
from base64 import b64encode
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.webhooks import BODY_EXCERPT_CHARS, DeliveryStatus, WebhookEventType
from store.models import WebhookDeliveryRow, WebhookEndpointRow, WebhookEventRow, as_utc, utcnow

ALL_EVENTS = "*"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + b64encode(secrets.token_bytes(32)).decode()


def event_id(event_type: WebhookEventType, key: str) -> str:
    """The event's stable id: the same fact (type and key) always gets the same id, whoever records it."""
    return "evt_" + hashlib.sha256(f"{event_type.value}\x00{key}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class QueuedDelivery:
    delivery_id: str
    endpoint_id: str
    ordering_key: str


async def create_endpoint(
    session: AsyncSession, org_id: str, url: str, events: list[str], description: str = ""
) -> WebhookEndpointRow:
    row = WebhookEndpointRow(
        id="whep_" + uuid.uuid4().hex[:16],
        org_id=org_id,
        url=url,
        events=events,
        description=description,
        secret=new_secret(),
    )
    session.add(row)
    await session.flush()
    return row


async def list_endpoints(session: AsyncSession, org_id: str) -> list[WebhookEndpointRow]:
    query = select(WebhookEndpointRow).where(
        WebhookEndpointRow.org_id == org_id, WebhookEndpointRow.deleted_at.is_(None)
    )
    return list((await session.scalars(query.order_by(WebhookEndpointRow.created_at))).all())


async def get_endpoint(session: AsyncSession, org_id: str, endpoint_id: str) -> WebhookEndpointRow | None:
    row = await session.get(WebhookEndpointRow, endpoint_id)
    return row if row is not None and row.org_id == org_id and row.deleted_at is None else None


async def delete_endpoint(session: AsyncSession, org_id: str, endpoint_id: str) -> bool:
    """Stop sending to the endpoint (its delivery log stays); False if the organization has no such endpoint."""
    row = await get_endpoint(session, org_id, endpoint_id)
    if row is None:
        return False
    row.deleted_at = utcnow()
    return True


async def record_event(
    session: AsyncSession,
    *,
    org_id: str,
    event_type: WebhookEventType,
    key: str,
    ordering_key: str,
    data: dict[str, Any],
    occurred_at: datetime | None = None,
) -> list[QueuedDelivery]:
    """Record the event and one pending delivery per endpoint that wants it, in the caller's transaction.

    Recording the same fact again (a retried activity) adds nothing and returns the deliveries still
    pending, so the caller can hand them to their delivery workflows again (they are idempotent there too).
    """
    eid = event_id(event_type, key)
    event = await session.get(WebhookEventRow, eid)
    if event is None:
        when = as_utc(occurred_at or utcnow())
        event = WebhookEventRow(
            id=eid,
            org_id=org_id,
            type=event_type.value,
            ordering_key=ordering_key,
            occurred_at=when,
            payload={"type": event_type.value, "timestamp": when.isoformat(), "data": data},
        )
        session.add(event)
        for endpoint in await list_endpoints(session, org_id):
            if ALL_EVENTS in endpoint.events or event_type.value in endpoint.events:
                session.add(
                    WebhookDeliveryRow(
                        id="whdl_" + uuid.uuid4().hex[:20],
                        event_id=eid,
                        endpoint_id=endpoint.id,
                        status=DeliveryStatus.PENDING.value,
                    )
                )
        await session.flush()
    query = (
        select(WebhookDeliveryRow)
        .where(WebhookDeliveryRow.event_id == eid, WebhookDeliveryRow.status == DeliveryStatus.PENDING.value)
        .order_by(WebhookDeliveryRow.endpoint_id)
    )
    return [QueuedDelivery(row.id, row.endpoint_id, event.ordering_key) for row in (await session.scalars(query)).all()]


@dataclass(frozen=True)
class DeliveryToSend:
    delivery: WebhookDeliveryRow
    event: WebhookEventRow
    endpoint: WebhookEndpointRow


async def delivery_to_send(session: AsyncSession, delivery_id: str) -> DeliveryToSend | None:
    delivery = await session.get(WebhookDeliveryRow, delivery_id)
    if delivery is None:
        return None
    event = await session.get(WebhookEventRow, delivery.event_id)
    endpoint = await session.get(WebhookEndpointRow, delivery.endpoint_id)
    if event is None or endpoint is None:
        return None
    return DeliveryToSend(delivery, event, endpoint)


async def record_try(
    session: AsyncSession,
    delivery_id: str,
    *,
    status: DeliveryStatus,
    status_code: int | None = None,
    body: str = "",
    error: str = "",
) -> None:
    """One more try of the delivery and what came of it."""
    row = await session.get(WebhookDeliveryRow, delivery_id)
    if row is None:
        return
    now = utcnow()
    row.attempts += 1
    row.status = status.value
    row.last_status_code = status_code
    row.last_body_excerpt = body[:BODY_EXCERPT_CHARS]
    row.last_error = error[:BODY_EXCERPT_CHARS]
    row.updated_at = now
    if status == DeliveryStatus.DELIVERED:
        row.delivered_at = now


async def dead_letter(session: AsyncSession, delivery_id: str, error: str) -> None:
    row = await session.get(WebhookDeliveryRow, delivery_id)
    if row is None or row.status != DeliveryStatus.PENDING.value:
        return
    row.status = DeliveryStatus.DEAD.value
    row.last_error = (row.last_error or error)[:BODY_EXCERPT_CHARS]
    row.updated_at = utcnow()


async def list_deliveries(
    session: AsyncSession, org_id: str, endpoint_id: str, *, limit: int = 100, offset: int = 0
) -> list[tuple[WebhookDeliveryRow, str]]:
    """The endpoint's deliveries, newest first, with their event types."""
    query = (
        select(WebhookDeliveryRow, WebhookEventRow.type)
        .join(WebhookEventRow, WebhookEventRow.id == WebhookDeliveryRow.event_id)
        .join(WebhookEndpointRow, WebhookEndpointRow.id == WebhookDeliveryRow.endpoint_id)
        .where(WebhookDeliveryRow.endpoint_id == endpoint_id, WebhookEndpointRow.org_id == org_id)
        .order_by(WebhookDeliveryRow.created_at.desc(), WebhookDeliveryRow.id)
        .limit(limit)
        .offset(offset)
    )
    return [(row, event_type) for row, event_type in (await session.execute(query)).all()]


async def reopen_delivery(session: AsyncSession, org_id: str, delivery_id: str) -> QueuedDelivery | None:
    """Set a delivery of the organization back to pending, for a manual redelivery."""
    found = await delivery_to_send(session, delivery_id)
    if found is None or found.endpoint.org_id != org_id or found.endpoint.deleted_at is not None:
        return None
    found.delivery.status = DeliveryStatus.PENDING.value
    found.delivery.updated_at = utcnow()
    return QueuedDelivery(found.delivery.id, found.endpoint.id, found.event.ordering_key)
