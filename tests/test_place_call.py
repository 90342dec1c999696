"""The dial activity's hand-over to a retry: the carrier's call id, recorded while the call is on."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment
from workflow_helpers import contact, settings

from activities.calls import CallActivities
from schemas.calls import DialRequest, DialResult
from schemas.outcomes import CallOutcome
from store import queries
from telephony.base import CallPlaced

Sessions = async_sessionmaker[AsyncSession]


class WorkerDiesMidCall:
    """Places the call, reports its id, then the process "dies"; a retry finds the call by that id."""

    name = "network"

    def __init__(self) -> None:
        self.recovered_with: list[str] = []

    async def dial(self, request: DialRequest, placed: CallPlaced | None = None) -> DialResult:
        assert placed is not None
        await placed("CA-live-1")
        raise ConnectionError("the worker lost its connection mid-call")

    async def recover(self, request: DialRequest, call_id: str = "") -> DialResult:
        self.recovered_with.append(call_id)
        return DialResult(outcome=CallOutcome.COMPLETED, answered=True, carrier=self.name, carrier_call_id=call_id)


async def test_a_retry_follows_the_call_by_the_id_recorded_while_it_was_on(session_factory: Sessions) -> None:
    person = contact(1, "answers")
    async with session_factory() as session:
        await queries.create_campaign(session, "c-retry", "retry", settings())
        await session.commit()
    carrier = WorkerDiesMidCall()
    activities = CallActivities(carrier, session_factory)
    request = DialRequest(
        idempotency_key="k-1", campaign_id="c-retry", contact=person, attempt=1, calls_per_second=100, workflow_id="w"
    )
    env = ActivityEnvironment()

    with pytest.raises(ConnectionError):
        await env.run(activities.place_call, request)
    async with session_factory() as session:
        [row] = await queries.attempts_for(session, "c-retry", person.external_id)
        assert (row.state, row.carrier_call_id) == ("dialling", "CA-live-1")

    result = await env.run(activities.place_call, request)
    assert carrier.recovered_with == ["CA-live-1"]
    assert result.outcome == CallOutcome.COMPLETED and result.carrier_call_id == "CA-live-1"
    async with session_factory() as session:
        [row] = await queries.attempts_for(session, "c-retry", person.external_id)
        assert (row.state, row.network_outcome) == ("finished", "completed")
