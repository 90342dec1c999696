"""CampaignWorkflow: starts a contact workflow per contact and paces their dials.

The campaign is the one place that sees every dial, so it owns the campaign-wide limits: at most
``max_concurrent_calls`` calls at once (contacts hold a slot only while their call is in progress)
and ``calls_per_second``. Contacts ask for a slot with a signal and get it with a signal back.
Its own state is bounded by the contacts in flight, never by the list, so it can continue as new
through a 100,000-contact campaign.

It owns what is in flight (slots, queue, token bucket, contacts per phase) and the campaign's
status, which only it writes to the store. The store owns outcomes and dials. Before completing,
it reconciles with the store: every claimed contact without a final outcome has a running workflow,
and no contact is left unclaimed. While it has nothing to do but wait for parked contacts, it
reconciles every ``IDLE_RECONCILE_EVERY`` too: a parked contact whose workflow was terminated by hand
never signals again, and would keep the campaign waiting forever.
"""

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from schemas.activity_io import (
        ActivityName,
        CampaignStatusUpdate,
        CancelCampaignContacts,
        ClaimedContacts,
        ClaimRequest,
        ReconcileRequest,
        Reconciliation,
        SweepRequest,
    )
    from schemas.compliance import DialVerdict
    from schemas.contact import ContactRef
    from schemas.workflow_io import (
        CampaignCarry,
        CampaignMessage,
        CampaignProgress,
        CampaignResult,
        CampaignStatus,
        CampaignWorkflowInput,
        ContactFinished,
        ContactPhase,
        ContactsAdded,
        ContactWorkflowInput,
        ReasonInput,
        SlotRelease,
        SlotRequest,
        WaitingForWindow,
        contact_workflow_id,
    )
    from workflows import breaker, search_attributes
    from workflows.contact import WINDOW_WAIT_PATCH, ContactWorkflow
    from workflows.scheduling import decide_dial

STORE_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=30))
# Grants may run up to half a second ahead of the rate: the dialler's own pacer spreads a burst out
# exactly, and the campaign keeps the rate across several workers to within that half second.
GRANT_BURST_SECONDS = 0.5
# Grants flow a little faster than the rate so the dialler's pacer, which holds calls to the exact
# rate, never idles while the next grant is still in flight; it absorbs the surplus.
GRANT_RATE_HEADROOM = 1.1
# Wake at most this often to hand out tokens: one timer per call would be a workflow task per call.
MIN_WAKE_SECONDS = 0.05
# The fewest contacts started together (see _start_page).
START_CHUNK = 10
# Sweeping asks the carrier about each attempt left dialling; a live call may last this long.
SWEEP_TIMEOUT = timedelta(hours=2)
ENDING = (CampaignStatus.CANCELLING, CampaignStatus.CANCELLED, CampaignStatus.COMPLETED)
# Waiting only for parked contacts (a retry, a callback, a calling window), reconcile this often (workflow
# time): one of them may have been terminated by hand, and would never say it finished.
IDLE_RECONCILE_EVERY = timedelta(hours=1)
# Runs begun before it never set the idle reconcile's timer (a command their histories do not hold).
IDLE_RECONCILE_PATCH = "idle-reconcile-parked"


@workflow.defn
class CampaignWorkflow:
    @workflow.init
    def __init__(self, input: CampaignWorkflowInput) -> None:
        self._input = input
        self._settings = input.settings
        carried = input.carried or CampaignCarry(
            progress=CampaignProgress(campaign_id=input.campaign_id, started_at=workflow.now())
        )
        self._carry = carried
        self._progress = carried.progress
        self._queue: list[SlotRequest] = list(carried.queue)
        self._holders: dict[str, None] = dict.fromkeys(carried.holders)
        self._dirty = True
        self._added_generation = 0
        self._unreachable: list[str] = []  # queued contacts whose grant found their workflow closed
        self._cancel_reason: str | None = None
        self._feeding = False
        self._grants: set[asyncio.Task[None]] = set()
        self._burst = max(1.0, self._settings.calls_per_second * GRANT_BURST_SECONDS)
        self._tokens = self._burst
        self._tokens_at = workflow.now()
        self._grant_rate = self._settings.calls_per_second * GRANT_RATE_HEADROOM
        # Runs begun before the patch keep counting contacts parked for their window as active.
        self._window_waits_free_lookahead = workflow.patched(WINDOW_WAIT_PATCH)
        self._reconciles_when_idle = workflow.patched(IDLE_RECONCILE_PATCH)
        # When the next idle reconcile is due: set the first time the campaign idles, then after each.
        self._idle_reconcile_at: datetime | None = None

    # ---- the process ----------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: CampaignWorkflowInput) -> CampaignResult:
        # Contacts are claimed and started beside the granting loop, so dials never wait on a claim.
        feeder = asyncio.create_task(self._feed_contacts())
        while True:
            await self._steer_until_finished()
            await workflow.wait_condition(self._quiescent)
            # Reconciling may start contacts, claim added ones or find some gone: steer on until it finds
            # nothing. No await between the last check and the status: a contacts_added update that
            # arrives after it is refused, never accepted and then dropped.
            if self._finished() and await self._reconciled() and self._finished():
                break
        feeder.cancel()
        # Every contact has finished, so none is parked: a count left over is one whose phase nobody knew
        # (a contact closed by hand, see _reconcile_parked).
        self._fit_parked(0)
        self._progress.status = (
            CampaignStatus.CANCELLED if self._progress.status == CampaignStatus.CANCELLING else CampaignStatus.COMPLETED
        )
        self._progress.finished_at = workflow.now()
        await workflow.execute_activity(
            ActivityName.SWEEP_DIALLING,
            SweepRequest(campaign_id=self._input.campaign_id),
            result_type=int,
            start_to_close_timeout=SWEEP_TIMEOUT,
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=STORE_RETRY,
        )
        await self._record_status()
        return CampaignResult(progress=self.progress())

    async def _steer_until_finished(self) -> None:
        while not self._finished():
            self._dirty = False
            if self._cancel_reason is not None and self._progress.status != CampaignStatus.CANCELLING:
                await self._cancel_contacts(self._cancel_reason)
            await self._record_status()
            if self._unreachable:
                await self._settle_unreachable()
            self._grant_slots()
            if self._finished():
                break
            if self._should_continue_as_new():
                await workflow.wait_condition(self._quiescent)
                self._continue_as_new()
            await self._wait_for_change()

    def _finished(self) -> bool:
        p = self._progress
        return (
            self._carry.exhausted
            and not self._feeding
            and p.started == p.finished
            and not self._queue
            and not self._holders
            and not self._unreachable
        )

    def _quiescent(self) -> bool:
        """Nothing half done: safe to continue as new or to complete."""
        return workflow.all_handlers_finished() and not self._feeding and not self._grants

    async def _reconciled(self) -> bool:
        """True when the store agrees the campaign is done; else make it so and return False.

        Runs when every contact the campaign counted has finished, so each claimed contact without a
        final outcome is one it never counted: a page whose start was lost, a workflow that failed or
        was terminated by hand. Unclaimed contacts (added, or never reached) get claimed.
        """
        cancelling = self._progress.status == CampaignStatus.CANCELLING
        found = await self._reconcile(ReconcileRequest(campaign_id=self._input.campaign_id, cancelling=cancelling))
        if found.settled:
            return True
        if found.pending and not cancelling:
            self._added_generation += 1
            self._carry.exhausted = False
        uncounted = len(found.to_start) + len(found.running) + len(found.closed)
        self._progress.started += uncounted
        self._progress.finished += len(found.closed)
        await self._start_contacts(found.to_start, pre_grant=False)
        self._dirty = True
        return False

    async def _settle_unreachable(self) -> None:
        """Queued contacts whose workflow closed before their grant (terminated by hand): a counted contact
        that will never say it finished. Reconciling records its outcome, or starts it again."""
        prefix = contact_workflow_id(self._input.campaign_id, "")
        ids, self._unreachable = self._unreachable, []
        found = await self._reconcile(
            ReconcileRequest(
                campaign_id=self._input.campaign_id,
                external_ids=[wid.removeprefix(prefix) for wid in ids],
                limit=max(1, min(len(ids), 1000)),
            )
        )
        self._progress.finished += len(found.closed)
        for external_id in found.running:  # still waiting for the grant it never got
            self._queue.append(
                SlotRequest(contact_workflow_id=contact_workflow_id(self._input.campaign_id, external_id))
            )
        await self._start_contacts(found.to_start, pre_grant=False)
        self._dirty = True

    def _idle_parked(self) -> bool:
        """Nothing to do but wait for parked contacts: only their own signals would move the campaign on."""
        p = self._progress
        return (
            self._carry.exhausted
            and not self._feeding
            and not self._queue
            and not self._holders
            and not self._unreachable
            and p.started > p.finished
        )

    async def _reconcile_parked(self) -> None:
        """Find the parked contacts whose workflow was closed by hand: they will never signal again.

        Describes every unfinished contact of the campaign (one describe each, at most once per
        ``IDLE_RECONCILE_EVERY``: acceptable for the parked contacts of one campaign, and exact where
        visibility lags). The activity records a contact closed by hand as cancelled; here it counts as
        finished. Which parked phase it was counted in, nobody knows any more (its workflow is gone and
        the store keeps no phase), so the parked counters are cut down to what can still be parked:
        at most the contacts whose workflow still runs. The cut comes off waiting_retry first, then
        waiting_callback, then waiting_window; a count taken from the wrong phase is floored at zero when
        its contacts leave it, and every parked count is zero once all contacts have finished.
        """
        self._idle_reconcile_at = workflow.now() + IDLE_RECONCILE_EVERY
        cancelling = self._progress.status == CampaignStatus.CANCELLING
        started = self._progress.started
        found = await self._reconcile(
            ReconcileRequest(campaign_id=self._input.campaign_id, cancelling=cancelling, parked=True)
        )
        if found.pending and not cancelling:
            self._added_generation += 1
            self._carry.exhausted = False
        if found.closed:
            # All counted: the campaign started them, and only an outcome or its absence is news here.
            closed = {contact_workflow_id(self._input.campaign_id, external_id) for external_id in found.closed}
            self._queue = [r for r in self._queue if r.contact_workflow_id not in closed]
            for workflow_id in closed:
                self._holders.pop(workflow_id, None)
            self._progress.finished += len(found.closed)
        if found.closed or found.to_start:
            # Only then: otherwise every count came from the contacts' own signals, and a contact that
            # finished while this ran (its signal still on the way) is rightly still counted parked.
            p = self._progress
            parked_at_most = p.started - p.finished - len(self._queue) - len(self._holders) - len(found.to_start)
            if p.started == started:  # no contact started meanwhile: only the running ones can be parked
                parked_at_most = min(parked_at_most, len(found.running))
            self._fit_parked(parked_at_most)
        # Failed or timed out while parked: counted already, started again (it announces its phase afresh).
        await self._start_contacts(found.to_start, pre_grant=False)
        if found.more:
            self._idle_reconcile_at = workflow.now()
        self._dirty = True

    def _fit_parked(self, at_most: int) -> None:
        """Cut the parked counts down to ``at_most`` in all: retries first, then callbacks, then windows."""
        p = self._progress
        excess = p.waiting_retry + p.waiting_callback + self._carry.waiting_window - max(0, at_most)
        cut = max(0, min(excess, p.waiting_retry))
        p.waiting_retry -= cut
        excess -= cut
        cut = max(0, min(excess, p.waiting_callback))
        p.waiting_callback -= cut
        excess -= cut
        self._carry.waiting_window -= max(0, min(excess, self._carry.waiting_window))

    async def _reconcile(self, request: ReconcileRequest) -> Reconciliation:
        return await workflow.execute_activity(
            ActivityName.RECONCILE_CONTACTS,
            request,
            result_type=Reconciliation,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=STORE_RETRY,
        )

    async def _feed_contacts(self) -> None:
        """Claim and start contacts whenever few enough are active, so the queue stays bounded."""
        while True:
            await workflow.wait_condition(lambda: self._room_for_contacts() > 0)
            self._feeding = True
            try:
                await self._start_page(self._room_for_contacts())
            finally:
                self._feeding = False
                self._dirty = True

    def _room_for_contacts(self) -> int:
        if not self._accepting_new_contacts():
            return 0
        lookahead = max(2 * self._settings.max_concurrent_calls, 50)
        p = self._progress
        active = p.started - p.finished - p.waiting_retry - p.waiting_callback
        if self._window_waits_free_lookahead:
            # Capped: a night start reaches the open-window contacts among the first thousands but never
            # starts the whole list, whose slot requests would all arrive when the window opens.
            active -= min(self._carry.waiting_window, self._input.max_parked_outside_lookahead)
        return lookahead - active

    async def _start_page(self, room: int) -> None:
        generation = self._added_generation
        info = workflow.info()
        # The same key on every retry of this claim, and a new one for the next page, across continue-as-new.
        claim_key = f"{info.workflow_id}/{info.first_execution_run_id}/{self._carry.claim_seq}"
        page = await workflow.execute_activity(
            ActivityName.CLAIM_CONTACTS,
            ClaimRequest(
                campaign_id=self._input.campaign_id, limit=min(room, self._input.page_size), claim_key=claim_key
            ),
            result_type=ClaimedContacts,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=STORE_RETRY,
        )
        self._carry.claim_seq += 1
        self._progress.total = page.total
        if not page.contacts:
            if generation == self._added_generation:
                self._carry.exhausted = True
            return
        self._progress.started += len(page.contacts)
        await self._start_contacts(page.contacts, pre_grant=True)

    async def _start_contacts(self, contacts: list[ContactRef], *, pre_grant: bool) -> None:
        """Start contacts in chunks about one burst of dials in size, each granted as it starts.

        The dials ready to go do not queue behind hundreds of workflow starts, and the tokens that
        accrue meanwhile go to contacts as they start, sparing their request/grant round trip.
        """
        chunk = max(START_CHUNK, int(self._burst))
        for first in range(0, len(contacts), chunk):
            await asyncio.gather(
                *(
                    self._start_contact(contact, granted=pre_grant and self._pre_grant(contact))
                    for contact in contacts[first : first + chunk]
                )
            )

    def _pre_grant(self, contact: ContactRef) -> bool:
        """Start a contact already holding a slot when one is free and nobody queues for it.

        Saves the request/grant signal round trip for most first dials, the bulk of a campaign.
        """
        if self._queue or not self._may_grant_any():
            return False
        now = workflow.now()
        may_dial = decide_dial(
            now=now,
            due=now,
            zones=contact.zones,
            region=contact.region,
            window=self._settings.window,
            policy=self._input.policy,
        )
        if may_dial.verdict != DialVerdict.DIAL or not self._take_token():
            return False
        self._holders[contact_workflow_id(self._input.campaign_id, contact.external_id)] = None
        return True

    def _accepting_new_contacts(self) -> bool:
        return not self._carry.exhausted and not self._carry.paused and self._progress.status == CampaignStatus.RUNNING

    async def _start_contact(self, contact: ContactRef, *, granted: bool) -> None:
        try:
            await workflow.start_child_workflow(
                ContactWorkflow.run,
                ContactWorkflowInput(
                    campaign_id=self._input.campaign_id,
                    ref=contact,
                    settings=self._settings,
                    campaign_workflow_id=workflow.info().workflow_id,
                    slot_granted=granted,
                    agent=self._input.agent,
                    org_id=self._input.org_id,
                    policy=self._input.policy,
                ),
                id=contact_workflow_id(self._input.campaign_id, contact.external_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(search_attributes.CAMPAIGN_ID, self._input.campaign_id)]
                ),
                static_summary=f"contact {contact.external_id}",
            )
        except WorkflowAlreadyStartedError:
            # Only a running workflow refuses a start: a closed one (failed, timed out) is started again.
            workflow.logger.info("contact %s already has a workflow", contact.external_id)
            if granted:
                self._holders.pop(contact_workflow_id(self._input.campaign_id, contact.external_id), None)

    def _grant_slots(self) -> None:
        """Hand free slots to waiting contacts, highest priority first, within the rate limit."""
        while self._may_grant() and self._take_token():
            request = max(self._queue, key=lambda r: r.priority)  # max() keeps arrival order among equals
            self._queue.remove(request)
            self._holders[request.contact_workflow_id] = None
            grant = asyncio.create_task(self._send_grant(request.contact_workflow_id))
            self._grants.add(grant)
            grant.add_done_callback(self._grants.discard)

    async def _send_grant(self, contact_workflow_id: str) -> None:
        try:
            await workflow.get_external_workflow_handle_for(ContactWorkflow.run, contact_workflow_id).signal(
                ContactWorkflow.slot_granted
            )
        except Exception as err:
            # The contact closed while queued (terminated by hand): its slot goes back to the pool, and
            # reconciling settles its outcome, since it will never say it finished.
            workflow.logger.warning("slot for %s returned: %s", contact_workflow_id, err)
            self._holders.pop(contact_workflow_id, None)
            self._unreachable.append(contact_workflow_id)
            self._dirty = True

    def _may_grant(self) -> bool:
        return bool(self._queue) and self._may_grant_any()

    def _may_grant_any(self) -> bool:
        return (
            len(self._holders) < self._settings.max_concurrent_calls
            and not self._carry.paused
            and self._progress.status == CampaignStatus.RUNNING
        )

    def _refill(self) -> None:
        now = workflow.now()
        elapsed = (now - self._tokens_at).total_seconds()
        self._tokens = min(self._burst, self._tokens + elapsed * self._grant_rate)
        self._tokens_at = now

    def _take_token(self) -> bool:
        self._refill()
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    async def _wait_for_change(self) -> None:
        timeout = None
        summary = "rate limit"
        if self._may_grant():
            # Out of tokens: wake when the next one is due (no sooner than MIN_WAKE, to batch grants).
            self._refill()
            due = (1.0 - self._tokens) / self._grant_rate
            timeout = timedelta(seconds=max(due, MIN_WAKE_SECONDS))
        elif self._reconciles_when_idle and self._idle_parked():
            # Only parked contacts left to wait for: wake to reconcile when it is due. The time is kept
            # across wake-ups, so parked contacts coming and going never put it off.
            now = workflow.now()
            if self._idle_reconcile_at is None:
                self._idle_reconcile_at = now + IDLE_RECONCILE_EVERY
            if self._idle_reconcile_at <= now:
                await self._reconcile_parked()
                return
            timeout = self._idle_reconcile_at - now
            summary = "reconcile parked contacts"
        with contextlib.suppress(TimeoutError):  # the timeout is the wake-up (next token, or reconcile)
            await workflow.wait_condition(lambda: self._dirty, timeout=timeout, timeout_summary=summary)

    async def _cancel_contacts(self, reason: str) -> None:
        self._progress.status = CampaignStatus.CANCELLING  # the feeder claims no more contacts
        # Contacts claimed but not yet started would miss the cancel signal: let the page finish first.
        await workflow.wait_condition(lambda: not self._feeding)
        await workflow.execute_activity(
            ActivityName.CANCEL_CAMPAIGN_CONTACTS,
            CancelCampaignContacts(campaign_id=self._input.campaign_id, reason=reason),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )
        self._carry.exhausted = True
        await self._record_status()

    async def _record_status(self) -> None:
        """Write the campaign's status to the store when it changed: this workflow is its only writer
        (pause and resume too, as it handles their signals)."""
        status = self._progress.status
        if status == self._carry.recorded_status:
            return
        await workflow.execute_activity(
            ActivityName.SET_CAMPAIGN_STATUS,
            CampaignStatusUpdate(
                campaign_id=self._input.campaign_id,
                status=status,
                pause_reason=self._progress.pause_reason,
                tripped_by=self._carry.breaker.tripped_by if self._progress.pause_reason else [],
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )
        self._carry.recorded_status = status

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self._input.max_history_events

    def _continue_as_new(self) -> None:
        self._carry.queue = list(self._queue)
        self._carry.holders = list(self._holders)
        self._carry.progress = self._progress
        self._carry.runs += 1
        workflow.continue_as_new(self._input.model_copy(update={"carried": self._carry}))

    # ---- slot protocol --------------------------------------------------------------------------

    @workflow.signal(name=CampaignMessage.REQUEST_SLOT)
    def request_slot(self, request: SlotRequest) -> None:
        if any(r.contact_workflow_id == request.contact_workflow_id for r in self._queue):
            return
        self._leave_parked_phase(request.returning_from)
        self._queue.append(request)
        self._dirty = True

    @workflow.signal(name=CampaignMessage.RELEASE_SLOT)
    def release_slot(self, release: SlotRelease) -> None:
        self._holders.pop(release.contact_workflow_id, None)
        if release.dial is not None and self._progress.status == CampaignStatus.RUNNING:
            trip = breaker.record_dial(self._carry.breaker, self._settings.breaker, release.dial, workflow.now())
            if trip is not None:
                self._trip(trip)
        if release.next_phase == ContactPhase.WAITING_RETRY:
            self._progress.waiting_retry += 1
        elif release.next_phase == ContactPhase.WAITING_CALLBACK:
            self._progress.waiting_callback += 1
        elif release.next_phase == ContactPhase.WAITING_WINDOW:
            self._carry.waiting_window += 1
        elif release.next_phase == ContactPhase.FINISHED:
            self._progress.finished += 1
        self._dirty = True

    @workflow.signal(name=CampaignMessage.WAITING_FOR_WINDOW)
    def waiting_for_window(self, waiting: WaitingForWindow) -> None:
        """A started contact parks until its calling window opens; night-time contacts leave room for others."""
        self._carry.waiting_window += 1

    @workflow.signal(name=CampaignMessage.CONTACT_FINISHED)
    def contact_finished(self, finished: ContactFinished) -> None:
        self._queue = [r for r in self._queue if r.contact_workflow_id != finished.contact_workflow_id]
        self._holders.pop(finished.contact_workflow_id, None)
        self._leave_parked_phase(finished.left_phase)
        self._progress.finished += 1
        self._dirty = True

    def _leave_parked_phase(self, phase: ContactPhase) -> None:
        # Never below zero: an idle reconcile may have taken a closed contact's count from the wrong phase.
        if phase == ContactPhase.WAITING_RETRY:
            self._progress.waiting_retry = max(0, self._progress.waiting_retry - 1)
        elif phase == ContactPhase.WAITING_CALLBACK:
            self._progress.waiting_callback = max(0, self._progress.waiting_callback - 1)
        elif phase == ContactPhase.WAITING_WINDOW:
            # Never below zero: a run continued as new before the patch carried no count of its releases.
            self._carry.waiting_window = max(0, self._carry.waiting_window - 1)

    def _trip(self, trip: breaker.Trip) -> None:
        """Pause on the breaker: durably (the status and its reason are recorded before any more grants go
        out, and carried across continue-as-new), until someone resumes by hand."""
        workflow.logger.warning("campaign %s paused: %s", self._input.campaign_id, trip.reason)
        self._carry.paused = True
        self._carry.breaker.tripped_by = trip.attempt_keys
        self._progress.status = CampaignStatus.PAUSED
        self._progress.pause_reason = trip.reason
        self._dirty = True

    # ---- steering -------------------------------------------------------------------------------

    @workflow.signal
    def pause(self) -> None:
        """Stop new dials within seconds; calls in progress finish normally."""
        if self._progress.status == CampaignStatus.RUNNING:
            self._carry.paused = True
            self._progress.status = CampaignStatus.PAUSED
            self._dirty = True

    @workflow.signal
    def resume(self) -> None:
        if self._progress.status == CampaignStatus.PAUSED:
            self._carry.paused = False
            self._progress.status = CampaignStatus.RUNNING
            self._progress.pause_reason = ""
            self._carry.breaker.tripped_by = []
            breaker.reset_window(self._carry.breaker)
            self._dirty = True

    @workflow.signal
    def cancel(self, request: ReasonInput) -> None:
        """End the campaign: waiting contacts end as cancelled, calls in progress finish first."""
        if self._cancel_reason is None:
            self._cancel_reason = request.reason or "campaign cancelled"
            self._carry.paused = False
            if self._progress.status == CampaignStatus.PAUSED:
                self._progress.status = CampaignStatus.RUNNING
                self._progress.pause_reason = ""
            self._dirty = True

    @workflow.update
    def contacts_added(self, notice: ContactsAdded) -> None:
        """Contacts were added in the store (status pending): claim again. The rows never travel here.

        ``total`` is not moved here: the store already counts the new rows, and the next claim reads it.
        """
        self._added_generation += 1
        self._carry.exhausted = False
        self._dirty = True

    @contacts_added.validator
    def _validate_contacts_added(self, notice: ContactsAdded) -> None:
        if notice.count < 1:
            raise ValueError("no contacts to add")
        if self._cancel_reason is not None or self._progress.status in ENDING:
            raise ValueError("the campaign is ending; contacts can no longer be added")

    @workflow.query
    def progress(self) -> CampaignProgress:
        p = self._progress
        counted = {
            "waiting_slot": len(self._queue),
            "in_call": len(self._holders),
            "waiting_window": self._carry.waiting_window,
        }
        parked = sum(counted.values()) + p.waiting_retry + p.waiting_callback
        return p.model_copy(update={**counted, "starting": max(0, p.started - p.finished - parked)})
