"""The REST API under ``/v1``: every resource's router, and what turns Temporal's refusals into JSON."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.service import RPCError

from api.routers import agents, calls, campaigns, contacts, dnc, information, me, numbers

ROUTERS = (me, campaigns, contacts, calls, information, agents, numbers, dnc)
logger = logging.getLogger(__name__)


def install(app: FastAPI) -> None:
    for module in ROUTERS:
        app.include_router(module.router)

    @app.exception_handler(RPCError)
    async def _temporal_unavailable(request: Request, exc: RPCError) -> JSONResponse:
        """Temporal down or refusing: the request was fine, the service behind it is not."""
        logger.error("%s %s: Temporal refused: %s (%s)", request.method, request.url.path, exc.message, exc.status)
        return JSONResponse({"detail": f"the workflow service is unavailable: {exc.message}"}, status_code=503)
