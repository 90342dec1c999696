"""InboundCallWorkflow: one incoming phone call to a number bound to an agent (id ``inbound-<CallSid>``).

The webhook starts it with update-with-start: ``prepare`` creates the call's LiveKit room with the
agent dispatched into it and answers the SIP URI Twilio bridges the caller to. The run then waits
for Twilio's final call status (or the longest a call may last), records the end and closes the room.
The agent's tools work on it as on a ContactWorkflow (same update/signal/query names), stored under
campaign ``inbound`` with the CallSid as external id.

The dashboard's calls to an agent are runs of it too, of another ``kind`` (schemas/inbound.py ``CallKind``): a
web call (``web``) gets its room and dispatch from the same ``prepare`` without a SIP URI, the browser joining the
room; a text chat (``test``) gets no room, its agent running in the API's process. Either ends with a
``completed`` status from the API, and records its tools, notes and disposition exactly as a phone call does.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from schemas.calls import CallbackRequest
    from schemas.contact import Contact
    from schemas.inbound import (
        FINAL_CALL_STATUSES,
        INBOUND_CALLBACK_HORIZON,
        INBOUND_CAMPAIGN_ID,
        MAX_INBOUND_CALL_LENGTH,
        NO_END_REPORTED,
        CallKind,
        CallStatusUpdate,
        InboundActivityName,
        InboundCallbackRequest,
        InboundCallbackStarted,
        InboundCallEnd,
        InboundCallInput,
        InboundCallRecord,
        InboundCallState,
        PreparedCall,
        PrepareRoomRequest,
        RoomToDelete,
    )
    from schemas.outcomes import FinalOutcome
    from schemas.recordings import CollectRecordings
    from schemas.workflow_io import CallbackConfirmation
    from workflows.call_records import STORE_RETRY, CallRecordsMixin
    from workflows.recordings import start_collecting

ROOM_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3)
CLEANUP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
# Runs begun before it prepared the room in an activity of its own (an ActivityTaskScheduled in their history).
ROOM_IN_ONE_TASK_PATCH = "inbound-room-in-one-task"


@workflow.defn
class InboundCallWorkflow(CallRecordsMixin):
    @workflow.init
    def __init__(self, input: InboundCallInput) -> None:
        self._input = input
        self._state = InboundCallState(call_sid=input.call_sid)
        self._prepared: PreparedCall | None = None
        self._preparing = False
        self._prepare_failed = False
        self._final: CallStatusUpdate | None = None
        self._callback_pending = False
        self._answered_at = workflow.now()
        self._contact = Contact(external_id=input.call_sid, phone=input.from_number, name="")
        self._init_call_records(
            INBOUND_CAMPAIGN_ID,
            input.call_sid,
            input.agent,
            input.agent.context,
            org_id=input.org_id,
            phone=self._contact.phone,
        )

    @workflow.run
    async def run(self, input: InboundCallInput) -> InboundCallState:
        try:
            await workflow.wait_condition(
                lambda: self._final is not None or self._prepare_failed, timeout=MAX_INBOUND_CALL_LENGTH
            )
        except TimeoutError:
            # Not validated as Twilio's statuses are: this one is the workflow's own (Twilio sends no such status).
            self._final = CallStatusUpdate.model_construct(status=NO_END_REPORTED, duration_seconds=None)
        final = self._final or CallStatusUpdate(status="failed")
        await self._transfers_settled()
        await workflow.wait_condition(lambda: not self._preparing and not self._callback_pending)
        self._state.status = final.status
        self._state.duration_seconds = final.duration_seconds
        if input.kind != CallKind.PHONE and final.duration_seconds is None and self._prepared is not None:
            # No carrier times a dashboard call: it lasted from its preparation to its end, on workflow time.
            self._state.duration_seconds = (workflow.now() - self._answered_at).total_seconds()
        self._state.disposition, self._state.outcome = self._came_to(final.status)
        await self._sync_state()
        await workflow.execute_local_activity(
            InboundActivityName.FINISH_CALL,
            InboundCallEnd(
                call_sid=input.call_sid,
                status=final.status,
                duration_seconds=final.duration_seconds,
                outcome=self._state.outcome,
                disposition=self._state.disposition,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )
        if final.status == "completed" and self._transcript_segments:
            self._start_analysis(1, self._state.outcome.value if self._state.outcome else None)
        if self._prepared is not None and self._prepared.room:  # a text chat has no room
            await workflow.execute_activity(
                InboundActivityName.DELETE_ROOM,
                RoomToDelete(room=self._prepared.room),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=CLEANUP_RETRY,
            )
            # The room is gone, so its egress has ended: its file can be recorded.
            recording = CollectRecordings(
                idempotency_key=workflow.info().workflow_id,  # the room is named after it (prepare_inbound_room)
                org_id=input.org_id,
                campaign_id=INBOUND_CAMPAIGN_ID,
                external_id=input.call_sid,
                attempt=1,
                call_seconds=final.duration_seconds or 0.0,
            )
            if final.status == "completed" and (handle := start_collecting(input.agent, recording)) is not None:
                self._follow_up("recording collection", handle)
        await self._follow_ups_done()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._sync_state()
        return self._state

    def _came_to(self, status: str) -> tuple[str | None, FinalOutcome | None]:
        """The call's disposition and outcome, derived like a contact's: the agent's disposition through its
        table when it recorded one (a callback it booked is a call of its own, so this one is completed),
        else ``completed`` for a call Twilio completed, else none (the caller never reached the agent)."""
        recorded = self._disposition_of(1)
        if recorded is not None:
            disposition = recorded[0]
            return disposition.name, disposition.outcome or FinalOutcome.COMPLETED
        return None, FinalOutcome.COMPLETED if status == "completed" else None

    async def _sync_state(self) -> None:
        self._state.notes_taken = self._notes_taken
        self._state.transcript_segments = self._transcript_segments
        self._state.end_reason = self._end_reason
        self._state.transfer_requested = self._transfer_requested

    # ---- the webhook's update and Twilio's status ----------------------------------------------

    @workflow.update
    async def prepare(self) -> PreparedCall:
        """Create the room with the agent in it, record the call; a repeated request gets the same room."""
        if self._prepared is not None:
            return self._prepared
        if self._preparing:
            await workflow.wait_condition(lambda: not self._preparing)
            if self._prepared is None:
                raise ValueError("the call's room could not be prepared")
            return self._prepared
        self._preparing = True
        try:
            prepared = PreparedCall()  # a text chat's agent runs in the API's process: no room to make
            if self._input.kind != CallKind.TEST:
                prepared = await self._prepare_room()
            self._answered_at = workflow.now()
            await workflow.execute_local_activity(
                InboundActivityName.RECORD_CALL,
                InboundCallRecord(
                    call_sid=self._input.call_sid,
                    to_number=self._input.to_number,
                    from_number=self._input.from_number,
                    agent_name=self._input.agent.name,
                    kind=self._input.kind,
                    org_id=self._input.org_id,
                ),
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=STORE_RETRY,
            )
        except Exception:
            self._prepare_failed = True
            raise
        finally:
            self._preparing = False
        self._prepared = prepared
        self._state.room = prepared.room
        self._state.status = "in-progress"
        return prepared

    async def _prepare_room(self) -> PreparedCall:
        """The call's LiveKit room with the agent dispatched into it (a phone call's with the SIP URI to bridge to)."""
        room_request = PrepareRoomRequest(
            workflow_id=workflow.info().workflow_id,
            call_sid=self._input.call_sid,
            contact=self._contact,
            agent=self._input.agent,
            context=self._live_context.data,
            kind=self._input.kind,
        )
        # Patched: a local activity, so room, dispatch and record all run in the workflow task the webhook's
        # update-with-start began, and the caller waits for no activity task's round trip.
        run = workflow.execute_local_activity if workflow.patched(ROOM_IN_ONE_TASK_PATCH) else workflow.execute_activity
        return await run(
            InboundActivityName.PREPARE_ROOM,
            room_request,
            result_type=PreparedCall,
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=ROOM_RETRY,
        )

    @workflow.signal
    def call_status(self, update: CallStatusUpdate) -> None:
        """Twilio's report of the call (api/routers/twilio.py): the ``<Dial>``'s action when the agent's
        leg ends, the number's status callback when the call ends. The first final one is the call's end;
        a later one (usually the other report of the same end) changes nothing. The payload's model refuses
        a duration that is no real one, so only Twilio's true figures are recorded."""
        if update.status in FINAL_CALL_STATUSES and self._final is None:
            self._final = update

    @workflow.query
    def state(self) -> InboundCallState:
        return self._state

    # ---- the agent's tools that differ from a contact's ----------------------------------------

    async def _book_callback(self, request: CallbackRequest) -> CallbackConfirmation:
        """Book a callback to the caller: a ContactWorkflow (campaign ``inbound``) that dials at that time."""
        self._callback_pending = True
        try:
            started = await workflow.execute_activity(
                InboundActivityName.START_CALLBACK,
                InboundCallbackRequest(
                    contact=self._contact, agent=self._input.agent, callback=request, org_id=self._input.org_id
                ),
                result_type=InboundCallbackStarted,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=STORE_RETRY,
            )
        finally:
            self._callback_pending = False
        self._state.callback_workflow_id = started.workflow_id
        return CallbackConfirmation(
            scheduled_for=started.scheduled_for,
            requested_for=request.at,
            moved_into_window=started.scheduled_for != request.at,
            replaced_earlier=False,
        )

    def _callback_refusal(self, request: CallbackRequest) -> str | None:
        if request.at.tzinfo is None or request.at.utcoffset() is None:
            return "the callback time has no time zone; say which zone it is in"
        now = workflow.now()
        if request.at <= now:
            return "that time has already passed; pick a time in the future"
        if request.at > now + INBOUND_CALLBACK_HORIZON:
            return "that is too far ahead; callbacks can be booked up to 14 days ahead"
        return None
