"""Starting and steering campaigns: the one service the CLI (and the API) call.

The contacts go to the store before the workflow starts, so the campaign's first claim finds them;
everything after that goes through the campaign workflow, which owns the campaign's state.
"""

import asyncio
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from schemas.agent import AgentConfig
from schemas.campaign import CampaignSettings
from schemas.contact import Contact
from schemas.workflow_io import (
    CampaignProgress,
    CampaignResult,
    CampaignWorkflowInput,
    ContactPhase,
    ContactState,
    ReasonInput,
    campaign_workflow_id,
)
from store import queries
from store.models import DEFAULT_ORG_ID
from workflows.campaign import CampaignWorkflow
from workflows.contact import ContactWorkflow
from workflows.search_attributes import CAMPAIGN_ID

QUERY_TIMEOUT = timedelta(seconds=10)


class CampaignNotFoundError(LookupError):
    """No campaign workflow has this id."""


class CampaignEndedError(RuntimeError):
    """The campaign workflow has closed, so it takes no more signals."""


@dataclass(frozen=True)
class PendingCallback:
    external_id: str
    scheduled_for: datetime


def new_campaign_id() -> str:
    """Short, unguessable enough to never collide in one deployment, and easy to type on a command line."""
    return f"c-{secrets.token_hex(4)}"


async def create_campaign_from_contacts(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    contacts: Sequence[Contact],
    settings: CampaignSettings,
    *,
    task_queue: str,
    agent: AgentConfig | None = None,
    org_id: str = DEFAULT_ORG_ID,
) -> str:
    """Store the campaign (owned by ``org_id``) and its contacts, then start its workflow; returns the id.

    ``agent`` is snapshotted into the workflow input: editing or deleting the stored agent later
    does not change a campaign already started. Without one, calls are placed with no agent.
    """
    campaign_id = new_campaign_id()
    async with sessions() as session:
        await queries.create_campaign(
            session, campaign_id, name, settings, org_id=org_id, agent_name=agent.name if agent else None
        )
        await queries.add_contacts(session, campaign_id, contacts)
        await session.commit()
    await start_campaign_workflow(
        client, campaign_id, name, settings, len(contacts), task_queue=task_queue, agent=agent
    )
    return campaign_id


async def start_campaign_workflow(
    client: Client,
    campaign_id: str,
    name: str,
    settings: CampaignSettings,
    contact_count: int,
    *,
    task_queue: str,
    agent: AgentConfig | None = None,
) -> None:
    """Start the workflow of a campaign already in the store (its contacts too), with ``agent``'s snapshot."""
    await client.start_workflow(
        CampaignWorkflow.run,
        CampaignWorkflowInput(campaign_id=campaign_id, settings=settings, agent=agent),
        id=campaign_workflow_id(campaign_id),
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(CAMPAIGN_ID, campaign_id)]),
        static_summary=f"campaign {name}: {contact_count} contact(s)" + (f", agent {agent.name}" if agent else ""),
    )


def campaign_handle(client: Client, campaign_id: str) -> WorkflowHandle[CampaignWorkflow, CampaignResult]:
    return client.get_workflow_handle_for(CampaignWorkflow.run, campaign_workflow_id(campaign_id))


async def _signal(client: Client, campaign_id: str, signal: Callable[..., None], *args: ReasonInput) -> None:
    try:
        await campaign_handle(client, campaign_id).signal(signal, *args)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            if "completed" in err.message or "closed" in err.message:
                raise CampaignEndedError(f"campaign {campaign_id} has already ended") from None
            raise CampaignNotFoundError(f"no campaign {campaign_id}") from None
        raise


async def pause(client: Client, campaign_id: str) -> None:
    await _signal(client, campaign_id, CampaignWorkflow.pause)


async def resume(client: Client, campaign_id: str) -> None:
    await _signal(client, campaign_id, CampaignWorkflow.resume)


async def cancel(client: Client, campaign_id: str, reason: str = "") -> None:
    await _signal(client, campaign_id, CampaignWorkflow.cancel, ReasonInput(reason=reason))


async def progress(client: Client, campaign_id: str) -> CampaignProgress:
    """The campaign's counters; from its result once it has completed, so no worker is needed then."""
    handle = campaign_handle(client, campaign_id)
    try:
        description = await handle.describe()
        if description.status == WorkflowExecutionStatus.COMPLETED:
            return (await handle.result()).progress
        return await handle.query(CampaignWorkflow.progress, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise CampaignNotFoundError(f"no campaign {campaign_id}") from None
        raise


async def pending_callbacks(client: Client, campaign_id: str) -> list[PendingCallback]:
    """The contacts of the campaign waiting for a callback, with when each will be redialled.

    Read from Temporal visibility and each contact's ``state`` query: the campaign itself only counts them.
    """
    running = client.list_workflows(
        f'CampaignId = "{campaign_id}" AND WorkflowType = "ContactWorkflow" AND ExecutionStatus = "Running"'
    )
    handles = [client.get_workflow_handle_for(ContactWorkflow.run, execution.id) async for execution in running]
    states: list[ContactState] = await asyncio.gather(
        *(handle.query(ContactWorkflow.state, rpc_timeout=QUERY_TIMEOUT) for handle in handles)
    )
    return sorted(
        (
            PendingCallback(external_id=state.external_id, scheduled_for=state.next_dial_at)
            for state in states
            if state.phase == ContactPhase.WAITING_CALLBACK and state.next_dial_at is not None
        ),
        key=lambda callback: callback.scheduled_for,
    )


async def has_workers(client: Client, task_queue: str) -> bool:
    """Whether any worker polled ``task_queue`` lately: without one a started campaign sits still."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return bool(response.pollers)


async def store_outcome_counts(sessions: async_sessionmaker[AsyncSession], campaign_id: str) -> dict[str, int]:
    async with sessions() as session:
        return await queries.outcome_counts(session, campaign_id)
