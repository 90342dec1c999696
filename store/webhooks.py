"""Webhook endpoints, the event outbox and the delivery log."""

import hashlib
import secrets
import uuid
from base64 import b64encode
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.calls import inbound_call_id, outbound_call_id
from schemas.inbound import INBOUND_CAMPAIGN_ID
from schemas.webhooks import BODY_EXCERPT_CHARS, DeliveryStatus, WebhookEventType
from schemas.workflow_io import CampaignStatus
from store import analyses
from store.models import (
    AttemptRow,
    CampaignRow,
    ContactRow,
    InboundCallRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookEventRow,
    as_utc,
    utcnow,
)
from store.queries import rowcount, transcript_for

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


# ---- the events of the workflows' facts, recorded in the transaction that writes the fact ------------


def contact_ordering_key(campaign_id: str, external_id: str) -> str:
    return f"contact:{campaign_id}/{external_id}"


def campaign_ordering_key(campaign_id: str) -> str:
    return f"campaign:{campaign_id}"


def _when(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


async def _transcript(session: AsyncSession, campaign_id: str, external_id: str, attempt: int | None) -> list[Any]:
    return [
        segment.model_dump(mode="json") for segment in await transcript_for(session, campaign_id, external_id, attempt)
    ]


async def outbound_call_event(session: AsyncSession, key: str, event_type: WebhookEventType) -> list[QueuedDelivery]:
    """``call.started`` or ``call.ended`` of the attempt with idempotency key ``key``: the call's whole record."""
    attempt = await session.scalar(
        select(AttemptRow).where(AttemptRow.idempotency_key == key).execution_options(populate_existing=True)
    )
    if attempt is None:
        return []
    campaign = await session.get(CampaignRow, attempt.campaign_id)
    org_id = attempt.org_id or (campaign.org_id if campaign is not None else None)
    if org_id is None:
        return []
    contact = await session.scalar(
        select(ContactRow).where(
            ContactRow.campaign_id == attempt.campaign_id, ContactRow.external_id == attempt.external_id
        )
    )
    call_id = outbound_call_id(attempt.campaign_id, attempt.external_id, attempt.attempt)
    data: dict[str, Any] = {
        "call_id": call_id,
        "link": f"/v1/calls/{call_id}",
        "direction": "outbound",
        "campaign_id": attempt.campaign_id,
        "external_id": attempt.external_id,
        "contact_name": contact.name if contact is not None else "",
        "phone": attempt.phone or (contact.phone if contact is not None else ""),
        "attempt": attempt.attempt,
        "started_at": _when(attempt.started_at),
    }
    if event_type == WebhookEventType.CALL_ENDED:
        data |= {
            "outcome": attempt.call_outcome,
            "disposition": attempt.disposition,
            "disposition_reason": attempt.disposition_reason,
            "network": {
                "outcome": attempt.network_outcome,
                "answered": attempt.answered,
                "status": attempt.network_status,
                "status_code": attempt.status_code,
                "error_code": attempt.error_code,
                "cause": attempt.cause,
                "answered_by": attempt.answered_by,
                "duration_seconds": attempt.duration_seconds,
                "carrier": attempt.carrier,
                "carrier_call_id": attempt.carrier_call_id,
                "dialled_at": _when(attempt.dialled_at),
                "ended_at": _when(attempt.ended_at),
                "detail": attempt.detail,
            },
            "transcript": await _transcript(session, attempt.campaign_id, attempt.external_id, attempt.attempt),
        }
    return await record_event(
        session,
        org_id=org_id,
        event_type=event_type,
        key=key,
        ordering_key=contact_ordering_key(attempt.campaign_id, attempt.external_id),
        data=data,
    )


async def inbound_call_ended_event(session: AsyncSession, call_sid: str) -> list[QueuedDelivery]:
    row = await session.get(InboundCallRow, call_sid, populate_existing=True)
    if row is None or row.ended_at is None:
        return []
    call_id = inbound_call_id(call_sid)
    data = {
        "call_id": call_id,
        "link": f"/v1/calls/{call_id}",
        "direction": "inbound",
        "kind": row.kind,
        "from_number": row.from_number,
        "to_number": row.to_number,
        "agent_name": row.agent_name,
        "outcome": row.outcome,
        "disposition": row.disposition,
        "network": {"status": row.status, "duration_seconds": row.duration_seconds},
        "started_at": _when(row.started_at),
        "ended_at": _when(row.ended_at),
        "transcript": await _transcript(session, INBOUND_CAMPAIGN_ID, call_sid, None),
    }
    return await record_event(
        session,
        org_id=row.org_id,
        event_type=WebhookEventType.CALL_ENDED,
        key=call_id,
        ordering_key=contact_ordering_key(INBOUND_CAMPAIGN_ID, call_sid),
        data=data,
        occurred_at=row.ended_at,
    )


async def contact_finished_event(session: AsyncSession, campaign_id: str, external_id: str) -> list[QueuedDelivery]:
    row = await session.scalar(
        select(ContactRow)
        .where(ContactRow.campaign_id == campaign_id, ContactRow.external_id == external_id)
        .execution_options(populate_existing=True)
    )
    campaign = await session.get(CampaignRow, campaign_id)
    if row is None or campaign is None or row.final_outcome is None:
        return []
    data = {
        "campaign_id": campaign_id,
        "external_id": external_id,
        "name": row.name,
        "phone": row.phone,
        "final_outcome": row.final_outcome,
        "reason": row.final_reason,
        "attempts": row.attempts,
        "finished_at": _when(row.finished_at),
        "calls": [f"/v1/calls/{outbound_call_id(campaign_id, external_id, n)}" for n in range(1, row.attempts + 1)],
    }
    return await record_event(
        session,
        org_id=campaign.org_id,
        event_type=WebhookEventType.CONTACT_FINISHED,
        key=f"{campaign_id}/{external_id}/{row.final_outcome}",
        ordering_key=contact_ordering_key(campaign_id, external_id),
        data=data,
        occurred_at=row.finished_at,
    )


async def call_analyzed_event(
    session: AsyncSession, campaign_id: str, external_id: str, attempt: int
) -> list[QueuedDelivery]:
    """A call's analysis, once stored: for the organization of its campaign, or of the number an inbound
    call rang. A new analysis of the same call (re-run) is a new event."""
    analysis = await analyses.analysis_of_call(session, campaign_id, external_id, attempt)
    if analysis is None:
        return []
    if campaign_id == INBOUND_CAMPAIGN_ID:
        inbound = await session.get(InboundCallRow, external_id)
        org_id, call_id = (inbound.org_id if inbound else None), inbound_call_id(external_id)
    else:
        campaign = await session.get(CampaignRow, campaign_id)
        org_id, call_id = (campaign.org_id if campaign else None), outbound_call_id(campaign_id, external_id, attempt)
    if org_id is None:
        return []
    return await record_event(
        session,
        org_id=org_id,
        event_type=WebhookEventType.CALL_ANALYZED,
        key=f"{call_id}/{analysis.created_at.isoformat()}",
        ordering_key=contact_ordering_key(campaign_id, external_id),
        data={
            "call_id": call_id,
            "link": f"/v1/calls/{call_id}",
            "campaign_id": campaign_id,
            "external_id": external_id,
            "analysis": analysis.model_dump(mode="json"),
        },
        occurred_at=analysis.created_at,
    )


async def campaign_status_event(
    session: AsyncSession, campaign_id: str, before: str | None, status: CampaignStatus, *, tripped: bool = False
) -> list[QueuedDelivery]:
    """The event of a campaign's status moving from ``before`` to ``status`` (none for ``cancelling``).

    A pause by the campaign's own circuit breaker (``tripped``) is ``campaign.tripped``, carrying its reason and
    the attempts that tripped it; a pause by hand is ``campaign.paused``.

    Started, completed and cancelled happen once per campaign; paused and resumed are numbered by how many
    came before. A retried write (the status already ``status``) re-queues the latest such event's deliveries.
    """
    campaign = await session.get(CampaignRow, campaign_id)
    if campaign is None:
        return []
    ordering_key = campaign_ordering_key(campaign_id)
    once = {
        CampaignStatus.COMPLETED: WebhookEventType.CAMPAIGN_COMPLETED,
        CampaignStatus.CANCELLED: WebhookEventType.CAMPAIGN_CANCELLED,
    }
    if status in once:
        event_type, key = once[status], campaign_id
    elif status in (CampaignStatus.RUNNING, CampaignStatus.PAUSED):
        paused = status == CampaignStatus.PAUSED
        event_type = WebhookEventType.CAMPAIGN_PAUSED if paused else WebhookEventType.CAMPAIGN_RESUMED
        if paused and tripped:
            event_type = WebhookEventType.CAMPAIGN_TRIPPED
        earlier = len(
            (
                await session.scalars(
                    select(WebhookEventRow.id).where(
                        WebhookEventRow.ordering_key == ordering_key, WebhookEventRow.type == event_type.value
                    )
                )
            ).all()
        )
        started = await session.get(WebhookEventRow, event_id(WebhookEventType.CAMPAIGN_STARTED, campaign_id))
        if not paused and (started is None or (before == status.value and earlier == 0)):
            event_type, key = WebhookEventType.CAMPAIGN_STARTED, campaign_id  # first run (or its retry)
        elif before == status.value:  # a retry of the write that recorded it: the latest event is this one
            if earlier == 0:
                return []
            key = f"{campaign_id}/{earlier}"
        else:
            key = f"{campaign_id}/{earlier + 1}"
    else:
        return []
    data = {
        "campaign_id": campaign_id,
        "name": campaign.name,
        "status": status.value,
        "previous_status": before,
        "agent_name": campaign.agent_name,
        "link": f"/v1/campaigns/{campaign_id}",
    }
    if event_type == WebhookEventType.CAMPAIGN_TRIPPED:
        data["pause_reason"] = campaign.pause_reason
        attempts = await session.execute(
            select(AttemptRow.campaign_id, AttemptRow.external_id, AttemptRow.attempt).where(
                AttemptRow.idempotency_key.in_(campaign.tripped_by or [])
            )
        )
        data["tripped_by"] = [f"/v1/calls/{outbound_call_id(*attempt)}" for attempt in attempts]
    return await record_event(
        session, org_id=campaign.org_id, event_type=event_type, key=key, ordering_key=ordering_key, data=data
    )


async def erase_events(session: AsyncSession, org_id: str, ordering_keys: list[str]) -> int:
    """Delete the organization's events (and their delivery log) of these ordering keys: a person's erasure.
    Their delivery workflows find nothing left to send."""
    deleted = 0
    for start in range(0, len(ordering_keys), 500):
        events = select(WebhookEventRow.id).where(
            WebhookEventRow.org_id == org_id, WebhookEventRow.ordering_key.in_(ordering_keys[start : start + 500])
        )
        await session.execute(
            delete(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.event_id.in_(events))
            .execution_options(synchronize_session=False)
        )
        result = await session.execute(
            delete(WebhookEventRow)
            .where(WebhookEventRow.id.in_(events.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        deleted += rowcount(result)
    return deleted
