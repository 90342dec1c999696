"""The campaign use cases: create, start, add contacts, pause, resume, cancel, progress.

The REST API (and through it the dashboard) and the CLI call these functions and nothing else, so a
campaign behaves the same whichever way it is steered. Two rules hold here:

* Contacts go to the store, never through a workflow payload. A list of any size is read in chunks
  (parsed in a thread, so the API's event loop keeps answering), each chunk written in its own short
  transaction with the import's batch id; a running campaign then gets a ``contacts_added`` update
  that carries only the count. If the campaign refuses it (it is ending), the batch's rows are deleted.
* Campaign status has one writer once a workflow exists: the campaign workflow. Pause, resume and
  cancel only signal it. This module writes the status only around the workflow's birth: a draft, the
  draft that is being started (``draft`` -> ``running``, which also stops a second start), a start
  that failed (back to ``draft``), and a draft cancelled before it ever ran.
"""

import asyncio
import io
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from api.services import audit
from schemas.agent import AgentConfig
from schemas.api import CAMPAIGN_DRAFT, ContactPreview
from schemas.campaign import CampaignSettings
from schemas.compliance import CallingPolicy, DialFacts, DialVerdict
from schemas.contact import Contact
from schemas.imports import RowError
from schemas.progress import CampaignOverview, StoreCounts
from schemas.providers import keys_refusal
from schemas.settings import Settings
from schemas.workflow_io import (
    CampaignProgress,
    CampaignResult,
    CampaignStatus,
    CampaignWorkflowInput,
    ContactPhase,
    ContactsAdded,
    ContactState,
    ReasonInput,
    campaign_workflow_id,
)
from store import caller_ids, compliance, dnc, queries, reports
from store import contacts as bulk
from store.csv_import import ContactIntake, ImportFileError, chunks, count_csv_rows, csv_text
from store.models import CampaignRow
from workflows.campaign import CampaignWorkflow
from workflows.contact import ContactWorkflow
from workflows.scheduling import decide_dial
from workflows.search_attributes import CAMPAIGN_ID

QUERY_TIMEOUT = timedelta(seconds=10)
STEER_CHECK_TIMEOUT = timedelta(seconds=3)
"""How long pause, resume and cancel wait for the workflow to say whether it has ended."""
IMPORT_CHUNK = bulk.INSERT_CHUNK
"""Contacts parsed, checked against the do-not-call list and written per step of an import."""
ENDED = (CampaignStatus.COMPLETED.value, CampaignStatus.CANCELLED.value)


class CampaignServiceError(Exception):
    """A request the campaign's state or the caller's input does not allow; the message says why."""


class CampaignNotFoundError(CampaignServiceError, LookupError):
    """No such campaign (in the caller's organization), or no workflow for it."""


class CampaignEndedError(CampaignServiceError):
    """The campaign has ended (or is ending), so it takes no more signals or contacts."""


class CampaignStateError(CampaignServiceError):
    """The campaign is not in a state that allows this: a draft paused, a campaign started twice."""


class InvalidCampaignInputError(CampaignServiceError, ValueError):
    """The request names something that is not usable: an unknown or inactive agent, an unreadable file."""


class ImportTooLargeError(CampaignServiceError):
    """The list is bigger than one import may be (rows or bytes)."""


class NothingToImportError(CampaignServiceError):
    """Not one row of the list was good; ``result`` says why for each."""

    def __init__(self, result: "ImportResult") -> None:
        has_rows = result.rejected > 0
        super().__init__("no valid contacts: nothing was imported" if has_rows else "the list has no contacts")
        self.result = result


@dataclass(frozen=True)
class ImportLimits:
    max_rows: int
    max_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> "ImportLimits":
        return cls(max_rows=settings.max_import_rows, max_bytes=settings.max_upload_mb * 2**20)


@dataclass
class ImportResult:
    imported: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list, metadata={"doc": "the first rejected rows, by line"})
    uncertain_zones: int = field(default=0, metadata={"doc": "accepted contacts that may be in several time zones"})
    uncertain_zone_ids: list[str] = field(default_factory=list, metadata={"doc": "the first of them, by external id"})

    @classmethod
    def of(cls, intake: ContactIntake, *, imported: int) -> "ImportResult":
        """The result of a list checked by ``intake`` of which ``imported`` contacts went in (or would):
        the others it accepted were taken meanwhile, so they count as rejected."""
        return cls(
            imported=imported,
            rejected=intake.rejected + intake.accepted - imported,
            errors=intake.errors,
            uncertain_zones=intake.uncertain_zones,
            uncertain_zone_ids=intake.uncertain_zone_ids,
        )


@dataclass(frozen=True)
class ContactList:
    """A list to import: a CSV byte stream (read twice: counted, then parsed) or rows (a JSON list)."""

    csv: IO[bytes] | None = None
    rows: Sequence[Mapping[str, Any] | BaseModel] = ()

    @classmethod
    def from_csv(cls, stream: IO[bytes]) -> "ContactList":
        return cls(csv=stream)

    @classmethod
    def from_csv_bytes(cls, content: bytes) -> "ContactList":
        return cls(csv=io.BytesIO(content))

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any] | BaseModel]) -> "ContactList":
        return cls(rows=rows)

    def count(self) -> int:
        """Rows in the list (blocking: run it in a thread); :class:`InvalidCampaignInputError` for a file that
        is not CSV text, before any row is imported."""
        if self.csv is None:
            return len(self.rows)
        try:
            return count_csv_rows(self.csv)
        except ImportFileError as err:
            raise InvalidCampaignInputError(f"file: {err}") from None

    def contacts(self, intake: ContactIntake) -> Iterator[Contact]:
        """The good contacts, parsed lazily (blocking: pull them in a thread)."""
        if self.csv is None:
            yield from intake.row_contacts(row.model_dump() if isinstance(row, BaseModel) else row for row in self.rows)
            return
        text = csv_text(self.csv)
        try:
            yield from intake.csv_contacts(text)
        finally:
            text.detach()


@dataclass(frozen=True)
class PendingCallback:
    external_id: str
    scheduled_for: datetime


def new_campaign_id() -> str:
    """Short, unguessable enough to never collide in one deployment, and easy to type on a command line."""
    return f"c-{secrets.token_hex(4)}"


# ---- reading ---------------------------------------------------------------------------------------


async def owned_campaign(session: AsyncSession, *, org_id: str | None, campaign_id: str) -> CampaignRow:
    """The campaign, if ``org_id`` owns it (None: an operator's CLI, which sees every organization)."""
    row = await queries.get_campaign(session, campaign_id, org_id)
    if row is None:
        raise CampaignNotFoundError(f"no campaign {campaign_id!r}")
    return row


async def active_agent(session: AsyncSession, *, org_id: str, agent_name: str | None) -> AgentConfig | None:
    """The organization's stored agent ``agent_name`` for a campaign (None without a name); refused if it
    has none such or it is switched off."""
    if agent_name is None:
        return None
    agent = await queries.get_agent(session, agent_name, org_id)
    if agent is None:
        raise InvalidCampaignInputError(f"agent_name: your organization has no agent named {agent_name!r}")
    if not agent.active:
        raise InvalidCampaignInputError(f"agent_name: agent {agent_name!r} is inactive")
    return agent


def refuse_if_undiallable(deployment: Settings, agent: AgentConfig | None) -> None:
    """Refuse, before anything is stored or dialled, a campaign whose every dial would fail: a carrier missing
    its settings, a live carrier without an agent (its calls need one in the room), or an agent whose models
    have no key here (schemas/providers.py). Each such dial ends ``failed``, which is retried, so the whole list
    would end ``unreachable`` hours later, silently; a missing key would fail every call as it is answered."""
    missing = deployment.missing_carrier_settings()
    if missing:
        raise InvalidCampaignInputError(
            f"the carrier {deployment.carrier!r} is not configured: set {', '.join(missing)}"
        )
    if agent is None and deployment.carrier != "sim":
        raise InvalidCampaignInputError(
            f"agent_name: the {deployment.carrier!r} carrier puts every call in a room with an agent: name one"
        )
    refusal = keys_refusal(agent, deployment) if agent is not None else None
    if refusal:
        raise InvalidCampaignInputError(refusal)


async def refuse_unknown_caller_id_pool(
    sessions: async_sessionmaker[AsyncSession], *, org_id: str, settings: CampaignSettings
) -> None:
    """Refuse a campaign that names a caller-ID pool its organization does not have: its every dial would
    end ``caller-id-unavailable``."""
    name = settings.caller_id_pool
    if name is None:
        return
    async with sessions() as session:
        pool = await caller_ids.get_pool(session, org_id, name)
    if pool is None:
        raise InvalidCampaignInputError(
            f"settings.caller_id_pool: your organization has no caller-ID pool named {name!r} "
            "(GET /v1/caller-id-pools, `ringflow numbers pool list`)"
        )


# ---- importing contacts ----------------------------------------------------------------------------


async def _check_size(contacts: ContactList, limits: ImportLimits) -> None:
    rows = await asyncio.to_thread(contacts.count)
    if rows > limits.max_rows:
        raise ImportTooLargeError(f"the list has {rows} rows; one import takes at most {limits.max_rows}")


async def _import(
    sessions: async_sessionmaker[AsyncSession],
    *,
    org_id: str,
    campaign_id: str,
    contacts: ContactList,
    import_batch: str,
    existing_external_ids: set[str],
) -> ImportResult:
    """Parse, check and write the list chunk by chunk: one thread step and one short transaction each.
    Numbers are held to the organization's number rules as they stand now."""
    async with sessions() as session:
        policy = await compliance.get_policy(session, org_id) or CallingPolicy()
    intake = ContactIntake(existing_external_ids=existing_external_ids, rules=policy.numbers)
    pending = chunks(contacts.contacts(intake), IMPORT_CHUNK)
    while (chunk := await asyncio.to_thread(next, pending, None)) is not None:
        async with sessions() as session:
            listed = await dnc.dnc_among(session, org_id, [contact.phone for contact in chunk])
            await bulk.insert_contacts(
                session, campaign_id, intake.refuse_listed(chunk, listed), import_batch=import_batch
            )
            await session.commit()
    async with sessions() as session:
        imported = await bulk.batch_size(session, campaign_id, import_batch)
    # An id another request added meanwhile is skipped by the store: ``imported`` counts what went in.
    return ImportResult.of(intake, imported=imported)


# ---- previewing ------------------------------------------------------------------------------------


class ContactsPreview:
    """A list previewed: its good contacts' first dials, chunk by chunk, and (once they are all out) the
    rejected rows. Nothing is written; only one chunk of the list is held at a time.

    Each contact is judged by :func:`workflows.scheduling.decide_dial`, the check every dial passes, as
    it would be if a campaign started at :attr:`now`: the organization's policy, its do-not-call list (a
    listed number is a rejected row, as in an import) and the number's dials in the last 7 days.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        org_id: str,
        settings: CampaignSettings,
        policy: CallingPolicy,
        contacts: ContactList,
        now: datetime,
    ) -> None:
        self.now = now
        self.result = ImportResult()
        """Filled once :meth:`chunks` is exhausted; ``imported`` counts the contacts an import would add."""
        self._sessions, self._org_id, self._window, self._policy = sessions, org_id, settings.window, policy
        self._contacts = contacts

    async def chunks(self) -> AsyncIterator[list[ContactPreview]]:
        intake = ContactIntake(rules=self._policy.numbers)
        pending = chunks(self._contacts.contacts(intake), IMPORT_CHUNK)
        while (chunk := await asyncio.to_thread(next, pending, None)) is not None:
            async with self._sessions() as session:
                listed = await dnc.dnc_among(session, self._org_id, [contact.phone for contact in chunk])
                kept = intake.refuse_listed(chunk, listed)
                since = self.now - compliance.CAP_LOOKBACK
                recent = await compliance.recent_dials(session, self._org_id, [c.phone for c in kept], since=since)
            yield [self._first_dial(contact, recent.get(contact.phone, [])) for contact in kept]
        self.result = ImportResult.of(intake, imported=intake.accepted)

    def _first_dial(self, contact: Contact, recent_attempts: list[datetime]) -> ContactPreview:
        facts = DialFacts(checked_at=self.now, recent_attempts=recent_attempts, policy=self._policy)
        decision = decide_dial(
            now=self.now,
            due=self.now,
            zones=contact.zones,
            region=contact.region,
            window=self._window,
            policy=self._policy,
            facts=facts,
        )
        first = {DialVerdict.DIAL: self.now, DialVerdict.WAIT: decision.not_before}.get(decision.verdict)
        return ContactPreview(
            external_id=contact.external_id,
            phone=contact.phone,
            zones=contact.zones,
            zone_confident=contact.zone_confident,
            region=contact.region,
            verdict=decision.verdict,
            first_dial_at=first.astimezone(UTC) if first is not None else None,
            reason=decision.reason,
            rule=decision.rule,
            local_times=decision.local_times,
        )


async def preview(
    sessions: async_sessionmaker[AsyncSession],
    *,
    org_id: str,
    settings: CampaignSettings,
    contacts: ContactList,
    limits: ImportLimits,
    now: datetime | None = None,
) -> ContactsPreview:
    """Preview a campaign of ``contacts`` under ``settings`` as of ``now`` (default: now; naive is UTC),
    creating nothing; see :class:`ContactsPreview`. A list too big to import is refused as an import is."""
    await _check_size(contacts, limits)
    async with sessions() as session:
        policy = await compliance.get_policy(session, org_id) or CallingPolicy()
    at = datetime.now(UTC) if now is None else now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    return ContactsPreview(sessions, org_id=org_id, settings=settings, policy=policy, contacts=contacts, now=at)


# ---- creating and starting -------------------------------------------------------------------------


async def create(
    client: Client | None,
    sessions: async_sessionmaker[AsyncSession],
    *,
    org_id: str,
    name: str,
    settings: CampaignSettings,
    contacts: ContactList,
    agent: AgentConfig | None,
    start: bool,
    deployment: Settings,
    limits: ImportLimits,
    allow_empty: bool = False,
    actor: str = audit.CLI_ACTOR,
) -> tuple[str, ImportResult]:
    """Store a campaign with the good rows of ``contacts``, then start its workflow unless a draft is wanted;
    returns its id and the import's result.

    ``agent`` is snapshotted into the workflow input at the start: editing or deleting the stored agent
    later does not change a campaign already started (a caller may hand in an edited copy, as a one-off
    call does with its context). A draft needs no ``client``: the CLI imports before it connects.
    The campaign is a draft while its contacts go in, so no workflow runs on
    half a list; a list without one good row (or without rows, unless ``allow_empty``) stores nothing.
    """
    await _check_size(contacts, limits)
    if start:
        refuse_if_undiallable(deployment, agent)
    await refuse_unknown_caller_id_pool(sessions, org_id=org_id, settings=settings)
    campaign_id = new_campaign_id()
    async with sessions() as session:
        await queries.create_campaign(
            session, campaign_id, name, settings, org_id=org_id, agent_name=agent.name if agent else None
        )
        await reports.mark_draft(session, campaign_id)
        await session.commit()
    try:
        result = await _import(
            sessions,
            org_id=org_id,
            campaign_id=campaign_id,
            contacts=contacts,
            import_batch=bulk.new_import_batch(),
            existing_external_ids=set(),
        )
        if result.imported == 0 and (result.rejected or not allow_empty):
            raise NothingToImportError(result)
    except BaseException:
        async with sessions() as session:
            await bulk.discard_campaign(session, campaign_id)
            await session.commit()
        raise
    details = {"name": name, "imported": result.imported, "rejected": result.rejected, "started": start}
    await audit.record_done(
        sessions, org_id=org_id, actor=actor, action="campaign.create", target=campaign_id, details=details
    )
    if start:
        assert client is not None, "starting a campaign needs a Temporal client"
        await _start_draft(client, sessions, campaign_id=campaign_id, agent=agent, task_queue=deployment.task_queue)
    return campaign_id, result


async def start(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    *,
    org_id: str,
    campaign_id: str,
    deployment: Settings,
    actor: str = audit.CLI_ACTOR,
) -> None:
    """Start a draft: its agent is snapshotted now, from the stored agent."""
    async with sessions() as session:
        row = await owned_campaign(session, org_id=org_id, campaign_id=campaign_id)
        if row.status != CAMPAIGN_DRAFT:
            raise CampaignStateError(f"campaign {campaign_id!r} has already been started (it is {row.status})")
        agent = await active_agent(session, org_id=org_id, agent_name=row.agent_name)
    refuse_if_undiallable(deployment, agent)
    await refuse_unknown_caller_id_pool(sessions, org_id=row.org_id, settings=row.campaign_settings)
    await _start_draft(client, sessions, campaign_id=campaign_id, agent=agent, task_queue=deployment.task_queue)
    await audit.record_done(sessions, org_id=row.org_id, actor=actor, action="campaign.start", target=campaign_id)


async def _start_draft(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    *,
    campaign_id: str,
    agent: AgentConfig | None,
    task_queue: str,
) -> None:
    """Claim the draft (``draft`` -> ``running``: a second start finds it taken) and start its workflow; a
    workflow that cannot be started leaves the draft to start again later."""
    async with sessions() as session:
        if not await reports.move_status(session, campaign_id, CAMPAIGN_DRAFT, CampaignStatus.RUNNING.value):
            raise CampaignStateError(f"campaign {campaign_id!r} has already been started")
        await session.commit()
        row = await owned_campaign(session, org_id=None, campaign_id=campaign_id)
        count = await queries.count_contacts(session, campaign_id)
        name, settings, org_id = row.name, row.campaign_settings, row.org_id
        policy = await compliance.get_policy(session, org_id) or CallingPolicy()
    try:
        await client.start_workflow(
            CampaignWorkflow.run,
            CampaignWorkflowInput(
                campaign_id=campaign_id, settings=settings, agent=agent, org_id=org_id, policy=policy
            ),
            id=campaign_workflow_id(campaign_id),
            task_queue=task_queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(CAMPAIGN_ID, campaign_id)]),
            static_summary=f"campaign {name}: {count} contact(s)" + (f", agent {agent.name}" if agent else ""),
        )
    except BaseException:
        async with sessions() as session:
            await reports.move_status(session, campaign_id, CampaignStatus.RUNNING.value, CAMPAIGN_DRAFT)
            await session.commit()
        raise


# ---- adding contacts -------------------------------------------------------------------------------


async def add_contacts(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    *,
    org_id: str | None,
    campaign_id: str,
    contacts: ContactList,
    limits: ImportLimits,
) -> ImportResult:
    """Add contacts to a draft, or to a running (or paused) campaign, which then calls them.

    The rows go to the store first (status pending, one import batch); a started campaign then gets a
    ``contacts_added`` update with their count and claims them. If it refuses (it is ending) or its
    workflow has closed, the batch's rows are deleted and :class:`CampaignEndedError` says so.
    """
    async with sessions() as session:
        row = await owned_campaign(session, org_id=org_id, campaign_id=campaign_id)
        status, owner = row.status, row.org_id
        ended = CampaignEndedError(f"campaign {campaign_id!r} has ended; contacts can no longer be added")
        if status in ENDED:
            raise ended
        existing = await bulk.external_ids(session, campaign_id)
    await _check_size(contacts, limits)
    batch = bulk.new_import_batch()
    try:
        result = await _import(
            sessions,
            org_id=owner,
            campaign_id=campaign_id,
            contacts=contacts,
            import_batch=batch,
            existing_external_ids=existing,
        )
        if result.imported == 0:
            raise NothingToImportError(result)
        if status != CAMPAIGN_DRAFT:
            await campaign_handle(client, campaign_id).execute_update(
                CampaignWorkflow.contacts_added, ContactsAdded(count=result.imported)
            )
    except WorkflowUpdateFailedError as err:
        await _discard_batch(sessions, campaign_id, batch)
        raise CampaignEndedError(f"campaign {campaign_id!r}: {err.cause or err}") from None
    except RPCError as err:
        await _discard_batch(sessions, campaign_id, batch)
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ended from None
        raise
    except BaseException:
        await _discard_batch(sessions, campaign_id, batch)
        raise
    return result


async def _discard_batch(sessions: async_sessionmaker[AsyncSession], campaign_id: str, batch: str) -> None:
    async with sessions() as session:
        await bulk.delete_batch(session, campaign_id, batch)
        await session.commit()


# ---- steering ---------------------------------------------------------------------------------------


def campaign_handle(client: Client, campaign_id: str) -> WorkflowHandle[CampaignWorkflow, CampaignResult]:
    return client.get_workflow_handle_for(CampaignWorkflow.run, campaign_workflow_id(campaign_id))


async def _started(
    client: Client, sessions: async_sessionmaker[AsyncSession], org_id: str | None, campaign_id: str
) -> str:
    """Refuse a draft (it has no workflow to steer yet) and a campaign that has ended; the campaign's
    organization otherwise."""
    async with sessions() as session:
        row = await owned_campaign(session, org_id=org_id, campaign_id=campaign_id)
    if row.status == CAMPAIGN_DRAFT:
        raise CampaignStateError(f"campaign {campaign_id!r} is a draft: start it first")
    await _refuse_ended(client, campaign_id, row.status)
    return row.org_id


async def _refuse_ended(client: Client, campaign_id: str, stored_status: str) -> None:
    """:class:`CampaignEndedError` if the campaign has ended, by the store's word or its workflow's.

    The workflow writes its final status to the store as the last thing it does, after it has decided
    it (and after sweeping the carrier): meanwhile it still runs, so Temporal takes a signal that it
    would then ignore, while its progress (which the API's views show) already says it has ended. So
    a campaign the store still calls running is asked too; if its workflow cannot answer within
    :data:`STEER_CHECK_TIMEOUT` (no worker), the store's word stands and the signal is sent, to be handled
    once a worker runs the workflow. A signal can still cross the workflow's last step (a signal has
    no validator); only the few milliseconds between the two remain.
    """
    ended = CampaignEndedError(f"campaign {campaign_id!r} has already ended")
    if stored_status in ENDED:
        raise ended
    try:
        async with asyncio.timeout(STEER_CHECK_TIMEOUT.total_seconds()):
            live = await in_flight(client, campaign_id)
    except (CampaignNotFoundError, RPCError, WorkflowFailureError, TimeoutError):
        return
    if live.status.value in ENDED:
        raise ended


async def _signal(client: Client, campaign_id: str, signal: Callable[..., None], *args: ReasonInput) -> None:
    try:
        await campaign_handle(client, campaign_id).signal(signal, *args)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            if "completed" in err.message or "closed" in err.message:
                raise CampaignEndedError(f"campaign {campaign_id!r} has already ended") from None
            raise CampaignStateError(f"campaign {campaign_id!r} has no running workflow") from None
        raise


async def pause(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    *,
    org_id: str | None,
    campaign_id: str,
    actor: str = audit.CLI_ACTOR,
) -> None:
    """Stop new dials within seconds; calls in progress finish normally. The workflow records the status."""
    owner = await _started(client, sessions, org_id, campaign_id)
    await _signal(client, campaign_id, CampaignWorkflow.pause)
    await audit.record_done(sessions, org_id=owner, actor=actor, action="campaign.pause", target=campaign_id)


async def resume(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    *,
    org_id: str | None,
    campaign_id: str,
    actor: str = audit.CLI_ACTOR,
) -> None:
    """Dial again after a pause. The workflow records the status."""
    owner = await _started(client, sessions, org_id, campaign_id)
    await _signal(client, campaign_id, CampaignWorkflow.resume)
    await audit.record_done(sessions, org_id=owner, actor=actor, action="campaign.resume", target=campaign_id)


async def cancel(
    client: Client | None,
    sessions: async_sessionmaker[AsyncSession],
    *,
    org_id: str | None,
    campaign_id: str,
    reason: str = "",
    actor: str = audit.CLI_ACTOR,
) -> None:
    """End the campaign: waiting contacts end as cancelled, calls in progress finish first (the workflow
    records it). A draft, which has no workflow, is cancelled in the store at once."""
    details = {"reason": reason} if reason else {}
    async with sessions() as session:
        row = await owned_campaign(session, org_id=org_id, campaign_id=campaign_id)
        if row.status in ENDED:
            raise CampaignEndedError(f"campaign {campaign_id!r} has already ended")
        if row.status == CAMPAIGN_DRAFT:
            if not await reports.move_status(session, campaign_id, CAMPAIGN_DRAFT, CampaignStatus.CANCELLED.value):
                raise CampaignStateError(f"campaign {campaign_id!r} was started meanwhile: cancel it again")
            await queries.cancel_undispatched(session, campaign_id)
            await audit.record(
                session, org_id=row.org_id, actor=actor, action="campaign.cancel", target=campaign_id, details=details
            )
            await session.commit()
            return
    assert client is not None, "only a draft is cancelled without a Temporal client"
    await _refuse_ended(client, campaign_id, row.status)
    await _signal(client, campaign_id, CampaignWorkflow.cancel, ReasonInput(reason=reason))
    await audit.record_done(
        sessions, org_id=row.org_id, actor=actor, action="campaign.cancel", target=campaign_id, details=details
    )


async def progress(client: Client, sessions: async_sessionmaker[AsyncSession], campaign_id: str) -> CampaignOverview:
    """The campaign's in-flight view (its workflow's) beside its outcomes and dials (the store's)."""
    flight, stored = await asyncio.gather(in_flight(client, campaign_id), store_counts(sessions, campaign_id))
    return CampaignOverview(campaign_id=campaign_id, workflow=flight, store=stored)


async def in_flight(client: Client, campaign_id: str) -> CampaignProgress:
    """What the campaign workflow has in flight; from its result once it has completed, so no worker is
    needed then."""
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


async def store_counts(sessions: async_sessionmaker[AsyncSession], campaign_id: str) -> StoreCounts:
    """The campaign's contacts, final outcomes and dials, as the store has them."""
    async with sessions() as session:
        outcomes = await queries.outcome_counts(session, campaign_id)
        calls = await queries.call_outcome_counts(session, campaign_id)
        return StoreCounts(
            contacts=await queries.count_contacts(session, campaign_id),
            finished=sum(outcomes.values()),
            outcomes=outcomes,
            dials=sum(calls.values()),
            call_outcomes=calls,
            dialling=await queries.dialling_count(session, campaign_id),
        )
