"""Activities that persist campaign and contact state. Each is an idempotent write."""

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


class StoreActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: Client | None = None) -> None:
        self._sessions = sessions
        self._client = client

    @activity.defn(name=ActivityName.CLAIM_CONTACTS)
    async def claim_contacts(self, request: ClaimRequest) -> ClaimedContacts:
        async with self._sessions() as session:
            page = await queries.claim_next_contacts(session, request.campaign_id, request.limit)
            total = await queries.count_contacts(session, request.campaign_id)
            await session.commit()
        return ClaimedContacts(contacts=page.contacts, remaining=page.remaining, total=total)

    @activity.defn(name=ActivityName.RECORD_CALLBACK)
    async def record_callback(self, record: CallbackRecord) -> None:
        async with self._sessions() as session:
            await queries.record_callback(
                session,
                record.campaign_id,
                record.external_id,
                record.requested_for,
                record.scheduled_for,
                record.reason,
            )
            await session.commit()

    @activity.defn(name=ActivityName.RECORD_OUTCOME)
    async def record_outcome(self, record: OutcomeRecord) -> None:
        async with self._sessions() as session:
            await queries.record_outcome(
                session, record.campaign_id, record.external_id, record.final_outcome, record.reason, record.attempts
            )
            await session.commit()

    @activity.defn(name=ActivityName.RECORD_NOTE)
    async def record_note(self, record: NoteRecord) -> None:
        async with self._sessions() as session:
            await queries.record_note(
                session, record.idempotency_key, record.campaign_id, record.external_id, record.attempt, record.note
            )
            await session.commit()

    @activity.defn(name=ActivityName.RECORD_INFORMATION)
    async def record_information(self, record: InformationRecord) -> None:
        async with self._sessions() as session:
            await queries.record_information(
                session,
                record.idempotency_key,
                record.campaign_id,
                record.external_id,
                record.attempt,
                record.category,
                record.information,
            )
            await session.commit()

    @activity.defn(name=ActivityName.RECORD_TRANSCRIPT)
    async def record_transcript(self, record: TranscriptRecord) -> None:
        async with self._sessions() as session:
            await queries.append_transcript(
                session, record.campaign_id, record.external_id, record.attempt, record.first_seq, record.segments
            )
            await session.commit()

    @activity.defn(name=ActivityName.ADD_CAMPAIGN_CONTACTS)
    async def add_campaign_contacts(self, request: AddCampaignContacts) -> AddContactsResult:
        async with self._sessions() as session:
            result = await queries.add_contacts(session, request.campaign_id, request.contacts)
            await session.commit()
        return result

    @activity.defn(name=ActivityName.SET_CAMPAIGN_STATUS)
    async def set_campaign_status(self, update: CampaignStatusUpdate) -> None:
        async with self._sessions() as session:
            await queries.set_campaign_status(session, update.campaign_id, update.status)
            await session.commit()

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
