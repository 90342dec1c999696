"""ConnectionRefreshWorkflow: one OAuth connection's tokens kept fresh durably (id ``oauth-refresh-<org>-<name>``).

It sleeps until shortly before the access token expires, has the activity refresh it (under the row lock, so a
tool refreshing at the same moment makes it a no-op) and continues as new, so its history stays a few events
long. It ends when the connection no longer refreshes (revoked, failed, or its tokens never expire); revoking
cancels it too. Tools refresh on their own as well (infra/oauth.access_token): this keeps rarely used
connections alive, since a provider may expire an unused refresh token.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from schemas.connections import (
        CONNECTION_REFRESH_WORKFLOW,
        REFRESH_CONNECTION_ACTIVITY,
        REFRESH_LEAD_SECONDS,
        RefreshConnection,
        RefreshOutcome,
    )

MIN_SLEEP = timedelta(minutes=1)
"""A token issued for less than the lead is still not refreshed more often than this."""
REFRESH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5))


@workflow.defn(name=CONNECTION_REFRESH_WORKFLOW)
class ConnectionRefreshWorkflow:
    @workflow.run
    async def run(self, params: RefreshConnection) -> None:
        """The first run only reads the expiry; every run after a sleep refreshes as of the workflow's time."""
        step = params if params.as_of is None else params.model_copy(update={"as_of": workflow.now()})
        outcome: RefreshOutcome = await workflow.execute_activity(
            REFRESH_CONNECTION_ACTIVITY,
            step,
            result_type=RefreshOutcome,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=REFRESH_RETRY,
        )
        if outcome.expires_at is None:
            return
        due = outcome.expires_at - timedelta(seconds=REFRESH_LEAD_SECONDS)
        await workflow.sleep(max(due - workflow.now(), MIN_SLEEP))
        workflow.continue_as_new(params.model_copy(update={"as_of": workflow.now()}))
