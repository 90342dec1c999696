"""Liveness, readiness and ``/metrics`` over HTTP: the API mounts these, the worker process serves them.

``/healthz`` answers while the process runs (restart it when it does not); ``/readyz`` answers 200
only when every dependency answers, else 503 with which one failed (send it no traffic meanwhile).
"""

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.client import Client
from temporalio.worker import Worker

CHECK_TIMEOUT_SECONDS = 2.0

Check = Callable[[], Awaitable[None]]
"""Returns when the dependency answers; raises (anything) when it does not."""


def database_check(sessions: async_sessionmaker[AsyncSession]) -> Check:
    async def check() -> None:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))

    return check


def temporal_check(client: Client) -> Check:
    async def check() -> None:
        if not await client.service_client.check_health():
            raise RuntimeError("the workflow service is not serving")

    return check


def worker_check(worker: Worker) -> Check:
    """Running means polling: the worker stops (and is_running turns false) when its pollers fail for good."""

    async def check() -> None:
        if not worker.is_running or worker.is_shutdown:
            raise RuntimeError("the worker is not polling")

    return check


def liveness() -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readiness(checks: dict[str, Check]) -> JSONResponse:
    """200 ``{"status": "ready", "checks": {name: "ok"}}``, or 503 with each failure's reason."""
    outcomes = await asyncio.gather(*(_outcome(check) for check in checks.values()))
    results = dict(zip(checks, outcomes, strict=True))
    ready = all(result == "ok" for result in results.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": results}, 200 if ready else 503)


async def _outcome(check: Check) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    except Exception as err:
        return f"{type(err).__name__}: {err}".splitlines()[0]
    return "ok"


def metrics_response() -> Response:
    """This process's registry: ``ringflow_*`` and the Temporal SDK's metrics, in Prometheus text format."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def worker_http_app(checks: dict[str, Check]) -> Starlette:
    """The worker process's endpoints: no API, only what probes and Prometheus ask for."""

    async def healthz(request: Request) -> Response:
        return liveness()

    async def readyz(request: Request) -> Response:
        return await readiness(checks)

    async def metrics(request: Request) -> Response:
        return metrics_response()

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )
