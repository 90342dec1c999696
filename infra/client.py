"""One way to reach Temporal, so every client and worker shares the data converter (pydantic + encryption)."""

from temporalio.client import Client
from temporalio.service import TLSConfig

from infra.codec import data_converter_for
from infra.observability import temporal_runtime, tracing_interceptor
from schemas.settings import Settings


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=tls_config(settings),
        data_converter=data_converter_for(settings),
        interceptors=[tracing_interceptor()],
        runtime=temporal_runtime(settings),
    )


def tls_config(settings: Settings) -> TLSConfig | bool:
    """mTLS with the configured client certificate; plain TLS with an API key or when asked; else none.

    Temporal Cloud takes either an API key or an mTLS certificate, both over TLS; a self-hosted server in
    the same network (the compose stack) takes neither.
    """
    if settings.temporal_tls_cert_path and settings.temporal_tls_key_path:
        return TLSConfig(
            client_cert=settings.temporal_tls_cert_path.read_bytes(),
            client_private_key=settings.temporal_tls_key_path.read_bytes(),
        )
    return settings.temporal_tls or settings.temporal_api_key is not None
