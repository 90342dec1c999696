"""The FastAPI app. Run it with ``uvicorn --factory api.main:app_from_env``."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api import ratelimit
from api.deps import AppContext
from api.routers import codec, connections, dashboard, health, operator, recordings, twilio, v1
from api.security_headers import SecurityHeadersMiddleware
from api.webhook_timing import WebhookTimingMiddleware
from schemas.settings import Settings
from schemas.validation import describe_validation_error


def create_app(settings: Settings, client: Client, sessions: async_sessionmaker[AsyncSession]) -> FastAPI:
    app = _build()
    app.state.ringflow = AppContext(settings=settings, client=client, sessions=sessions)
    ratelimit.install(app, settings)
    return app


def app_from_env() -> FastAPI:
    """The deployed app (``uvicorn --factory api.main:app_from_env``): it connects to Temporal at start-up."""
    from infra.client import connect
    from infra.observability import setup_observability
    from schemas.settings import get_settings
    from store.db import get_session_factory

    settings = get_settings()
    setup_observability(settings, "ringflow-api")
    sessions = get_session_factory(settings.sqlalchemy_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ringflow = AppContext(settings=settings, client=await connect(settings), sessions=sessions)
        yield

    app = _build(lifespan)
    ratelimit.install(app, settings)
    return app


def _build(lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None) -> FastAPI:
    app = FastAPI(
        title="Ringflow",
        summary="AI phone-call campaigns where every campaign, contact and incoming call is a Temporal workflow.",
        description=v1.DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    v1.install(app)
    app.include_router(twilio.router)
    app.include_router(connections.callback_router)
    app.include_router(codec.router)
    app.include_router(recordings.router)
    app.include_router(operator.router)
    app.add_middleware(codec.CodecCorsMiddleware)
    app.include_router(health.router)
    dashboard.install(app)
    app.add_middleware(WebhookTimingMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": describe_validation_error(exc.errors())}, status_code=422)

    return app
