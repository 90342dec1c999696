"""What the voice agent records during a call, as workflow handlers: notes, shared information,
transcript lines, live context, end and transfer requests, the call's disposition, its HTTP tool
invocations (each one an activity, recorded on the call), searches of the agent's knowledge base, and its routes
to departments (the decision on workflow time, the fallback, each step recorded in ``call_routes``).

A mixin for the call workflows (ContactWorkflow, InboundCallWorkflow). The class using it calls
:meth:`_init_call_records` in its ``@workflow.init`` and may override :meth:`_attempt_now`.
Records are stored with the ``record_*`` activities under ``(campaign_id, external_id)``.
"""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from schemas.activity_io import ActivityName, InformationRecord, NoteRecord, OptOut, TranscriptRecord
    from schemas.agent import AgentConfig, AgentTool, LiveContext, NoteInput, SharedInformation, TranscriptBatch
    from schemas.analysis import NOT_CONNECTED_OUTCOMES, AnalyzeCall
    from schemas.calls import CallbackRequest, DialResult
    from schemas.departments import (
        LOAD_DEPARTMENTS_ACTIVITY,
        RECORD_CALL_ROUTE_ACTIVITY,
        CallRouteRecord,
        Department,
        DepartmentFallback,
        LoadDepartments,
        RouteAction,
        RouteAnswer,
        RouteRequest,
        TransferReport,
        TransferResult,
    )
    from schemas.dispositions import (
        DEFAULT_DISPOSITIONS,
        Disposition,
        DispositionInput,
        NextStep,
        by_name,
        refusal_for,
    )
    from schemas.knowledge import SEARCH_KNOWLEDGE_ACTIVITY, KnowledgeAnswer, KnowledgeQuery, SearchKnowledge
    from schemas.outcomes import CallOutcome
    from schemas.tools import (
        INVOKE_HTTP_TOOL_ACTIVITY,
        LOAD_HTTP_TOOLS_ACTIVITY,
        RECORD_TOOL_INVOCATION_ACTIVITY,
        TOOL_ATTEMPTS,
        HttpToolSpec,
        InvocationStatus,
        InvokeHttpTool,
        LoadHttpTools,
        ToolCall,
        ToolInvocationRecord,
        ToolResult,
        failure_sentence,
    )
    from schemas.workflow_io import CallbackConfirmation, ContextUpdate, ReasonInput, attempt_idempotency_key
    from workflows.departments import (
        callback_sentence,
        callback_time,
        is_open,
        message_note,
        message_sentence,
        transferring_sentence,
        unanswered_why,
    )

ANALYSIS_TIMEOUT = timedelta(seconds=90)
ANALYSIS_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=3)
"""An analysis is worth a few tries, never a stuck workflow: it gives up after three."""

TOOL_TIMEOUT = timedelta(seconds=40)
"""Longer than the longest tool timeout (30 s), with room for resolving the host."""
TOOL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500), backoff_coefficient=2.0, maximum_attempts=TOOL_ATTEMPTS
)
"""The invoke activity raises only an idempotent method's network error; everything else is its answer."""

TRANSFER_REPORT_MARGIN = timedelta(seconds=30)
"""How long past a department's ring timeout the workflow waits for the voice worker's report of a transfer;
no report by then, and the transfer counts as unanswered."""
# Runs begun before a department transfer had a durable timer for its unreported result.
TRANSFER_TIMER_PATCH = "department-transfer-timer"

STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30)
)


def call_outcome_of(result: DialResult, disposition: Disposition | None, *, heard_machine: bool) -> CallOutcome:
    """What one call came to, from the network's facts and the agent's disposition: the one rule, sim or live.

    A machine (the network's detection, or the agent hearing one) makes it voicemail; otherwise the
    agent's disposition, through its table, says what the conversation came to (a disposition also
    proves someone answered, even when the carrier lost track of the call); otherwise the network's
    outcome stands, which for an answered call is ``COMPLETED``: connected, no disposition.
    """
    if heard_machine or result.answered_by_machine:
        return CallOutcome.VOICEMAIL
    if disposition is not None:
        return disposition.call_outcome()
    return result.outcome


class CallRecordsMixin:
    def _init_call_records(
        self,
        campaign_id: str,
        external_id: str,
        agent: AgentConfig | None,
        context: dict | None = None,
        *,
        org_id: str | None = None,
        phone: str = "",
    ) -> None:
        self._rec_campaign_id = campaign_id
        self._rec_org_id = org_id
        self._rec_phone = phone
        self._rec_external_id = external_id
        self._rec_agent = agent
        self._rec_count = 0
        self._information: list[SharedInformation] = []
        self._notes_taken = 0
        self._transcript_segments = 0
        self._end_reason = ""
        self._voicemail_reason = ""
        self._transfer_requested = ""
        self._live_context = LiveContext(data=dict(context or {}))
        # What the agent recorded, per attempt: the latest disposition of a call counts.
        self._recorded_dispositions: dict[int, DispositionInput] = {}
        # Work after a call that decides nothing (analyses, recordings), each with what it is, for the log.
        self._follow_ups: list[tuple[str, workflow.ActivityHandle[object]]] = []
        self._tool_calls = 0
        # Department transfers the voice worker is ringing, by route id: the department and the caller's need.
        self._ringing_routes: dict[str, tuple[Department, str]] = {}
        # Each ringing transfer's timer (``TRANSFER_TIMER_PATCH``): its fallback applies when no report comes.
        self._transfer_timers: list[asyncio.Task[None]] = []

    def _attempt_now(self) -> int:
        return 1

    def _start_analysis(self, attempt: int, outcome: str | None) -> None:
        """Start the analysis of a call that connected (``ActivityName.ANALYZE_CALL``), without waiting for it:
        the call's outcome is decided already, and the analysis only suggests. :meth:`_follow_ups_done` awaits
        them before the workflow ends; one that fails is logged and forgotten."""
        if self._rec_agent is None or outcome is None or outcome in NOT_CONNECTED_OUTCOMES:
            return
        request = AnalyzeCall(
            campaign_id=self._rec_campaign_id,
            external_id=self._rec_external_id,
            attempt=attempt,
            outcome=outcome,
            config=self._rec_agent.analysis,
        )
        self._follow_up(
            "call analysis",
            workflow.start_activity(
                ActivityName.ANALYZE_CALL,
                request,
                start_to_close_timeout=ANALYSIS_TIMEOUT,
                retry_policy=ANALYSIS_RETRY,
            ),
        )

    def _follow_up(self, what: str, handle: workflow.ActivityHandle[object]) -> None:
        """Keep after-call work that was started, for :meth:`_follow_ups_done`."""
        self._follow_ups.append((what, handle))

    async def _follow_ups_done(self) -> None:
        """Await the after-call work before the workflow ends; one that fails is logged and forgotten."""
        for what, handle in self._follow_ups:
            try:
                await handle
            except ActivityError as err:
                workflow.logger.warning("%s failed; the call's outcome stands: %s", what, err)
        self._follow_ups.clear()

    def _next_key(self, kind: str) -> str:
        self._rec_count += 1
        return f"{workflow.info().workflow_id}#{kind}{self._rec_count}"

    async def _store(self, activity_name: str, record: object) -> None:
        await workflow.execute_local_activity(
            activity_name, record, start_to_close_timeout=timedelta(seconds=30), retry_policy=STORE_RETRY
        )

    async def _opt_out(self, reason: str) -> None:
        """The person asked never to be called again: their number joins the organization's do-not-call
        list before the agent is told so, whichever campaign or inbound call they said it on."""
        if self._rec_org_id is None or not self._rec_phone:
            return  # a workflow of no organization (tests): no list to join
        await self._store(
            ActivityName.LIST_DO_NOT_CALL,
            OptOut(
                org_id=self._rec_org_id,
                phone=self._rec_phone,
                reason=reason,
                call_ref=attempt_idempotency_key(workflow.info().workflow_id, self._attempt_now()),
            ),
        )

    @workflow.update
    async def take_note(self, request: NoteInput) -> None:
        self._notes_taken += 1
        await self._store(
            ActivityName.RECORD_NOTE,
            NoteRecord(
                idempotency_key=self._next_key("note"),
                campaign_id=self._rec_campaign_id,
                external_id=self._rec_external_id,
                attempt=self._attempt_now(),
                note=request.note,
            ),
        )

    @workflow.update
    async def share_information(self, information: SharedInformation) -> None:
        information = information.model_copy(update={"shared_at": workflow.now()})
        self._information.append(information)
        await self._store(
            ActivityName.RECORD_INFORMATION,
            InformationRecord(
                idempotency_key=self._next_key("info"),
                campaign_id=self._rec_campaign_id,
                external_id=self._rec_external_id,
                attempt=self._attempt_now(),
                category=information.category,
                information=information.information,
            ),
        )

    @workflow.query
    def shared_information(self) -> list[SharedInformation]:
        return self._information

    @workflow.signal
    async def transcript(self, batch: TranscriptBatch) -> None:
        first_seq = self._transcript_segments
        self._transcript_segments += len(batch.segments)
        await self._store(
            ActivityName.RECORD_TRANSCRIPT,
            TranscriptRecord(
                campaign_id=self._rec_campaign_id,
                external_id=self._rec_external_id,
                attempt=batch.attempt,
                first_seq=first_seq,
                segments=batch.segments,
            ),
        )

    @workflow.update
    def report_voicemail(self, request: ReasonInput) -> None:
        """The agent heard an answering machine: this call counts as voicemail, whatever the carrier saw."""
        self._voicemail_reason = request.reason or "answering machine"

    def _dispositions(self) -> list[Disposition]:
        """The agent's disposition table (the defaults when no agent is configured)."""
        return self._rec_agent.dispositions if self._rec_agent is not None else list(DEFAULT_DISPOSITIONS)

    def _disposition_of(self, attempt: int) -> tuple[Disposition, str] | None:
        """The disposition the agent recorded on ``attempt`` and its reason, if it recorded one."""
        recorded = self._recorded_dispositions.get(attempt)
        if recorded is None:
            return None
        disposition = by_name(self._dispositions(), recorded.disposition)
        return (disposition, recorded.reason) if disposition is not None else None

    def _disposition_refusal(self) -> str | None:
        """Why no disposition can be recorded now (e.g. no call in progress); None when it can."""
        return None

    async def _disposition_recorded(self, attempt: int, request: DispositionInput) -> None:
        """Hook: store the disposition where the workflow keeps its calls (a contact's attempt row)."""

    def _callback_refusal(self, request: CallbackRequest) -> str | None:
        """Why this workflow cannot book ``request`` (past, no zone, too far ahead...); None when it can."""
        raise NotImplementedError

    async def _book_callback(self, request: CallbackRequest) -> CallbackConfirmation:
        """Book the callback the validator accepted; each call workflow keeps callbacks its own way."""
        raise NotImplementedError

    @workflow.update
    async def schedule_callback(self, request: CallbackRequest) -> CallbackConfirmation:
        """Book (or re-book) a callback the callee asked for; a later one replaces the earlier. Used by the
        voice agent, and to start an inbound caller's callback."""
        return await self._book_callback(request)

    @schedule_callback.validator
    def _validate_callback(self, request: CallbackRequest) -> None:
        refusal = self._callback_refusal(request)
        if refusal is not None:
            raise ValueError(refusal)

    @workflow.update
    async def record_disposition(self, request: DispositionInput) -> Disposition:
        """The agent's record of what the call came to. The workflow derives the outcome from it (and the
        network's facts) when the call ends, through the agent's disposition table; nothing else decides."""
        attempt = self._attempt_now()
        self._recorded_dispositions[attempt] = request
        await self._disposition_recorded(attempt, request)
        disposition = by_name(self._dispositions(), request.disposition)
        assert disposition is not None  # the validator refused unknown names
        if disposition.then == NextStep.DO_NOT_CALL:
            await self._opt_out(request.reason)
        return disposition

    @record_disposition.validator
    def _validate_disposition(self, request: DispositionInput) -> None:
        refusal = refusal_for(self._dispositions(), request.disposition) or self._disposition_refusal()
        if refusal is not None:
            raise ValueError(refusal)

    @workflow.update
    def end_call(self, request: ReasonInput) -> None:
        self._end_reason = request.reason

    @workflow.update
    async def transfer_to_human(self, request: ReasonInput) -> None:
        self._transfer_requested = request.reason or "transfer requested"
        await self.take_note(NoteInput(note=f"transfer to a person requested: {self._transfer_requested}"))

    @transfer_to_human.validator
    def _validate_transfer(self, request: ReasonInput) -> None:
        agent = self._rec_agent
        if agent is None or AgentTool.TRANSFER_TO_HUMAN not in agent.enabled_tools():
            raise ValueError("no person to transfer to is set up for this agent")

    @workflow.update
    async def http_tool_specs(self) -> list[HttpToolSpec]:
        """What the model sees of the HTTP tools this call's agent may use (the agent registers them at start)."""
        agent = self._rec_agent
        if agent is None or not agent.http_tools or self._rec_org_id is None:
            return []
        return await workflow.execute_local_activity(
            LOAD_HTTP_TOOLS_ACTIVITY,
            LoadHttpTools(org_id=self._rec_org_id, names=agent.http_tools),
            result_type=list[HttpToolSpec],
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )

    @workflow.update
    async def invoke_http_tool(self, call: ToolCall) -> ToolResult:
        """Run one of the agent's HTTP tools (an activity, keyed by this workflow, attempt and a count, so its
        retries send one idempotency key) and record it on the call. Its ``reply`` is what the model is told:
        on any failure, a sentence the agent can say."""
        assert self._rec_org_id is not None  # the validator refused a call of no organization
        attempt = self._attempt_now()
        self._tool_calls += 1
        key = f"{workflow.info().workflow_id}#{attempt}#tool{self._tool_calls}"
        started = workflow.now()
        try:
            result = await workflow.execute_activity(
                INVOKE_HTTP_TOOL_ACTIVITY,
                InvokeHttpTool(org_id=self._rec_org_id, name=call.name, arguments=call.arguments, idempotency_key=key),
                result_type=ToolResult,
                start_to_close_timeout=TOOL_TIMEOUT,
                retry_policy=TOOL_RETRY,
            )
        except ActivityError as err:
            result = ToolResult(
                status=InvocationStatus.UNREACHABLE,
                reply=failure_sentence(call.name),
                error=str(err.cause or err),
                latency_ms=round((workflow.now() - started).total_seconds() * 1000),
            )
        await self._store(
            RECORD_TOOL_INVOCATION_ACTIVITY,
            ToolInvocationRecord(
                idempotency_key=key,
                org_id=self._rec_org_id,
                campaign_id=self._rec_campaign_id,
                external_id=self._rec_external_id,
                attempt=attempt,
                tool=call.name,
                arguments=call.arguments,
                result=result,
            ),
        )
        return result

    @invoke_http_tool.validator
    def _validate_tool_call(self, call: ToolCall) -> None:
        agent = self._rec_agent
        if agent is None or call.name not in agent.http_tools:
            raise ValueError(f"{call.name} is not a tool this agent may use")
        if self._rec_org_id is None:
            raise ValueError("this call belongs to no organization, so it has no HTTP tools")

    async def _load_departments(self, names: list[str]) -> list[Department]:
        assert self._rec_org_id is not None  # the validators refuse a call of no organization
        return await workflow.execute_local_activity(
            LOAD_DEPARTMENTS_ACTIVITY,
            LoadDepartments(org_id=self._rec_org_id, names=names),
            result_type=list[Department],
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )

    @workflow.update
    async def department_specs(self) -> list[Department]:
        """The departments this call's agent routes to (the agent lists them in its route tool at start)."""
        agent = self._rec_agent
        if agent is None or AgentTool.ROUTE_TO_DEPARTMENT not in agent.enabled_tools() or self._rec_org_id is None:
            return []
        return await self._load_departments(agent.departments)

    @workflow.update
    async def route_to_department(self, request: RouteRequest) -> RouteAnswer:
        """Route the caller to a department, decided on workflow time in the department's zone: open, the voice
        worker transfers the call (and reports the result); closed, the department's fallback applies now."""
        found = await self._load_departments([request.department])
        if not found:
            raise ApplicationError(f"there is no {request.department} department any more", non_retryable=True)
        department = found[0]
        route_id = self._next_key("route")
        if not is_open(department, workflow.now()):
            return await self._route_fallback(route_id, department, request.reason, was_open=False, why="closed now")
        self._ringing_routes[route_id] = (department, request.reason)
        self._transfer_requested = f"{department.name}: {request.reason}" if request.reason else department.name
        await self._record_route(
            route_id, department, request.reason, RouteAction.TRANSFER, "transferring", was_open=True
        )
        if workflow.patched(TRANSFER_TIMER_PATCH):
            timer = self._await_transfer_report(route_id, department, request.reason)
            self._transfer_timers.append(asyncio.create_task(timer))
        return RouteAnswer(
            route_id=route_id,
            department=department.name,
            action=RouteAction.TRANSFER,
            say=transferring_sentence(department),
            target=department.transfer_target,
            ring_timeout_seconds=department.ring_timeout_seconds,
        )

    @route_to_department.validator
    def _validate_route(self, request: RouteRequest) -> None:
        agent = self._rec_agent
        if agent is None or AgentTool.ROUTE_TO_DEPARTMENT not in agent.enabled_tools():
            raise ValueError("this agent routes callers to no department")
        if request.department not in agent.departments:
            raise ValueError(
                f"{request.department} is not a department this agent routes to: "
                f"choose one of {', '.join(agent.departments)}"
            )
        if self._rec_org_id is None:
            raise ValueError("this call belongs to no organization, so it has no departments")

    @workflow.update
    async def department_transfer_result(self, report: TransferReport) -> RouteAnswer:
        """The voice worker's report of a department transfer: answered, the route is done; no answer within
        the ring timeout, or a failed transfer, and the department's fallback applies."""
        department, reason = self._ringing_routes.pop(report.route_id)
        detail = report.detail or (f"SIP {report.sip_status_code}" if report.sip_status_code else "")
        answered = report.result == TransferResult.ANSWERED
        status = "transferred" if answered else report.result.value
        await self._record_route(
            report.route_id, department, reason, RouteAction.TRANSFER, status, was_open=True, detail=detail
        )
        if answered:
            return RouteAnswer(
                route_id=report.route_id, department=department.name, action=RouteAction.TRANSFER, say=""
            )
        why = unanswered_why(report.result)
        return await self._route_fallback(report.route_id, department, reason, was_open=True, why=why)

    async def _await_transfer_report(self, route_id: str, department: Department, reason: str) -> None:
        """A durable timer on one transfer: the department's ring timeout and a margin. The voice worker's report
        ends it; without one by then (the worker died, or lost the call), the transfer counts as unanswered and
        the department's fallback applies and is recorded, as for a reported "no answer"."""
        try:
            await workflow.wait_condition(
                lambda: route_id not in self._ringing_routes,
                timeout=timedelta(seconds=department.ring_timeout_seconds) + TRANSFER_REPORT_MARGIN,
            )
            return
        except TimeoutError:
            pass
        self._ringing_routes.pop(route_id)
        waited = department.ring_timeout_seconds + int(TRANSFER_REPORT_MARGIN.total_seconds())
        await self._record_route(
            route_id,
            department,
            reason,
            RouteAction.TRANSFER,
            TransferResult.NO_ANSWER.value,
            was_open=True,
            detail=f"no result reported within {waited} s",
        )
        why = unanswered_why(TransferResult.NO_ANSWER)
        await self._route_fallback(route_id, department, reason, was_open=True, why=why)

    async def _transfers_settled(self) -> None:
        """Wait for every transfer's report or timer, so an unreported one's fallback is applied before the
        call's end is decided. Nothing to wait for (no transfer rang) adds no command."""
        if self._transfer_timers:
            await asyncio.gather(*self._transfer_timers)
            self._transfer_timers.clear()

    @department_transfer_result.validator
    def _validate_transfer_result(self, report: TransferReport) -> None:
        if report.route_id not in self._ringing_routes:
            raise ValueError("no department transfer with that route id is ringing")

    async def _route_fallback(
        self, route_id: str, department: Department, reason: str, *, was_open: bool, why: str
    ) -> RouteAnswer:
        """The department's fallback: a callback booked in its next open hours, or (asked for, or the callback
        cannot be booked) a message taken on the call, tagged with the department."""
        refusal = ""
        if department.fallback == DepartmentFallback.CALLBACK:
            callback = CallbackRequest(
                at=callback_time(department, workflow.now()), reason=f"{department.name}: {reason}"
            )
            refusal = self._callback_refusal(callback) or ""
            if not refusal:
                booked = await self._book_callback(callback)
                await self._record_route(
                    route_id,
                    department,
                    reason,
                    RouteAction.CALLBACK,
                    "callback_booked",
                    was_open=was_open,
                    callback_at=booked.scheduled_for,
                    detail=f"asked for {callback.at.isoformat()}; moved into the caller's calling hours"
                    if booked.moved_into_window
                    else "",
                )
                return RouteAnswer(
                    route_id=route_id,
                    department=department.name,
                    action=RouteAction.CALLBACK,
                    say=callback_sentence(department, why, booked.scheduled_for),
                    callback_at=booked.scheduled_for,
                )
        await self.take_note(NoteInput(note=message_note(department, reason)))
        await self._record_route(
            route_id, department, reason, RouteAction.MESSAGE, "message_taken", was_open=was_open, detail=refusal
        )
        return RouteAnswer(
            route_id=route_id,
            department=department.name,
            action=RouteAction.MESSAGE,
            say=message_sentence(department, why),
        )

    async def _record_route(
        self,
        route_id: str,
        department: Department,
        reason: str,
        action: RouteAction,
        status: str,
        *,
        was_open: bool,
        detail: str = "",
        callback_at: datetime | None = None,
    ) -> None:
        assert self._rec_org_id is not None
        await self._store(
            RECORD_CALL_ROUTE_ACTIVITY,
            CallRouteRecord(
                idempotency_key=self._next_key("routestep"),
                route_id=route_id,
                org_id=self._rec_org_id,
                campaign_id=self._rec_campaign_id,
                external_id=self._rec_external_id,
                attempt=self._attempt_now(),
                department=department.name,
                reason=reason,
                action=action,
                status=status,
                was_open=was_open,
                target=department.transfer_target if action == RouteAction.TRANSFER else None,
                callback_at=callback_at,
                detail=detail,
            ),
        )

    @workflow.update
    async def search_knowledge(self, request: KnowledgeQuery) -> KnowledgeAnswer:
        """The agent's documents' best passages for the callee's question (the ``search_knowledge`` activity
        reads the store); each names its source, so the agent can say where an answer comes from."""
        assert self._rec_agent is not None and self._rec_org_id is not None  # the validator refused otherwise
        return await workflow.execute_local_activity(
            SEARCH_KNOWLEDGE_ACTIVITY,
            SearchKnowledge(org_id=self._rec_org_id, agent=self._rec_agent.name, query=request.query),
            result_type=KnowledgeAnswer,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )

    @search_knowledge.validator
    def _validate_knowledge_search(self, request: KnowledgeQuery) -> None:
        agent = self._rec_agent
        if agent is None or AgentTool.SEARCH_KNOWLEDGE not in agent.enabled_tools():
            raise ValueError("this agent has no knowledge base switched on")
        if self._rec_org_id is None:
            raise ValueError("this call belongs to no organization, so it has no knowledge base")

    @workflow.update
    def update_context(self, update: ContextUpdate) -> LiveContext:
        data = dict(update.data) if update.replace else {**self._live_context.data, **update.data}
        self._live_context = LiveContext(version=self._live_context.version + 1, data=data)
        return self._live_context

    @workflow.query
    def live_context(self) -> LiveContext:
        return self._live_context
