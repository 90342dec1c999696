"""The dial activity: one attempt, at most one call, whatever retries and worker crashes happen."""

import asyncio
from collections.abc import Awaitable
from functools import partial

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from infra.logs import log_context
from infra.observability import CALLS_IN_PROGRESS, DIALS
from infra.webhooks import WebhookOutbox
from schemas.activity_io import INVALID_NUMBER_ERROR, ActivityName, SweepRequest
from schemas.calls import DialRequest, DialResult
from schemas.contact import normalize_phone
from schemas.outcomes import CallOutcome
from schemas.webhooks import WebhookEventType
from schemas.workflow_io import contact_workflow_id
from store import caller_ids, capacity, compliance, dnc, queries, webhooks
from telephony.base import Carrier, DialPacer

HEARTBEAT_EVERY_SECONDS = 2.0
DO_NOT_CALL_DETAIL = "not dialled: the number is on the do-not-call list"


class CallActivities:
    def __init__(
        self,
        carrier: Carrier,
        sessions: async_sessionmaker[AsyncSession],
        pacer: DialPacer | None = None,
        outbox: WebhookOutbox | None = None,
    ) -> None:
        self._carrier = carrier
        self._sessions = sessions
        self._pacer = pacer or DialPacer()
        self._outbox = outbox
        # What this process knows of its calls that the store may not have yet (it was unreachable):
        # a retry in this process writes the known result instead of asking the carrier for it.
        self._unrecorded: dict[str, DialResult] = {}
        self._call_ids: dict[str, str] = {}

    @activity.defn(name=ActivityName.PLACE_CALL)
    async def place_call(self, request: DialRequest) -> DialResult:
        """Dial once per idempotency key.

        The attempt row is written *before* the call leaves, so a retry of this activity (after a
        timeout or a dead worker) finds it and asks the carrier what became of that call instead of
        ringing the person a second time. While the store is unreachable the activity fails and is
        retried (the contact workflow retries it by time, not by count); a call this process placed
        keeps its result in memory meanwhile, and the retry that reaches the store records it.
        """
        try:
            normalize_phone(request.contact.phone)
        except ValueError as err:
            raise ApplicationError(str(err), type=INVALID_NUMBER_ERROR, non_retryable=True) from None
        async with self._sessions() as session:
            if await _newly_blocked(session, request):
                activity.logger.info("attempt %s %s", request.idempotency_key, DO_NOT_CALL_DETAIL)
                return DialResult(
                    outcome=CallOutcome.DO_NOT_CALL, carrier=self._carrier.name, detail=DO_NOT_CALL_DETAIL
                ).classified(request.causes)
            if (refused := await capacity.take_dial_line(session, request)) is not None:
                await session.commit()  # the refused ask: the campaign counts in the fair share while it waits
                raise ApplicationError(f"not dialled yet: {refused.reason}", type=capacity.AT_CAPACITY_ERROR)
            row, created = await queries.begin_attempt(
                session,
                request.idempotency_key,
                request.campaign_id,
                request.contact.external_id,
                request.attempt,
                self._carrier.name,
                org_id=request.org_id,
                phone=request.contact.phone,
                started_at=request.decision.decided_at if request.decision is not None else None,
            )
            if created and request.decision is not None:
                await compliance.record_decision(
                    session,
                    key=request.idempotency_key,
                    org_id=request.org_id,
                    campaign_id=request.campaign_id,
                    external_id=request.contact.external_id,
                    attempt=request.attempt,
                    decision=request.decision,
                )
            caller = await caller_ids.caller_id_for_attempt(session, request, row, created=created)
            recorded = caller.refusal or (None if created else queries.attempt_result(row))
            earlier_call_id = row.carrier_call_id or self._call_ids.get(request.idempotency_key, "")
            # call.started with the attempt's row (outbox); a retry re-queues what is still undelivered
            started = await self._call_event(session, request.idempotency_key, WebhookEventType.CALL_STARTED)
            ended = (
                await self._call_event(session, request.idempotency_key, WebhookEventType.CALL_ENDED)
                if recorded is not None
                else []
            )
            await session.commit()
        if self._outbox:
            await self._outbox.dispatch([*started, *ended])
        if recorded is not None:
            self._forget(request.idempotency_key)
            return recorded
        request = request.model_copy(update={"caller_id": caller.number})
        key = request.idempotency_key
        with log_context(call_id=key):
            if key in self._unrecorded:
                result = self._unrecorded[key]
                activity.logger.warning("attempt %s ended while the store was unreachable; recording it now", key)
            elif created:
                result = await _heartbeating(self._paced_dial(request))
            else:
                activity.logger.warning("attempt %s was started before; recovering it", key)
                with CALLS_IN_PROGRESS.track_inprogress():
                    result = await _heartbeating(self._carrier.recover(request, earlier_call_id))
            # Classified once, here, and stored with the result: the workflow and the API read this class.
            result = result.classified(request.causes)
        self._unrecorded[key] = result
        await self._finish(key, result)
        DIALS.labels(result.outcome.value).inc()  # once per attempt: a retry finds it recorded above
        return result

    async def _finish(self, key: str, result: DialResult) -> None:
        """Store the attempt's result, its ``call.ended`` event (outbox) and free its line, in one transaction."""
        async with self._sessions() as session:
            await queries.finish_attempt(session, key, result)
            await capacity.release_line(session, key)
            ended = await self._call_event(session, key, WebhookEventType.CALL_ENDED)
            await session.commit()
        self._forget(key)
        if self._outbox:
            await self._outbox.dispatch(ended)

    async def _call_event(
        self, session: AsyncSession, key: str, event_type: WebhookEventType
    ) -> list[webhooks.QueuedDelivery]:
        return await webhooks.outbound_call_event(session, key, event_type) if self._outbox else []

    def _forget(self, key: str) -> None:
        self._unrecorded.pop(key, None)
        self._call_ids.pop(key, None)

    @activity.defn(name=ActivityName.SWEEP_DIALLING)
    async def sweep_dialling(self, request: SweepRequest) -> int:
        """Finish every attempt of the campaign still ``dialling``; returns how many.

        The campaign runs it once no contact of it is running any more, so nobody waits for these
        attempts: each is one whose dial activity gave up (its time ran out while the store or the
        carrier could not answer). The carrier is asked what became of the call, never to dial again.
        """
        async with self._sessions() as session:
            stale = await queries.dialling_attempts(session, request.campaign_id)
            await session.commit()
        for row, contact in stale:
            key = row.idempotency_key
            result = self._unrecorded.get(key)
            if result is None:
                dial = DialRequest(
                    idempotency_key=key,
                    campaign_id=row.campaign_id,
                    contact=contact,
                    attempt=row.attempt,
                    calls_per_second=1.0,
                    workflow_id=contact_workflow_id(row.campaign_id, row.external_id),
                )
                result = await _heartbeating(
                    self._carrier.recover(dial, row.carrier_call_id or self._call_ids.get(key, ""))
                )
            activity.logger.warning("attempt %s was left dialling; swept as %s", key, result.outcome.value)
            await self._finish(key, result)
            activity.heartbeat(key)
        return len(stale)

    async def _paced_dial(self, request: DialRequest) -> DialResult:
        """Dial the moment the pacer releases this call: nothing may await in between."""
        await self._pacer.wait_turn(request.campaign_id, request.calls_per_second)
        with CALLS_IN_PROGRESS.track_inprogress():
            return await self._carrier.dial(request, partial(self._record_call_id, request.idempotency_key))

    async def _record_call_id(self, key: str, call_id: str) -> None:
        """Note the call's id on its attempt; kept in memory too, so an unreachable store cannot fail the call."""
        self._call_ids[key] = call_id
        try:
            async with self._sessions() as session:
                await queries.record_call_id(session, key, call_id)
                await session.commit()
        except (DBAPIError, OSError) as err:
            activity.logger.warning("call id of attempt %s not stored yet (%s); kept in memory", key, err)


async def _newly_blocked(session: AsyncSession, request: DialRequest) -> bool:
    """The number was listed since the workflow's policy check, and this attempt has not dialled yet (one
    that has is recovered, not blocked: the call already happened). The last guard of a dial, at its door."""
    if request.org_id is not None:
        listed = await dnc.get_dnc(session, request.org_id, request.contact.phone) is not None
    else:  # dialled by a workflow started before dials carried their organization
        listed = await dnc.campaign_contact_on_dnc(session, request.campaign_id, request.contact.phone)
    return listed and not await queries.attempt_exists(session, request.idempotency_key)


async def _heartbeating(call: Awaitable[DialResult]) -> DialResult:
    """Await the call while heartbeating, so a dead worker is noticed in seconds, not after an hour."""
    task = asyncio.ensure_future(call)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_SECONDS)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        if not task.done():
            task.cancel()
