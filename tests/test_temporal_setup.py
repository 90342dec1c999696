"""``ringflow temporal setup``: a fresh namespace on a real server gets created with its retention and our search
attributes, and running it again (every deploy does) changes nothing."""

import uuid
from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from worker.temporal_setup import setup_namespace


def _fresh_namespace_client(dev_env) -> Client:
    """A client of the session's dev server on a namespace nobody has registered yet."""
    return Client(dev_env.client.service_client, namespace=f"setup-{uuid.uuid4().hex[:10]}")


async def test_a_missing_namespace_is_created_with_its_retention_and_our_search_attributes(dev_env) -> None:
    client = _fresh_namespace_client(dev_env)

    report = await setup_namespace(client, timedelta(days=3))

    assert report.namespace_created
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=client.namespace))
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=3)
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    assert dict(listed.custom_attributes) == {
        "CampaignId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "Outcome": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "Attempt": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    }


async def test_setup_again_leaves_the_namespace_and_its_retention_as_they_are(dev_env) -> None:
    client = _fresh_namespace_client(dev_env)
    await setup_namespace(client, timedelta(days=3))

    again = await setup_namespace(client, timedelta(days=90))

    assert not again.namespace_created
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=client.namespace))
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=3)
