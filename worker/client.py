"""One way to reach Temporal, so every client and worker shares the data converter (pydantic + encryption)."""

from temporalio.client import Client

from schemas.settings import Settings
from worker.codec import data_converter_for


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter_for(settings),
    )
