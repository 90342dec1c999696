"""The REST API under ``/v1``: every resource's router, and what turns Temporal's refusals into JSON."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.service import RPCError

from api.routers import (
    access,
    agent_talk,
    agents,
    caller_ids,
    calls,
    campaigns,
    capacity,
    common,
    connections,
    contacts,
    departments,
    dnc,
    information,
    me,
    numbers,
    people,
    policy,
    tools,
    webhooks,
)

ROUTERS = (
    me,
    policy,
    capacity,
    campaigns,
    contacts,
    calls,
    information,
    agents,
    agent_talk,
    numbers,
    caller_ids,
    departments,
    dnc,
    people,
    tools,
    connections,
    webhooks,
    access,
)
DESCRIPTION = """
Every ``/v1`` request needs an organization's API key, as ``Authorization: Bearer <key>`` (or
``X-API-Key: <key>``); `ringflow org create NAME` prints one. A key only ever sees its own
organization's data: anyone else's campaign, call or agent is a 404. A ``read`` key may only read; a
``full`` key may do what an admin may. The dashboard calls the same API with its session cookie, as the
member logged in, with the member's role; its writes carry the session's ``X-CSRF-Token``. A request
the caller's role or key scope does not allow is a 403 whose ``detail`` says why (docs/security.md).

Errors are a 4xx with a JSON body ``{"detail": ...}`` that says what is wrong and, for invalid input,
which field (``body.contacts.2.phone: ...``). Lists are paged with ``limit`` and ``offset``.
Campaign progress streams as server-sent events from ``/v1/campaigns/events`` and
``/v1/campaigns/{campaign_id}/events``.
"""
logger = logging.getLogger(__name__)


def install(app: FastAPI) -> None:
    for module in ROUTERS:
        common.document_unreadable_bodies(module.router)
        app.include_router(module.router)
    common.install_service_errors(app)
    common.document_bodies(app, campaigns.DOCUMENTED_BODIES)

    @app.exception_handler(RPCError)
    async def _temporal_unavailable(request: Request, exc: RPCError) -> JSONResponse:
        """Temporal down or refusing: the request was fine, the service behind it is not."""
        logger.error("%s %s: Temporal refused: %s (%s)", request.method, request.url.path, exc.message, exc.status)
        return JSONResponse({"detail": f"the workflow service is unavailable: {exc.message}"}, status_code=503)
