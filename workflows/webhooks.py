"""WebhookDeliveryWorkflow: one endpoint's events for one ordering key (a contact, a campaign), sent one at a
time in the order they were queued (id ``webhook-<endpoint>-<key>``, started with signal-with-start).

Each delivery is one activity retried with exponential backoff (the activity honours ``Retry-After``) until
the give-up horizon; past it the delivery is dead-lettered and the next one goes. A delivery the receiver
refused for good is marked failed by the activity. The run continues as new when its history grows, and
ends after a minute with nothing queued (the next event starts a new run).
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from schemas.webhooks import (
        DEAD_LETTER_WEBHOOK_ACTIVITY,
        SEND_WEBHOOK_ACTIVITY,
        WEBHOOK_DELIVERY_WORKFLOW,
        WEBHOOK_REFUSED_ERROR,
        DeadLetterWebhook,
        SendWebhook,
        WebhookDeliveryInput,
    )

IDLE_BEFORE_ENDING = timedelta(minutes=1)
SEND_TIMEOUT = timedelta(minutes=1)
STORE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn(name=WEBHOOK_DELIVERY_WORKFLOW)
class WebhookDeliveryWorkflow:
    @workflow.init
    def __init__(self, params: WebhookDeliveryInput) -> None:
        # The queue carried over continue-as-new comes first: signals can be handled before ``run`` starts.
        self._queue: list[str] = list(params.queued)

    @workflow.signal
    def enqueue(self, delivery_id: str) -> None:
        if delivery_id not in self._queue:
            self._queue.append(delivery_id)

    @workflow.query
    def queued(self) -> list[str]:
        return list(self._queue)

    @workflow.run
    async def run(self, params: WebhookDeliveryInput) -> None:
        while True:
            try:
                await workflow.wait_condition(lambda: bool(self._queue), timeout=IDLE_BEFORE_ENDING)
            except TimeoutError:
                if not self._queue and workflow.all_handlers_finished():
                    return
                continue
            await self._deliver(self._queue[0], params)
            self._queue.pop(0)
            info = workflow.info()
            if info.is_continue_as_new_suggested() or info.get_current_history_length() > params.max_history_events:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(params.model_copy(update={"queued": list(self._queue)}))

    async def _deliver(self, delivery_id: str, params: WebhookDeliveryInput) -> None:
        try:
            await workflow.execute_activity(
                SEND_WEBHOOK_ACTIVITY,
                SendWebhook(delivery_id=delivery_id),
                start_to_close_timeout=SEND_TIMEOUT,
                schedule_to_close_timeout=timedelta(seconds=params.give_up_after_seconds),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=params.initial_retry_seconds),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=params.max_retry_seconds),
                    non_retryable_error_types=[WEBHOOK_REFUSED_ERROR],
                ),
            )
        except ActivityError as err:
            if isinstance(err.cause, ApplicationError) and err.cause.type == WEBHOOK_REFUSED_ERROR:
                return  # the activity recorded it as failed
            await workflow.execute_activity(
                DEAD_LETTER_WEBHOOK_ACTIVITY,
                DeadLetterWebhook(delivery_id=delivery_id, error=str(err.cause or err)),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=STORE_RETRY,
            )
