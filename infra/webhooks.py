"""What the API and the activities share about webhooks: the SSRF guard and handing deliveries to their
delivery workflows (signal-with-start, one workflow per endpoint and ordering key)."""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from temporalio.client import Client

from schemas.settings import Settings
from schemas.webhooks import WebhookDeliveryInput, delivery_workflow_id
from store.webhooks import QueuedDelivery
from workflows.webhooks import WebhookDeliveryWorkflow


class UnsafeWebhookUrlError(ValueError):
    """The URL is malformed, or reaches an address the deployment does not allow."""


def _refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


async def check_url(url: str, *, allow_private: bool, allowed_by: str = "RINGFLOW_WEBHOOK_ALLOW_PRIVATE_URLS") -> None:
    """Refuse a URL that is not http(s), has no host, or whose host resolves to a non-public address.

    Run when the endpoint is created and again before every delivery (what a name resolves to can change);
    HTTP tools (``infra/http_tools.py``) run it before every invocation, ``allowed_by`` naming their setting.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeWebhookUrlError("url: must be an http:// or https:// URL with a host")
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError):
        raise UnsafeWebhookUrlError(f"url: the host {parts.hostname} does not resolve") from None
    refused = sorted({str(info[4][0]) for info in infos if _refused_address(str(info[4][0]))})
    if refused:
        raise UnsafeWebhookUrlError(
            f"url: {parts.hostname} resolves to a private or reserved address ({refused[0]}); "
            f"set {allowed_by}=true to allow it"
        )


async def dispatch(client: Client, settings: Settings, deliveries: Iterable[QueuedDelivery]) -> None:
    """Queue each delivery on its (endpoint, ordering key) workflow, starting it if it is not running."""
    for queued in deliveries:
        await client.start_workflow(
            WebhookDeliveryWorkflow.run,
            WebhookDeliveryInput(
                endpoint_id=queued.endpoint_id,
                ordering_key=queued.ordering_key,
                give_up_after_seconds=settings.webhook_give_up_after.total_seconds(),
                initial_retry_seconds=settings.webhook_retry_initial.total_seconds(),
                max_retry_seconds=settings.webhook_retry_max.total_seconds(),
            ),
            id=delivery_workflow_id(queued.endpoint_id, queued.ordering_key),
            task_queue=settings.task_queue,
            start_signal="enqueue",
            start_signal_args=[queued.delivery_id],
        )


class WebhookOutbox:
    """What the activities hand recorded events to: their deliveries go to their delivery workflows."""

    def __init__(self, client: Client, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    async def dispatch(self, deliveries: Iterable[QueuedDelivery]) -> None:
        await dispatch(self._client, self._settings, deliveries)
