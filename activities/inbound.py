"""Activities of inbound calls: the call's LiveKit room, its store records, and a callback's ContactWorkflow."""

from datetime import time as clock_time
from datetime import timedelta

import aiohttp
from livekit import api
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from infra.webhooks import WebhookOutbox
from schemas.calls import DialRequest
from schemas.campaign import ALL_WEEKDAYS, CallingWindow, CampaignSettings
from schemas.compliance import CallingPolicy
from schemas.inbound import (
    INBOUND_CALLBACK_HORIZON,
    INBOUND_CAMPAIGN_ID,
    CallKind,
    InboundActivityName,
    InboundCallbackRequest,
    InboundCallbackStarted,
    InboundCallEnd,
    InboundCallRecord,
    PreparedCall,
    PrepareRoomRequest,
    RoomToDelete,
)
from schemas.settings import Settings
from schemas.workflow_io import CallbackConfirmation, ContactWorkflowInput, contact_workflow_id
from store import capacity, compliance, numbers, webhooks
from telephony.livekit_sip import create_call_room, delete_room
from telephony.twilio_voice import livekit_sip_uri

ALL_DAY = CallingWindow(start=clock_time(0), end=clock_time(0), weekdays=frozenset(ALL_WEEKDAYS))
ROOM_EMPTY_TIMEOUT_SECONDS = 120


def callback_settings() -> CampaignSettings:
    """An inbound caller's callback: any hour of any day the organization's calling policy allows (the
    contact workflow checks it before every dial), within the inbound horizon."""
    return CampaignSettings(window=ALL_DAY, max_concurrent_calls=1, callback_horizon=INBOUND_CALLBACK_HORIZON)


class InboundActivities:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        client: Client | None,
        outbox: WebhookOutbox | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._client = client
        self._outbox = outbox

    def _livekit(self) -> api.LiveKitAPI:
        """A client for one activity (``async with``): no HTTP session outlives the activity that used it."""
        settings = self._settings
        if not settings.livekit_configured:
            raise RuntimeError("LiveKit is not configured: set livekit_url, livekit_api_key, livekit_api_secret")
        return api.LiveKitAPI(
            settings.livekit_url,
            settings.livekit_api_key,
            settings.livekit_api_secret,
            timeout=aiohttp.ClientTimeout(total=10),
        )

    @activity.defn(name=InboundActivityName.PREPARE_ROOM)
    async def prepare_inbound_room(self, request: PrepareRoomRequest) -> PreparedCall:
        """Create the call's room (named after the workflow id, so a retry finds the same one) with the agent; a phone
        call's with the SIP URI Twilio bridges the caller to, a web call's without (the browser joins the room)."""
        host = self._settings.livekit_sip_uri_host
        if not host and request.kind == CallKind.PHONE:
            raise RuntimeError("livekit_sip_uri_host is not configured")
        dial = DialRequest(
            idempotency_key=request.workflow_id,
            campaign_id=INBOUND_CAMPAIGN_ID,
            contact=request.contact,
            attempt=1,
            calls_per_second=1.0,
            workflow_id=request.workflow_id,
            agent=request.agent,
            context=request.context,
        )
        async with self._livekit() as lk:
            room = await create_call_room(
                lk,
                dial,
                agent_name=self._settings.agent_name,
                empty_timeout=timedelta(seconds=ROOM_EMPTY_TIMEOUT_SECONDS),
            )
        if request.kind != CallKind.PHONE:
            return PreparedCall(room=room)
        return PreparedCall(room=room, sip_uri=livekit_sip_uri(room, host))

    @activity.defn(name=InboundActivityName.DELETE_ROOM)
    async def delete_inbound_room(self, request: RoomToDelete) -> None:
        async with self._livekit() as lk:
            await delete_room(lk, request.room)

    @activity.defn(name=InboundActivityName.RECORD_CALL)
    async def record_inbound_call(self, record: InboundCallRecord) -> None:
        async with self._sessions() as session:
            await numbers.record_inbound_call(
                session,
                record.call_sid,
                record.to_number,
                record.from_number,
                record.agent_name,
                record.status,
                kind=record.kind,
                org_id=record.org_id,
            )
            await session.commit()

    @activity.defn(name=InboundActivityName.FINISH_CALL)
    async def finish_inbound_call(self, end: InboundCallEnd) -> None:
        async with self._sessions() as session:
            await numbers.finish_inbound_call(
                session,
                end.call_sid,
                end.status,
                end.duration_seconds,
                outcome=end.outcome.value if end.outcome else None,
                disposition=end.disposition,
            )
            await capacity.release_line(session, end.call_sid)  # the line the incoming-call webhook took
            queued = await webhooks.inbound_call_ended_event(session, end.call_sid) if self._outbox else []
            await session.commit()
        if self._outbox:  # call.ended, recorded with the call's end (outbox)
            await self._outbox.dispatch(queued)

    async def _policy_of(self, org_id: str | None) -> CallingPolicy:
        if org_id is None:
            return CallingPolicy()
        async with self._sessions() as session:
            return await compliance.get_policy(session, org_id) or CallingPolicy()

    @activity.defn(name=InboundActivityName.START_CALLBACK)
    async def start_inbound_callback(self, request: InboundCallbackRequest) -> InboundCallbackStarted:
        """Start the caller's ContactWorkflow with the callback booked in its first task (update-with-start).

        The contact workflow books it like any callback (and records it with ``record_callback``); it
        dials nobody before then. A repeat of this activity reuses the running workflow.
        """
        if self._client is None:
            raise RuntimeError("start_inbound_callback needs a Temporal client")
        from workflows.contact import ContactWorkflow

        workflow_id = contact_workflow_id(INBOUND_CAMPAIGN_ID, request.contact.external_id)
        operation = WithStartWorkflowOperation(
            ContactWorkflow.run,
            ContactWorkflowInput(
                campaign_id=INBOUND_CAMPAIGN_ID,
                contact=request.contact,
                settings=callback_settings(),
                campaign_workflow_id=None,
                slot_granted=False,
                agent=request.agent,
                org_id=request.org_id,
                policy=await self._policy_of(request.org_id),
            ),
            id=workflow_id,
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        confirmation: CallbackConfirmation = await self._client.execute_update_with_start_workflow(
            ContactWorkflow.schedule_callback, request.callback, start_workflow_operation=operation
        )
        return InboundCallbackStarted(workflow_id=workflow_id, scheduled_for=confirmation.scheduled_for)
