"""Prepare a Temporal namespace for Ringflow: the namespace itself and the search attributes the workflows set.

``ringflow temporal setup`` runs this once per deployment (the compose stack's ``temporal-setup`` service) and
again on every deploy: each step is a no-op when already done, and two setups racing each other both succeed.
The dev stack does not need it: ``temporal server start-dev`` is started with the namespace and the attributes.
"""

import asyncio
import dataclasses
import time
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from infra.search_attributes import register_search_attributes

NAMESPACE_VISIBLE_TIMEOUT = timedelta(seconds=60)
"""A new namespace reaches every frontend's cache within the server's refresh interval (10 s by default)."""

RETRY_INTERVAL_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class SetupReport:
    namespace: str
    namespace_created: bool


async def ensure_namespace(client: Client, namespace: str, retention: timedelta) -> bool:
    """Register ``namespace`` with ``retention`` unless it exists; True when this call created it.

    An existing namespace keeps its retention: changing it is an operator's decision, not a deploy's.
    """
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
        return False
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    period = Duration()
    period.FromTimedelta(retention)
    try:
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=period)
        )
    except RPCError as err:
        if err.status != RPCStatusCode.ALREADY_EXISTS:  # another setup registered it meanwhile
            raise
        return False
    return True


async def setup_namespace(
    client: Client, retention: timedelta, *, visible_timeout: timedelta = NAMESPACE_VISIBLE_TIMEOUT
) -> SetupReport:
    """The client's namespace, then our search attributes on it.

    Right after registration the operator service may not know the namespace yet (NOT_FOUND until its
    cache refreshes), so adding the attributes is retried until ``visible_timeout``.
    """
    created = await ensure_namespace(client, client.namespace, retention)
    deadline = time.monotonic() + visible_timeout.total_seconds()
    while True:
        try:
            await register_search_attributes(client)
            return SetupReport(namespace=client.namespace, namespace_created=created)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(RETRY_INTERVAL_SECONDS)
