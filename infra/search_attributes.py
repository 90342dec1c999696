"""Registers the search attributes ops filter on (CampaignId, Outcome, Attempt) on a Temporal namespace."""

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from workflows.search_attributes import ALL


async def register_search_attributes(client: Client) -> None:
    """Add whichever of ours the namespace lacks; a no-op when all exist.

    The time-skipping test server cannot list search attributes, so there all of them are added.
    """
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        known = set(listed.custom_attributes) | set(listed.system_attributes)
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()
    missing = {
        # SearchAttributeIndexedValueType shares the API enum's numbering.
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
        for key in ALL
        if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
