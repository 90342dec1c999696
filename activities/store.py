"""Activities that persist campaign and contact state. Each is an idempotent write."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from schemas.activity_io import (
    ActivityName,
    AddCampaignContacts,
    CallbackRecord,
    CampaignStatusUpdate,
    CancelCampaignContacts,
    ClaimedContacts,
    ClaimRequest,
    InformationRecord,
    NoteRecord,
    OutcomeRecord,
    TranscriptRecord,
)
from schemas.workflow_io import AddContactsResult, ReasonInput, contact_workflow_id
from store import queries

T = TypeVar("T")


class StoreActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: Client | None = None) -> None:
        self._sessions = sessions
        self._client = client

    async def _write(self, query: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run one store query in its own transaction and commit it."""
        async with self._sessions() as session:
            result = await query(session, *args)
            await session.commit()
        return result

    @activity.defn(name=ActivityName.CLAIM_CONTACTS)
    async def claim_contacts(self, request: ClaimRequest) -> ClaimedContacts:
        async with self._sessions() as session:
            page = await queries.claim_next_contacts(session, request.campaign_id, request.limit)
            total = await queries.count_contacts(session, request.campaign_id)
            await session.commit()
        return ClaimedContacts(contacts=page.contacts, remaining=page.remaining, total=total)

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
        await self._write(
            queries.record_outcome,
            record.campaign_id,
            record.external_id,
            record.final_outcome,
            record.reason,
            record.attempts,
        )

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

    @activity.defn(name=ActivityName.ADD_CAMPAIGN_CONTACTS)
    async def add_campaign_contacts(self, request: AddCampaignContacts) -> AddContactsResult:
        return await self._write(queries.add_contacts, request.campaign_id, request.contacts)

    @activity.defn(name=ActivityName.SET_CAMPAIGN_STATUS)
    async def set_campaign_status(self, update: CampaignStatusUpdate) -> None:
        await self._write(queries.set_campaign_status, update.campaign_id, update.status)

    @activity.defn(name=ActivityName.CANCEL_CAMPAIGN_CONTACTS)
    async def cancel_campaign_contacts(self, request: CancelCampaignContacts) -> int:
        """Cancel contacts never started (in the store) and signal every started one still running."""
        if self._client is None:
            raise RuntimeError("cancel_campaign_contacts needs a Temporal client")
        async with self._sessions() as session:
            await queries.cancel_undispatched(session, request.campaign_id)
            running = await queries.unfinished_dispatched_external_ids(session, request.campaign_id)
            await session.commit()
        signalled = 0
        for index, external_id in enumerate(running):
            handle = self._client.get_workflow_handle(contact_workflow_id(request.campaign_id, external_id))
            try:
                await handle.signal("cancel", ReasonInput(reason=request.reason))
                signalled += 1
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
            if index % 50 == 0:
                activity.heartbeat(index)
        return signalled
