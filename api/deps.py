"""What the routers need from the app: settings, the Temporal client and store sessions (set by create_app)."""

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from schemas.settings import Settings


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    client: Client
    sessions: async_sessionmaker[AsyncSession]


def app_context(request: Request) -> AppContext:
    return request.app.state.ringflow
