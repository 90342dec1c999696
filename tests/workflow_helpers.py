"""Building blocks for workflow tests: seeding the store and starting contacts and campaigns."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from schemas.agent import AgentConfig
from schemas.calls import DialRequest, DialResult
from schemas.campaign import ALL_WEEKDAYS, CallingWindow, CampaignSettings, RetryPolicy
from schemas.compliance import CallingPolicy, any_hour_policy
from schemas.contact import Contact
from schemas.settings import Settings
from schemas.workflow_io import (
    CampaignWorkflowInput,
    ContactPhase,
    ContactWorkflowInput,
    campaign_workflow_id,
    contact_workflow_id,
)
from simulator.carrier import SimCarrier
from store import compliance, orgs, queries
from store import contacts as store_contacts
from worker.main import build_worker
from workflows import search_attributes
from workflows.campaign import CampaignWorkflow
from workflows.contact import ContactWorkflow

AGENT = AgentConfig(
    name="sam",
    instructions="You are Sam, calling customers about their Ringflow onboarding. Be brief and polite.",
    greeting="Hi, this is Sam from Ringflow. Do you have a minute?",
    context={"offer": "a free month of Pro"},
)
"""An agent for campaigns whose answered calls should come to something: the sim's personas talk to it."""

ALL_DAY = CallingWindow(start=time(0), end=time(0), weekdays=frozenset(ALL_WEEKDAYS))

ANY_HOUR = any_hour_policy("tests: simulated callees, no phone rings")
"""For tests that are not about calling hours: they run at any hour of the day, so the legal floor is
overridden (an audited override, as an organization with a legal basis would set)."""


def zone_where_it_is(hour: int, now: datetime) -> str:
    """A fixed-offset zone whose local time at ``now`` is ``hour`` o'clock (and ``now``'s minutes)."""
    offset = (hour - now.astimezone(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}"  # POSIX signs: Etc/GMT-2 is two hours ahead of UTC


def settings(**overrides) -> CampaignSettings:
    initial = overrides.pop("initial_backoff", timedelta(minutes=10))
    retry = RetryPolicy(
        max_attempts=overrides.pop("max_attempts", 4),
        initial_backoff=initial,
        backoff_coefficient=overrides.pop("coefficient", 2.0),
        max_backoff=overrides.pop("max_backoff", max(initial * 8, timedelta(hours=1))),
        jitter_ratio=overrides.pop("jitter", 0.0),
    )
    base = {"window": ALL_DAY, "retry": retry, "max_concurrent_calls": 10, "calls_per_second": 50}
    return CampaignSettings(**{**base, **overrides})


def contact(index: int, persona: str, *, phone: str | None = None, priority: int = 0, **extra) -> Contact:
    # +44 20 7946 0xxx is Ofcom's range for drama: valid, never a real line.
    return Contact(
        external_id=f"p{index:04d}",
        name=f"Person {index}",
        phone=phone or f"+44207946{index % 10000:04d}",
        persona=persona,
        priority=priority,
        **extra,
    )


async def seed(sessions, campaign_id: str, contacts: list[Contact], campaign: CampaignSettings) -> None:
    async with sessions() as session:
        await queries.create_campaign(session, campaign_id, f"test {campaign_id}", campaign)
        await store_contacts.add_contacts(session, campaign_id, contacts)
        await session.commit()


class FlakyTrunk(SimCarrier):
    """The sim carrier whose trunk fails (SIP 503) for the dials numbered in ``failing`` (1-based, in the order
    they reach it), and plays the callee's persona otherwise: the network is simulated, the decision is the
    workflows' own."""

    def __init__(self, failing: Callable[[int], bool] | set[int], **kwargs) -> None:
        super().__init__(time_scale=kwargs.pop("time_scale", 0.0), **kwargs)
        self._fails = failing.__contains__ if isinstance(failing, set) else failing

    async def dial(self, request: DialRequest, placed=None) -> DialResult:
        self.fault = "trunk_down" if self._fails(len(self.dials) + 1) else ""
        return await super().dial(request, placed)


def new_campaign_id() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def start_contact(
    client: Client,
    task_queue: str,
    campaign_id: str,
    person: Contact,
    campaign: CampaignSettings,
    agent: AgentConfig | None = None,
    policy: CallingPolicy = ANY_HOUR,
) -> WorkflowHandle:
    return await client.start_workflow(
        ContactWorkflow.run,
        ContactWorkflowInput(campaign_id=campaign_id, contact=person, settings=campaign, agent=agent, policy=policy),
        id=contact_workflow_id(campaign_id, person.external_id),
        task_queue=task_queue,
    )


async def start_campaign(
    client: Client, task_queue: str, campaign_id: str, campaign: CampaignSettings, **input_fields
) -> WorkflowHandle:
    return await client.start_workflow(
        CampaignWorkflow.run,
        CampaignWorkflowInput(campaign_id=campaign_id, settings=campaign, **{"policy": ANY_HOUR, **input_fields}),
        id=campaign_workflow_id(campaign_id),
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(search_attributes.CAMPAIGN_ID, campaign_id)]),
    )


async def eventually(check: Callable[[], object], *, within: float = 15.0, interval: float = 0.05):
    """Poll an async or sync check until it returns something truthy (queries never skip time)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


async def calls_at_any_hour(sessions, org_id: str) -> None:
    """Store ``ANY_HOUR`` as the organization's calling policy (creating the organization if need be), so a
    test whose campaign is started from the store dials whatever the hour the suite runs at."""
    async with sessions() as session:
        if await orgs.get_org(session, org_id) is None:
            await orgs.create_org(session, org_id, org_id=org_id)
        assert await compliance.set_policy(session, org_id, ANY_HOUR, changed_by="tests") is not None
        await session.commit()


@asynccontextmanager
async def contact_between_calls(
    client: Client,
    sessions,
    db_url: str,
    *,
    campaign_id: str,
    person: Contact,
    campaign: CampaignSettings,
    agent: AgentConfig,
    clock: Callable,
    org_id: str,
    **deployment,
) -> AsyncIterator[WorkflowHandle]:
    """A contact workflow whose first call went unanswered, parked for its retry on a worker of its own
    (``Settings`` overrides as keywords): the call's workflow as an agent's tools find it. Terminated after."""
    await calls_at_any_hour(sessions, org_id)  # each dial checks the organization's stored policy, like the input's
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    settings_ = Settings(_env_file=None, database_url=db_url, task_queue=task_queue, **deployment)  # type: ignore[call-arg]
    sim = SimCarrier(time_scale=0.0, clock=clock)
    async with build_worker(client, settings_, sessions=sessions, carrier=sim):
        handle = await client.start_workflow(
            ContactWorkflow.run,
            ContactWorkflowInput(
                campaign_id=campaign_id, contact=person, settings=campaign, agent=agent, policy=ANY_HOUR, org_id=org_id
            ),
            id=contact_workflow_id(campaign_id, person.external_id),
            task_queue=task_queue,
        )

        async def parked() -> bool:
            return (await handle.query(ContactWorkflow.state)).phase == ContactPhase.WAITING_RETRY

        await eventually(parked)
        yield handle
        await handle.terminate("test over")
