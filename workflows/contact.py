"""ContactWorkflow: one person's journey through a campaign, from first dial to a final outcome.

Read top to bottom it is the business process: wait until the contact may be called (retry time,
callback time, their local calling hours) → take a dial slot from the campaign → dial → decide.
"""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from schemas.activity_io import (
        INVALID_NUMBER_ERROR,
        ActivityName,
        CallbackRecord,
        CallOutcomeRecord,
        DialCheck,
        DialCheckResult,
        DialDecisionRecord,
        LookupAnswer,
        LookupRequest,
        OutcomeRecord,
    )
    from schemas.calls import CallbackRequest, DialRequest, DialResult
    from schemas.campaign import PreCallLookup
    from schemas.causes import CauseClass
    from schemas.compliance import DialDecision, DialFacts, DialVerdict, SkipCause
    from schemas.contact import Contact
    from schemas.dispositions import DispositionInput, DispositionRecord, NextStep
    from schemas.outcomes import TERMINAL_CALL_OUTCOMES, CallOutcome, FinalOutcome
    from schemas.recordings import CollectRecordings
    from schemas.workflow_io import (
        AttemptSummary,
        CallbackConfirmation,
        CampaignMessage,
        ContactFinished,
        ContactPhase,
        ContactState,
        ContactWorkflowInput,
        ContextUpdate,
        DialReport,
        NotInterestedInput,
        ReasonInput,
        SlotRelease,
        SlotRequest,
        WaitingForWindow,
        attempt_idempotency_key,
    )
    from workflows import search_attributes
    from workflows.call_records import STORE_RETRY, CallRecordsMixin, call_outcome_of
    from workflows.recordings import start_collecting
    from workflows.scheduling import decide_dial, retry_delay

# No limit on tries: a dial whose call was placed must not end as a failed try while its result is
# unknown (the store down, the worker gone). It keeps recovering the call, capped by time instead:
# the longest call plus DIAL_OUTAGE_ALLOWANCE (the dial's schedule-to-close timeout).
DIAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[INVALID_NUMBER_ERROR],
)
DIAL_OUTAGE_ALLOWANCE = timedelta(hours=1)
# A call's heartbeats stop when its worker dies; this is how soon another worker takes the attempt over.
DIAL_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
MAX_CALL_LENGTH = timedelta(hours=1)
# Contacts tell the campaign when they park for their calling window, which then starts others in their
# place (a campaign started at night no longer stalls behind its first contacts). Both workflows branch on it.
WINDOW_WAIT_PATCH = "window-wait-frees-lookahead"
# Network failures are retried soon without counting as the person's tries, and a final class ends the
# contact (schemas.causes); runs begun before it counted every failure as a try.
RETRY_BY_CAUSE_PATCH = "retry-by-cause"


_FINAL_FOR_SKIP = {
    SkipCause.DO_NOT_CALL: FinalOutcome.DO_NOT_CALL,
    SkipCause.NO_CALLING_HOURS: FinalOutcome.NO_CALLING_HOURS,
    SkipCause.LOOKUP: FinalOutcome.SKIPPED,
}
# A lookup is retried on network errors and 5xx for this long, then the campaign's on_failure decides.
LOOKUP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10))
LOOKUP_GIVE_UP = timedelta(minutes=2)

_FINAL_FOR_OUTCOME = {
    CallOutcome.COMPLETED: FinalOutcome.COMPLETED,
    CallOutcome.QUALIFIED: FinalOutcome.QUALIFIED,
    CallOutcome.NOT_INTERESTED: FinalOutcome.NOT_INTERESTED,
    CallOutcome.INVALID_NUMBER: FinalOutcome.INVALID_NUMBER,
    CallOutcome.DO_NOT_CALL: FinalOutcome.DO_NOT_CALL,
    CallOutcome.WRONG_PERSON: FinalOutcome.WRONG_PERSON,
}


def _network_facts(result: DialResult) -> str:
    """The raw codes of a result, for a reason a person reads: 'SIP 503 (failed): trunk down'."""
    codes = [
        f"SIP {result.status_code}" if result.status_code else "",
        f"Twilio error {result.error_code}" if result.error_code else "",
    ]
    said = " ".join(code for code in codes if code) or result.outcome.value
    if result.network_status:
        said += f" ({result.network_status})"
    return f"{said}: {result.detail}" if result.detail else said


@workflow.defn
class ContactWorkflow(CallRecordsMixin):
    """Also takes the voice agent's records (notes, information, transcript, context): see CallRecordsMixin."""

    @workflow.init
    def __init__(self, input: ContactWorkflowInput) -> None:
        self._input = input
        self._settings = input.settings
        self._policy = input.policy  # replaced by the organization's current policy at each dial check
        self._decisions = 0
        self._ref = input.reference
        # The whole contact: given with the input (an inbound caller's callback), or loaded by the first dial
        # check when a campaign started the workflow with the reference alone.
        self._contact = input.contact
        self._state = ContactState(campaign_id=input.campaign_id, external_id=self._ref.external_id)
        self._due = workflow.now()
        self._plan_version = 0  # bumped whenever the next dial time changes under a waiting loop
        self._slot_granted = input.slot_granted
        # The phase the campaign believes this contact is in; it keeps the campaign's counters right.
        self._announced = ContactPhase.IN_CALL if input.slot_granted else ContactPhase.STARTING
        self._stop: tuple[FinalOutcome, str] | None = None
        self._unanswered = 0
        self._network_failures = 0  # in a row: any other result starts the count again
        self._callbacks_booked = 0
        self._due_is_callback = False
        self._init_call_records(input.campaign_id, self._ref.external_id, input.agent, org_id=input.org_id)
        if input.contact is not None:
            self._adopt(input.contact)

    # ---- the process ----------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: ContactWorkflowInput) -> ContactState:
        try:
            while self._stop is None:
                if not await self._wait_until_dial_time():
                    break
                if not await self._take_dial_slot():
                    break
                if self._callback_pending_later():
                    # A callback booked while queued for a slot: the person asked for later, not now.
                    await self._release_slot(next_phase=ContactPhase.WAITING_CALLBACK)
                    continue
                decision = await self._check_dial()
                if decision.verdict == DialVerdict.DIAL and self._settings.pre_call_lookup is not None:
                    decision = await self._look_up(decision, self._settings.pre_call_lookup)
                if decision.verdict == DialVerdict.DIAL:
                    result = await self._dial(decision)
                    await self._transfers_settled()
                    await self._decide(result)
                    if result.answered:
                        last = self._state.attempts[-1]
                        self._start_analysis(last.attempt, last.outcome.value)
                        self._collect_recordings(last.attempt, result)
                elif decision.verdict == DialVerdict.WAIT:
                    assert decision.not_before is not None
                    self._due = decision.not_before
                    await self._release_slot(next_phase=ContactPhase.WAITING_WINDOW)
                else:
                    await self._release_slot(next_phase=ContactPhase.FINISHED)
        except asyncio.CancelledError:
            # Cancelled from the Web UI or the API: still tell the campaign and the store, then end.
            self._stop = self._stop or (FinalOutcome.CANCELLED, "workflow cancelled")
            await asyncio.shield(asyncio.ensure_future(self._finish()))
            raise
        await self._finish()
        await self._follow_ups_done()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    def _collect_recordings(self, attempt: int, result: DialResult) -> None:
        """After an answered call of a recording agent, record its recordings; like the analysis, it decides
        nothing, and :meth:`_follow_ups_done` awaits it before the end."""
        request = CollectRecordings(
            idempotency_key=attempt_idempotency_key(workflow.info().workflow_id, attempt),
            org_id=self._input.org_id,
            campaign_id=self._input.campaign_id,
            external_id=self._ref.external_id,
            attempt=attempt,
            call_seconds=result.duration_seconds,
        )
        if (handle := start_collecting(self._input.agent, request)) is not None:
            self._follow_up("recording collection", handle)

    def _adopt(self, contact: Contact) -> None:
        """Take the whole contact: its number (for an opt-out) and its attributes (the agent's first context)."""
        self._contact = contact
        self._rec_phone = contact.phone
        self._live_context.data = {**contact.attributes, **self._live_context.data}

    def _judge(self, facts: DialFacts | None = None, *, due: datetime | None = None) -> DialDecision:
        """The policy check (workflows.scheduling.decide_dial) of the next dial (or one due at ``due``), now."""
        return decide_dial(
            now=workflow.now(),
            due=due or self._due,
            zones=self._ref.zones,
            region=self._ref.region,
            window=self._settings.window,
            policy=self._policy,
            facts=facts,
        )

    async def _check_dial(self) -> DialDecision:
        """Judge the dial about to go, holding its slot, on what the store says now: the do-not-call list,
        the number's dials in every campaign, the organization's current policy. A wait or a skip is
        recorded here (and a skip stops the contact); a dial's decision goes with its attempt."""
        checked = await workflow.execute_local_activity(
            ActivityName.CHECK_DIAL,
            DialCheck(
                org_id=self._input.org_id,
                campaign_id=self._input.campaign_id,
                external_id=self._ref.external_id,
                phone=self._contact.phone if self._contact is not None else None,
                now=workflow.now(),
            ),
            result_type=DialCheckResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )
        if self._contact is None:
            if checked.contact is None:  # erased meanwhile: nothing of the person is recorded again
                self._stop = self._stop or (FinalOutcome.CANCELLED, "the contact is no longer in the store")
                return DialDecision(
                    verdict=DialVerdict.SKIP, decided_at=workflow.now(), reason=self._stop[1], zones=self._ref.zones
                )
            self._adopt(checked.contact)
        facts = checked.facts
        if self._input.org_id is not None:
            self._policy = facts.policy
        decision = self._judge(facts)
        if decision.verdict != DialVerdict.DIAL:
            await self._record_decision(decision)
        return decision

    async def _record_decision(self, decision: DialDecision) -> None:
        """Keep a wait or a skip in the audit trail; a skip also ends the contact with its reason."""
        self._decisions += 1
        info = workflow.info()
        await workflow.execute_local_activity(
            ActivityName.RECORD_DIAL_DECISION,
            DialDecisionRecord(
                idempotency_key=f"{info.workflow_id}/{info.run_id}/decision-{self._decisions}",
                org_id=self._input.org_id,
                campaign_id=self._input.campaign_id,
                external_id=self._ref.external_id,
                decision=decision,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )
        if decision.verdict == DialVerdict.SKIP and self._stop is None:
            self._stop = (_FINAL_FOR_SKIP[decision.skip_cause or SkipCause.NO_CALLING_HOURS], decision.reason)

    async def _look_up(self, decision: DialDecision, lookup: PreCallLookup) -> DialDecision:
        """Ask the campaign's pre-call lookup about the dial about to go: its context joins the call's, or
        its "skip" ends the contact, recorded as a decision with the lookup's reason. Holding the slot, like
        the dial check: the answer is about this dial, not one an hour ago."""
        attempt = len(self._state.attempts) + 1
        assert self._contact is not None  # adopted by the dial check before any dial
        try:
            answer = await workflow.execute_activity(
                ActivityName.LOOK_UP_CONTACT,
                LookupRequest(
                    idempotency_key=f"{attempt_idempotency_key(workflow.info().workflow_id, attempt)}/lookup",
                    lookup=lookup,
                    campaign_id=self._input.campaign_id,
                    contact=self._contact,
                    attempt=attempt,
                ),
                result_type=LookupAnswer,
                start_to_close_timeout=lookup.timeout + timedelta(seconds=5),
                schedule_to_close_timeout=LOOKUP_GIVE_UP,
                retry_policy=LOOKUP_RETRY,
                summary=f"pre-call lookup, attempt {attempt}",
            )
        except ActivityError as err:
            answer = LookupAnswer(error=str(err.cause or err))
        if answer.error and lookup.on_failure == "dial":
            workflow.logger.warning("pre-call lookup failed, dialling without it: %s", answer.error)
            return decision
        if answer.error or answer.skip:
            skip = decision.model_copy(
                update={
                    "verdict": DialVerdict.SKIP,
                    "skip_cause": SkipCause.LOOKUP,
                    "decided_at": workflow.now(),
                    "reason": f"pre-call lookup failed: {answer.error}"
                    if answer.error
                    else f"pre-call lookup: {answer.reason or 'skip this contact'}",
                }
            )
            await self._record_decision(skip)
            return skip
        if answer.context:
            self.update_context(ContextUpdate(data=answer.context))
        return decision

    async def _wait_until_dial_time(self) -> bool:
        """Sleep until the next dial is due and the policy allows it (calling hours in every zone the number
        may ring in, narrowed by the campaign's window). A policy wait is recorded. False when stopped."""
        recorded_wait: datetime | None = None
        while self._stop is None:
            version = self._plan_version
            decision = self._judge()
            if decision.verdict == DialVerdict.SKIP:
                await self._record_decision(decision)
                return False
            dial_at = decision.not_before or workflow.now()
            if dial_at > max(self._due, workflow.now()) and dial_at != recorded_wait:
                await self._record_decision(decision)  # the policy, not the plan, delays this dial
                recorded_wait = dial_at
            self._state.next_dial_at = dial_at
            if dial_at > self._due and self._state.phase in (ContactPhase.STARTING,):
                self._state.phase = ContactPhase.WAITING_WINDOW
            wait = dial_at - workflow.now()
            if wait <= timedelta(0):
                return True
            if self._announced == ContactPhase.IN_CALL:
                # Started with a slot, but the window closed in the meantime: nobody waits holding one.
                await self._release_slot(next_phase=ContactPhase.WAITING_WINDOW)
                continue
            if (
                self._announced == ContactPhase.STARTING
                and self._input.campaign_workflow_id is not None
                and workflow.patched(WINDOW_WAIT_PATCH)
            ):
                await self._park_for_window()
            try:
                await workflow.wait_condition(
                    lambda version=version: self._stop is not None or self._plan_version != version,
                    timeout=wait,
                    timeout_summary=f"dial due {dial_at.isoformat()}",
                )
            except TimeoutError:
                return self._stop is None
        return False

    async def _take_dial_slot(self) -> bool:
        """Ask the campaign for one of its concurrent-call slots and wait for it; dial at once when alone."""
        if self._slot_granted and self._announced == ContactPhase.IN_CALL:
            return True  # granted with the start, saving a signal round trip per contact
        returning_from = self._announced
        self._announced = ContactPhase.WAITING_SLOT
        self._state.phase = ContactPhase.WAITING_SLOT
        if self._input.campaign_workflow_id is None:
            return True
        self._slot_granted = False
        await self._campaign().signal(
            CampaignMessage.REQUEST_SLOT,
            SlotRequest(
                contact_workflow_id=workflow.info().workflow_id,
                priority=self._ref.priority,
                returning_from=returning_from,
            ),
        )
        await workflow.wait_condition(lambda: self._slot_granted or self._stop is not None)
        if self._stop is not None and not self._slot_granted:
            return False
        self._announced = ContactPhase.IN_CALL
        if self._stop is not None:
            await self._release_slot(next_phase=ContactPhase.FINISHED)
            return False
        return True

    async def _dial(self, decision: DialDecision) -> DialResult:
        attempt = len(self._state.attempts) + 1
        self._state.phase = ContactPhase.IN_CALL
        self._state.next_dial_at = None
        assert self._contact is not None  # adopted by the dial check before any dial
        request = DialRequest(
            idempotency_key=attempt_idempotency_key(workflow.info().workflow_id, attempt),
            campaign_id=self._input.campaign_id,
            contact=self._contact,
            attempt=attempt,
            calls_per_second=self._settings.calls_per_second,
            ring_timeout=self._settings.ring_timeout,
            workflow_id=workflow.info().workflow_id,
            is_callback=self._due_is_callback,
            agent=self._input.agent,
            context=self._live_context.data,
            org_id=self._input.org_id,
            decision=decision,
            causes=self._settings.causes,
        )
        dialled_at = workflow.now()
        self._voicemail_reason = ""
        try:
            result = await workflow.execute_activity(
                ActivityName.PLACE_CALL,
                request,
                result_type=DialResult,
                start_to_close_timeout=self._settings.ring_timeout + MAX_CALL_LENGTH,
                heartbeat_timeout=DIAL_HEARTBEAT_TIMEOUT,
                schedule_to_close_timeout=self._settings.ring_timeout + MAX_CALL_LENGTH + DIAL_OUTAGE_ALLOWANCE,
                retry_policy=DIAL_RETRY,
                summary=f"attempt {attempt}",
                # Fairness between campaigns on the shared task queue: one campaign's backlog of dials waits
                # its turn instead of starving another's. Priority is no command of its own (an attribute of
                # the activity's schedule), so stored histories replay unchanged (tests/test_replay.py).
                priority=Priority(fairness_key=self._input.campaign_id),
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == INVALID_NUMBER_ERROR:
                result = DialResult(outcome=CallOutcome.INVALID_NUMBER, detail=cause.message)
            else:
                result = DialResult(outcome=CallOutcome.FAILED, detail=str(cause or err))
        if result.cause is None:  # the dial activity never returned it (it gave up), or predates classes
            result = result.classified(self._settings.causes)
        self._state.attempts.append(
            AttemptSummary(
                attempt=attempt,
                dialled_at=dialled_at,
                outcome=result.outcome,
                detail=result.detail,
                answered_by=result.answered_by,
                cause=result.cause,
            )
        )
        self._upsert_search_attributes(attempt=attempt)
        return result

    async def _decide(self, result: DialResult) -> None:
        """After a call: derive what it came to (the agent's disposition and the network's facts, see
        :func:`call_outcome_of`), then finish, keep the callback the person asked for, or schedule the retry."""
        summary = self._state.attempts[-1]
        recorded = self._disposition_of(summary.attempt)
        disposition, said = recorded if recorded is not None else (None, "")
        outcome = call_outcome_of(result, disposition, heard_machine=bool(self._voicemail_reason))
        if outcome == CallOutcome.VOICEMAIL:
            disposition = None  # a machine answered: nothing the agent recorded describes a conversation
        summary.disposition = disposition.name if disposition is not None else None
        if self._stop is not None:
            next_phase = ContactPhase.FINISHED
        elif disposition is not None and disposition.then in (NextStep.FINISH, NextStep.DO_NOT_CALL):
            assert disposition.outcome is not None  # a finishing disposition always names its outcome
            self._stop = (disposition.outcome, said or disposition.name)
            next_phase = ContactPhase.FINISHED
        elif self._callback_pending_later():
            next_phase = ContactPhase.WAITING_CALLBACK
            if disposition is not None or outcome not in TERMINAL_CALL_OUTCOMES:
                outcome = CallOutcome.CALLBACK_REQUESTED
        elif disposition is None and outcome in TERMINAL_CALL_OUTCOMES:
            self._stop = (_FINAL_FOR_OUTCOME[outcome], result.detail)
            next_phase = ContactPhase.FINISHED
        elif disposition is None and summary.cause == CauseClass.FINAL and workflow.patched(RETRY_BY_CAUSE_PATCH):
            self._stop = (FinalOutcome.UNREACHABLE, f"not dialled again: {_network_facts(result)}")
            next_phase = ContactPhase.FINISHED
        elif (
            disposition is None and summary.cause == CauseClass.NETWORK_RETRY and workflow.patched(RETRY_BY_CAUSE_PATCH)
        ):
            next_phase = self._retry_after_network_failure(result)
        elif (
            disposition is not None
            or outcome in self._settings.retry.retry_outcomes
            or outcome == CallOutcome.CALLBACK_REQUESTED
        ):
            # A callback asked for without a time we could book counts as a try, so it cannot loop forever;
            # so does a disposition whose next step is a retry.
            self._unanswered += 1
            if self._unanswered >= self._settings.retry.max_attempts:
                self._stop = (FinalOutcome.UNREACHABLE, f"{self._unanswered} attempts without an answer")
                next_phase = ContactPhase.FINISHED
            else:
                delay = retry_delay(self._settings.retry, self._unanswered, workflow.random().random())
                self._due = workflow.now() + delay
                self._due_is_callback = False
                next_phase = ContactPhase.WAITING_RETRY
        else:
            self._stop = (FinalOutcome.UNREACHABLE, f"{outcome.value} is not retried by this campaign")
            next_phase = ContactPhase.FINISHED
        if summary.cause != CauseClass.NETWORK_RETRY:
            self._network_failures = 0
        summary.outcome, network_outcome = outcome, summary.outcome
        if outcome != network_outcome:
            # The attempt row holds the network's verdict; only a decision that differs is written over it.
            await self._store(
                ActivityName.RECORD_CALL_OUTCOME,
                CallOutcomeRecord(
                    idempotency_key=attempt_idempotency_key(workflow.info().workflow_id, summary.attempt),
                    outcome=outcome,
                ),
            )
        await self._release_slot(
            next_phase=next_phase,
            dial=DialReport(
                attempt_key=attempt_idempotency_key(workflow.info().workflow_id, summary.attempt),
                cause=summary.cause or CauseClass.NETWORK_RETRY,
            ),
        )

    def _retry_after_network_failure(self, result: DialResult) -> ContactPhase:
        """Soon, and not one of the person's tries: the network failed, not the person. Past
        ``max_retries`` failures in a row the contact ends unreachable, its reason naming the last one."""
        rules = self._settings.causes.network_retry
        self._network_failures += 1
        if self._network_failures > rules.max_retries:
            self._stop = (
                FinalOutcome.UNREACHABLE,
                f"{self._network_failures} network failures in a row, the last {_network_facts(result)}",
            )
            return ContactPhase.FINISHED
        # Jittered like the person's retries, so contacts that failed together do not come back together.
        jitter = 1 + self._settings.retry.jitter_ratio * workflow.random().random()
        self._due = workflow.now() + rules.delay(self._network_failures) * jitter
        self._due_is_callback = False
        return ContactPhase.WAITING_RETRY

    async def _finish(self) -> None:
        left_phase = self._announced
        await self._record_outcome()
        if left_phase != ContactPhase.FINISHED and self._input.campaign_workflow_id is not None:
            # Finished while parked (between calls): the campaign has not heard of it through a release.
            await self._campaign().signal(
                CampaignMessage.CONTACT_FINISHED,
                ContactFinished(contact_workflow_id=workflow.info().workflow_id, left_phase=left_phase),
            )

    async def _record_outcome(self) -> None:
        """Store the final outcome, before the campaign hears of it, so a finished campaign is all stored."""
        if self._state.final_outcome is not None:
            return
        final, reason = self._stop or (FinalOutcome.CANCELLED, "")
        self._state.final_outcome = final
        self._state.final_reason = reason
        self._state.next_dial_at = None
        self._upsert_search_attributes(outcome=final)
        await workflow.execute_local_activity(
            ActivityName.RECORD_OUTCOME,
            OutcomeRecord(
                campaign_id=self._input.campaign_id,
                external_id=self._ref.external_id,
                final_outcome=final,
                reason=reason,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )
        self._state.phase = ContactPhase.FINISHED

    # ---- slots and callbacks --------------------------------------------------------------------

    def _campaign(self) -> workflow.ExternalWorkflowHandle:
        assert self._input.campaign_workflow_id is not None
        return workflow.get_external_workflow_handle(self._input.campaign_workflow_id)

    async def _release_slot(self, *, next_phase: ContactPhase, dial: DialReport | None = None) -> None:
        if next_phase == ContactPhase.FINISHED:
            await self._record_outcome()
        self._state.phase = next_phase
        self._announced = next_phase
        if self._input.campaign_workflow_id is None:
            return
        self._slot_granted = False
        await self._campaign().signal(
            CampaignMessage.RELEASE_SLOT,
            SlotRelease(contact_workflow_id=workflow.info().workflow_id, next_phase=next_phase, dial=dial),
        )

    async def _park_for_window(self) -> None:
        """Tell the campaign this contact sleeps until its window opens: it no longer takes the campaign's lookahead."""
        self._announced = ContactPhase.WAITING_WINDOW
        await self._campaign().signal(
            CampaignMessage.WAITING_FOR_WINDOW, WaitingForWindow(contact_workflow_id=workflow.info().workflow_id)
        )

    def _callback_pending_later(self) -> bool:
        return self._state.callback is not None and self._due > workflow.now()

    def _callback_refusal(self, request: CallbackRequest) -> str | None:
        if self._state.phase == ContactPhase.FINISHED or self._stop is not None:
            return "this contact's calls are over, so no callback can be booked"
        if request.at.tzinfo is None or request.at.utcoffset() is None:
            return "the callback time has no time zone; say which zone it is in"
        now = workflow.now()
        if request.at <= now:
            return "that time has already passed; pick a time in the future"
        if self._callbacks_booked >= self._settings.max_callbacks:
            return f"this contact has already booked {self._callbacks_booked} callbacks, the campaign's limit"
        horizon = self._settings.callback_horizon
        if request.at > now + horizon:
            return f"that is too far ahead; callbacks can be booked up to {_days_text(horizon)} ahead"
        decision = self._judge(due=request.at)
        if decision.verdict == DialVerdict.SKIP:
            return f"this person cannot be called back: {decision.reason}"
        return None

    async def _book_callback(self, request: CallbackRequest) -> CallbackConfirmation:
        # The first moment the policy allows from the time asked for (the validator refused a time it never does).
        scheduled = self._judge(due=request.at).not_before or request.at
        replaced = self._state.callback is not None and self._due > workflow.now()
        self._state.callback = request
        self._callbacks_booked += 1
        self._due = scheduled
        self._due_is_callback = True
        self._state.next_dial_at = scheduled
        self._plan_version += 1
        if self._state.phase in (ContactPhase.WAITING_RETRY, ContactPhase.WAITING_WINDOW):
            self._state.phase = ContactPhase.WAITING_CALLBACK
        await workflow.execute_local_activity(
            ActivityName.RECORD_CALLBACK,
            CallbackRecord(
                campaign_id=self._input.campaign_id,
                external_id=self._ref.external_id,
                requested_for=request.at,
                scheduled_for=scheduled,
                reason=request.reason,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )
        return CallbackConfirmation(
            scheduled_for=scheduled,
            requested_for=request.at,
            moved_into_window=scheduled != request.at,
            replaced_earlier=replaced,
        )

    def _upsert_search_attributes(self, *, attempt: int | None = None, outcome: FinalOutcome | None = None) -> None:
        updates = []
        if attempt is not None:
            updates.append(search_attributes.ATTEMPT.value_set(attempt))
        if outcome is not None:
            updates.append(search_attributes.OUTCOME.value_set(outcome.value))
        if updates and self._input.campaign_workflow_id is not None:
            workflow.upsert_search_attributes(updates)

    # ---- handlers -------------------------------------------------------------------------------

    @workflow.signal
    def slot_granted(self) -> None:
        self._slot_granted = True

    @workflow.update
    async def mark_not_interested(self, request: NotInterestedInput) -> ContactState:
        """Stop all further dials; a call in progress ends normally first. A do-not-call lists the number
        for the whole organization."""
        final = FinalOutcome.DO_NOT_CALL if request.do_not_call else FinalOutcome.NOT_INTERESTED
        self._stop = self._stop or (final, request.reason)
        if request.do_not_call:
            await self._opt_out(request.reason)
        return self.state()

    @mark_not_interested.validator
    def _validate_not_interested(self, request: NotInterestedInput) -> None:
        if self._state.phase == ContactPhase.FINISHED:
            raise ValueError("this contact's calls are already over")

    def _disposition_refusal(self) -> str | None:
        if self._state.phase != ContactPhase.IN_CALL:
            return "no call is in progress, so there is no call to record a disposition for"
        return None

    async def _disposition_recorded(self, attempt: int, request: DispositionInput) -> None:
        """On the attempt's row at once, so the store has it even if the call is never heard of again."""
        await self._store(
            ActivityName.RECORD_DISPOSITION,
            DispositionRecord(
                idempotency_key=attempt_idempotency_key(workflow.info().workflow_id, attempt),
                disposition=request.disposition,
                reason=request.reason,
            ),
        )

    def _attempt_now(self) -> int:
        """The call in progress, or the last one: what a note or a transcript line belongs to."""
        return len(self._state.attempts) + (1 if self._state.phase == ContactPhase.IN_CALL else 0)

    @workflow.signal
    def cancel(self, request: ReasonInput) -> None:
        self._stop = self._stop or (FinalOutcome.CANCELLED, request.reason or "cancelled")

    @workflow.query
    def state(self) -> ContactState:
        return self._state.model_copy(
            update={
                "information": self._information,
                "notes_taken": self._notes_taken,
                "transcript_segments": self._transcript_segments,
                "end_reason": self._end_reason,
                "transfer_requested": self._transfer_requested,
            }
        )


def _days_text(span: timedelta) -> str:
    if span >= timedelta(days=1) and span % timedelta(days=1) == timedelta(0):
        days = span.days
        return f"{days} day{'s' if days != 1 else ''}"
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} minutes"
