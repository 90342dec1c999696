"""Activities that persist campaign and contact state. Each is an idempotent write."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from infra.webhooks import WebhookOutbox
from schemas.activity_io import (
    ActivityName,
    CallbackRecord,
    CallOutcomeRecord,
    CampaignStatusUpdate,
    CancelCampaignContacts,
    ClaimedContacts,
    ClaimRequest,
    DialCheck,
    DialCheckResult,
    DialDecisionRecord,
    InformationRecord,
    NoteRecord,
    OptOut,
    OutcomeRecord,
    ReconcileRequest,
    Reconciliation,
    TranscriptRecord,
)
from schemas.compliance import DialFacts
from schemas.dispositions import DispositionRecord
from schemas.outcomes import FinalOutcome
from schemas.workflow_io import ReasonInput, contact_workflow_id
from store import compliance, dnc, queries, webhooks
from store.models import CampaignRow
from workflows.contact import ContactWorkflow

T = TypeVar("T")

# Workflows asked about at once while reconciling.
DESCRIBE_BATCH = 50
# A contact workflow closed this way ended without deciding an outcome: someone stopped it on purpose.
_STOPPED_BY_HAND = {
    WorkflowExecutionStatus.TERMINATED: "contact workflow terminated",
    WorkflowExecutionStatus.CANCELED: "contact workflow cancelled",
}
# Closed this way it may be started again: nobody meant it to stop (a started-again contact finds
# its earlier attempts in the store by their keys, so nobody is rung twice for one attempt).
_RESTARTABLE = {None, WorkflowExecutionStatus.FAILED, WorkflowExecutionStatus.TIMED_OUT}


class StoreActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: Client | None = None,
        outbox: WebhookOutbox | None = None,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._outbox = outbox

    async def _write(self, query: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run one store query in its own transaction and commit it."""
        async with self._sessions() as session:
            result = await query(session, *args)
            await session.commit()
        return result

    @activity.defn(name=ActivityName.CLAIM_CONTACTS)
    async def claim_contacts(self, request: ClaimRequest) -> ClaimedContacts:
        """Claim a page under ``request.claim_key``: retried after its commit, it returns the same page."""
        async with self._sessions() as session:
            page = await queries.claim_next_contacts(session, request.campaign_id, request.limit, request.claim_key)
            total = await queries.count_contacts(session, request.campaign_id)
            await session.commit()
        return ClaimedContacts(contacts=page.contacts, remaining=page.remaining, total=total)

    @activity.defn(name=ActivityName.CHECK_DIAL)
    async def check_dial(self, request: DialCheck) -> DialCheckResult:
        """Read the do-not-call list, the number's recent dials and the organization's policy, at this moment;
        and the contact itself for a workflow that has only its reference."""
        async with self._sessions() as session:
            contact = None
            phone = request.phone
            if phone is None:
                contact = await queries.load_contact(session, request.campaign_id, request.external_id)
                if contact is None:
                    return DialCheckResult(facts=DialFacts(checked_at=request.now))
                phone = contact.phone
            facts = await compliance.dial_facts(session, org_id=request.org_id, phone=phone, now=request.now)
        return DialCheckResult(facts=facts, contact=contact)

    @activity.defn(name=ActivityName.RECORD_DIAL_DECISION)
    async def record_dial_decision(self, record: DialDecisionRecord) -> None:
        async with self._sessions() as session:
            await compliance.record_decision(
                session,
                key=record.idempotency_key,
                org_id=record.org_id,
                campaign_id=record.campaign_id,
                external_id=record.external_id,
                decision=record.decision,
            )
            await session.commit()

    @activity.defn(name=ActivityName.LIST_DO_NOT_CALL)
    async def list_do_not_call(self, opt_out: OptOut) -> None:
        """The person said never to call again: list the number for the whole organization (idempotent)."""
        async with self._sessions() as session:
            await dnc.add_to_dnc(
                session,
                opt_out.org_id,
                opt_out.phone,
                opt_out.reason or "asked on the call",
                source=dnc.SOURCE_AGENT,
                source_ref=opt_out.call_ref,
            )
            await session.commit()

    @activity.defn(name=ActivityName.RECORD_CALLBACK)
    async def record_callback(self, record: CallbackRecord) -> None:
        await self._write(
            queries.record_callback,
            record.campaign_id,
            record.external_id,
            record.requested_for,
            record.scheduled_for,
            record.reason,
        )

    @activity.defn(name=ActivityName.RECORD_OUTCOME)
    async def record_outcome(self, record: OutcomeRecord) -> None:
        await self._finish_contact(record.campaign_id, record.external_id, record.final_outcome, record.reason)

    async def _finish_contact(self, campaign_id: str, external_id: str, outcome: FinalOutcome, reason: str) -> None:
        """The contact's final outcome, and its ``contact.finished`` event in the same transaction (outbox)."""
        async with self._sessions() as session:
            await queries.record_outcome(session, campaign_id, external_id, outcome, reason)
            queued = await webhooks.contact_finished_event(session, campaign_id, external_id) if self._outbox else []
            await session.commit()
        if self._outbox:
            await self._outbox.dispatch(queued)

    @activity.defn(name=ActivityName.RECORD_DISPOSITION)
    async def record_disposition(self, record: DispositionRecord) -> None:
        """The agent's disposition on its attempt's row (the workflow keeps it too, and decides from it)."""
        if not await self._write(
            queries.record_attempt_disposition, record.idempotency_key, record.disposition, record.reason
        ):
            activity.logger.warning(
                "no attempt %s to record disposition %s on", record.idempotency_key, record.disposition
            )

    @activity.defn(name=ActivityName.RECORD_CALL_OUTCOME)
    async def record_call_outcome(self, record: CallOutcomeRecord) -> None:
        await self._write(queries.record_call_outcome, record.idempotency_key, record.outcome)

    @activity.defn(name=ActivityName.RECORD_NOTE)
    async def record_note(self, record: NoteRecord) -> None:
        await self._write(
            queries.record_note,
            record.idempotency_key,
            record.campaign_id,
            record.external_id,
            record.attempt,
            record.note,
        )

    @activity.defn(name=ActivityName.RECORD_INFORMATION)
    async def record_information(self, record: InformationRecord) -> None:
        await self._write(
            queries.record_information,
            record.idempotency_key,
            record.campaign_id,
            record.external_id,
            record.attempt,
            record.category,
            record.information,
        )

    @activity.defn(name=ActivityName.RECORD_TRANSCRIPT)
    async def record_transcript(self, record: TranscriptRecord) -> None:
        await self._write(
            queries.append_transcript,
            record.campaign_id,
            record.external_id,
            record.attempt,
            record.first_seq,
            record.segments,
        )

    @activity.defn(name=ActivityName.SET_CAMPAIGN_STATUS)
    async def set_campaign_status(self, update: CampaignStatusUpdate) -> None:
        """The campaign's status, and its ``campaign.*`` event in the same transaction (outbox)."""
        async with self._sessions() as session:
            before = await session.scalar(select(CampaignRow.status).where(CampaignRow.id == update.campaign_id))
            await queries.set_campaign_status(
                session,
                update.campaign_id,
                update.status,
                pause_reason=update.pause_reason,
                tripped_by=update.tripped_by,
            )
            queued = (
                await webhooks.campaign_status_event(
                    session, update.campaign_id, before, update.status, tripped=bool(update.pause_reason)
                )
                if self._outbox
                else []
            )
            await session.commit()
        if self._outbox:
            await self._outbox.dispatch(queued)

    @activity.defn(name=ActivityName.CANCEL_CAMPAIGN_CONTACTS)
    async def cancel_campaign_contacts(self, request: CancelCampaignContacts) -> int:
        """Cancel contacts never started (in the store) and signal every started one still running."""
        client = self._temporal()
        async with self._sessions() as session:
            await queries.cancel_undispatched(session, request.campaign_id)
            running = await queries.unfinished_dispatched_external_ids(session, request.campaign_id)
            await session.commit()
        signalled = 0
        for index, external_id in enumerate(running):
            handle = client.get_workflow_handle_for(
                ContactWorkflow.run, contact_workflow_id(request.campaign_id, external_id)
            )
            try:
                await handle.signal(ContactWorkflow.cancel, ReasonInput(reason=request.reason))
                signalled += 1
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
            if index % 50 == 0:
                activity.heartbeat(index)
        return signalled

    @activity.defn(name=ActivityName.RECONCILE_CONTACTS)
    async def reconcile_contacts(self, request: ReconcileRequest) -> Reconciliation:
        """Find the campaign's claimed contacts that have no final outcome and no running workflow.

        Asks Temporal about each (describe is exact, where visibility lags). A workflow never started,
        failed or timed out is handed back to be started; one terminated or cancelled by hand (or any
        without a workflow while the campaign is cancelling) gets the final outcome ``cancelled`` here,
        so the campaign's count of unfinished contacts is right again. The campaign asks before completing,
        about queued contacts it could not reach, and hourly while it waits only for parked contacts
        (``request.parked``): a parked contact terminated by hand never signals again.
        """
        client = self._temporal()
        async with self._sessions() as session:
            pending = 0 if request.cancelling else await queries.count_pending(session, request.campaign_id)
            unfinished = await queries.claimed_unfinished_contacts(session, request.campaign_id)
        if request.external_ids is not None:
            wanted = set(request.external_ids)
            unfinished = [contact for contact in unfinished if contact.external_id in wanted]
        found = Reconciliation(pending=pending)
        for first in range(0, len(unfinished), DESCRIBE_BATCH):
            batch = unfinished[first : first + DESCRIBE_BATCH]
            statuses = await asyncio.gather(
                *(_workflow_status(client, request.campaign_id, contact.external_id) for contact in batch)
            )
            for contact, status in zip(batch, statuses, strict=True):
                if status == WorkflowExecutionStatus.RUNNING:
                    found.running.append(contact.external_id)
                elif status in _STOPPED_BY_HAND or (request.cancelling and status in _RESTARTABLE):
                    reason = _STOPPED_BY_HAND.get(status, "campaign cancelled") if status else "campaign cancelled"
                    await self._finish_contact(request.campaign_id, contact.external_id, FinalOutcome.CANCELLED, reason)
                    found.closed.append(contact.external_id)
                elif status in _RESTARTABLE:
                    if len(found.to_start) < request.limit:
                        found.to_start.append(contact)
                    else:
                        found.more = True
                else:  # completed a moment ago: its outcome landed after the read above
                    activity.logger.info("contact %s completed while reconciling", contact.external_id)
            activity.heartbeat(first)
        expected = request.parked and not (found.pending or found.to_start or found.closed or found.more)
        if not found.settled and not expected:
            activity.logger.warning(
                "campaign %s reconciled: %d pending, %d to start, %d running, %d closed by hand",
                request.campaign_id,
                found.pending,
                len(found.to_start),
                len(found.running),
                len(found.closed),
            )
        return found

    def _temporal(self) -> Client:
        if self._client is None:
            raise RuntimeError("this activity needs a Temporal client")
        return self._client


async def _workflow_status(client: Client, campaign_id: str, external_id: str) -> WorkflowExecutionStatus | None:
    """The status of the contact's latest workflow run, or None if it never had one."""
    handle = client.get_workflow_handle_for(ContactWorkflow.run, contact_workflow_id(campaign_id, external_id))
    try:
        return (await handle.describe()).status
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
