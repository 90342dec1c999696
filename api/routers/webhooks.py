"""Webhook endpoints and their delivery log."""

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from api.deps import Context, CurrentOrg, CurrentPrincipal, DbSession
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES, Limit, Offset
from api.services import webhooks as service
from schemas.api import DEFAULT_PAGE_SIZE, ErrorBody
from schemas.webhooks import WebhookDeliveryOut, WebhookEndpointCreated, WebhookEndpointIn, WebhookEndpointOut

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such endpoint or delivery in your organization"}
}


def _refused(err: service.WebhookServiceError) -> HTTPException:
    code = (
        status.HTTP_404_NOT_FOUND
        if isinstance(err, service.WebhookNotFoundError)
        else status.HTTP_422_UNPROCESSABLE_CONTENT
    )
    return HTTPException(code, str(err))


@router.post("", response_model=WebhookEndpointCreated, status_code=status.HTTP_201_CREATED)
async def create_webhook(
    body: WebhookEndpointIn, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> WebhookEndpointCreated:
    """Register an endpoint. The answer holds its signing ``secret`` (``whsec_…``): keep it, it is never shown
    again. A URL whose host resolves to a private, loopback, link-local or reserved address is a 422 unless
    the deployment allows it (``RINGFLOW_WEBHOOK_ALLOW_PRIVATE_URLS``)."""
    try:
        return await service.create(session, ctx.settings, org_id=org.id, endpoint=body, actor=principal.actor)
    except service.WebhookServiceError as err:
        raise _refused(err) from None


@router.get("", response_model=list[WebhookEndpointOut])
async def list_webhooks(org: CurrentOrg, session: DbSession) -> list[WebhookEndpointOut]:
    return await service.list_endpoints(session, org_id=org.id)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_webhook(
    endpoint_id: str, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal
) -> Response:
    """Stop sending events to the endpoint; its delivery log stays."""
    try:
        await service.delete(session, org_id=org.id, endpoint_id=endpoint_id, actor=principal.actor)
    except service.WebhookServiceError as err:
        raise _refused(err) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{endpoint_id}/deliveries", response_model=list[WebhookDeliveryOut], responses=NOT_FOUND)
async def list_deliveries(
    endpoint_id: str, org: CurrentOrg, session: DbSession, limit: Limit = DEFAULT_PAGE_SIZE, offset: Offset = 0
) -> list[WebhookDeliveryOut]:
    """The endpoint's delivery log, newest first: status, attempts, last response code and body excerpt."""
    try:
        return await service.deliveries(session, org_id=org.id, endpoint_id=endpoint_id, limit=limit, offset=offset)
    except service.WebhookServiceError as err:
        raise _refused(err) from None


@router.post("/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED, responses=NOT_FOUND)
async def redeliver(delivery_id: str, org: CurrentOrg, session: DbSession, ctx: Context) -> dict[str, str]:
    """Send the delivery again (e.g. a dead-lettered one), after the events queued before it for its key."""
    try:
        await service.redeliver(session, ctx.client, ctx.settings, org_id=org.id, delivery_id=delivery_id)
    except service.WebhookServiceError as err:
        raise _refused(err) from None
    return {"status": "queued"}
