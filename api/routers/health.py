"""The API's probes and metrics: ``/healthz`` (the process answers), ``/readyz`` (the database and
Temporal answer too), ``/metrics`` (Prometheus). No API key: they say nothing about any organization."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api.deps import Context
from infra.health import database_check, liveness, metrics_response, readiness, temporal_check

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return liveness()


@router.get("/readyz")
async def readyz(ctx: Context) -> JSONResponse:
    return await readiness({"database": database_check(ctx.sessions), "temporal": temporal_check(ctx.client)})


@router.get("/metrics")
async def metrics() -> Response:
    return metrics_response()
