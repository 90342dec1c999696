"""Webhooks: the event types, the endpoint and delivery views, and the delivery workflow's IO.

Adding an event type is one line in :class:`WebhookEventType`.
"""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

WEBHOOK_DELIVERY_WORKFLOW = "WebhookDeliveryWorkflow"
SEND_WEBHOOK_ACTIVITY = "send_webhook"
DEAD_LETTER_WEBHOOK_ACTIVITY = "dead_letter_webhook"
WEBHOOK_REFUSED_ERROR = "WebhookRefused"
"""Error type of a delivery the receiver refused for good (a 4xx other than 408, 425, 429)."""
BODY_EXCERPT_CHARS = 500


class WebhookEventType(StrEnum):
    CALL_STARTED = "call.started"
    CALL_ENDED = "call.ended"
    CALL_ANALYZED = "call.analyzed"
    CONTACT_FINISHED = "contact.finished"
    CAMPAIGN_STARTED = "campaign.started"
    CAMPAIGN_PAUSED = "campaign.paused"
    CAMPAIGN_TRIPPED = "campaign.tripped"
    CAMPAIGN_RESUMED = "campaign.resumed"
    CAMPAIGN_COMPLETED = "campaign.completed"
    CAMPAIGN_CANCELLED = "campaign.cancelled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # the receiver refused it (a 4xx that retrying cannot fix)
    DEAD = "dead"  # still failing when the give-up horizon passed


class WebhookEndpointIn(BaseModel):
    url: str = Field(max_length=2048, description="https:// (or http://) URL the events are POSTed to")
    events: list[WebhookEventType] | Literal["*"] = Field(
        default="*", description='The event types to send, or "*" for all'
    )
    description: str = Field(default="", max_length=256)


class WebhookEndpointOut(BaseModel):
    id: str
    url: str
    events: list[str] | Literal["*"]
    description: str
    created_at: datetime


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str = Field(description="whsec_… signing secret: shown this once, never again")


class WebhookDeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_body_excerpt: str
    last_error: str
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


class WebhookDeliveryInput(BaseModel):
    """One endpoint's deliveries for one ordering key (a contact, a campaign), sent one at a time in order."""

    endpoint_id: str
    ordering_key: str
    queued: list[str] = Field(default_factory=list, description="delivery ids still to send, in order")
    give_up_after_seconds: float = Field(gt=0)
    initial_retry_seconds: float = Field(default=5.0, gt=0)
    max_retry_seconds: float = Field(default=3600.0, gt=0)
    max_history_events: int = Field(default=5_000, ge=10, description="continue as new past this history length")


class SendWebhook(BaseModel):
    delivery_id: str


class DeadLetterWebhook(BaseModel):
    delivery_id: str
    error: str


def delivery_workflow_id(endpoint_id: str, ordering_key: str) -> str:
    return f"webhook-{endpoint_id}-{ordering_key}"
