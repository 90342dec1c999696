"""Organization capacity: a cap on calls at once across every campaign, lines kept for inbound calls, and
a fair share between campaigns (store/capacity.py), enforced on the dial path and shown by the API and CLI."""

import asyncio
import re
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from typer.testing import CliRunner
from workflow_helpers import ANY_HOUR, contact, new_campaign_id, seed, settings, start_campaign

from activities.calls import CallActivities
from api.services import audit as audit_service
from cli.app import app
from schemas.calls import DialRequest
from schemas.campaign import CampaignSettings
from schemas.capacity import OrgCapacity
from simulator.carrier import SimCarrier
from store import audit, capacity, compliance, orgs, queries
from store.db import dispose_cached_engines, get_session_factory
from store.models import utcnow
from workflows.contact import MAX_CALL_LENGTH

Sessions = async_sessionmaker[AsyncSession]
ORG = "acme"
CAMPAIGNS = ("spring", "summer", "autumn")


async def an_org(sessions: Sessions, max_calls: int | None, reserve: int = 0, org_id: str = ORG) -> str:
    async with sessions() as session:
        await orgs.create_org(session, "Acme", org_id=org_id)
        # Its campaigns dial at any hour of the day (the legal floor would park them after 21:00 London).
        await compliance.set_policy(session, org_id, ANY_HOUR, changed_by="tests")
        await capacity.set_capacity(
            session, org_id, OrgCapacity(max_concurrent_calls=max_calls, inbound_reserve=reserve)
        )
        await session.commit()
    return org_id


async def ask(sessions: Sessions, key: str, campaign_id: str | None, **when) -> bool:
    """One line asked for in a transaction of its own, as a dial or an incoming call asks: True if granted."""
    lifetime = capacity.OUTBOUND_LEASE_LIFETIME if campaign_id else capacity.INBOUND_LEASE_LIFETIME
    async with sessions() as session:
        refused = await capacity.acquire_line(
            session, lease_key=key, org_id=ORG, campaign_id=campaign_id, lifetime=lifetime, **when
        )
        await session.commit()
    return refused is None


async def in_use(sessions: Sessions, **when):
    async with sessions() as session:
        return await capacity.lines_in_use(session, ORG, **when)


async def test_racing_dials_of_three_campaigns_never_hold_more_than_the_cap_less_the_reserve(
    session_factory: Sessions,
) -> None:
    await an_org(session_factory, max_calls=10, reserve=2)
    granted = await asyncio.gather(
        *(ask(session_factory, f"dial-{n}", CAMPAIGNS[n % 3]) for n in range(50))  # 50 dials at once
    )
    lines = await in_use(session_factory)
    assert sum(granted) == lines.outbound == 8, "every outbound line is taken, and never one more"
    assert lines.inbound == 0
    assert set(lines.by_campaign) <= set(CAMPAIGNS)


async def test_an_inbound_call_finds_the_reserve_while_campaigns_hold_every_outbound_line(
    session_factory: Sessions,
) -> None:
    await an_org(session_factory, max_calls=4, reserve=1)
    assert [await ask(session_factory, f"dial-{n}", CAMPAIGNS[n % 3]) for n in range(4)] == [True, True, True, False]
    assert await ask(session_factory, "CA-inbound-1", None), "the reserved line answers the caller"
    lines = await in_use(session_factory)
    assert (lines.outbound, lines.inbound) == (3, 1)

    assert not await ask(session_factory, "CA-inbound-2", None), "all four lines are in use"
    async with session_factory() as session:
        await capacity.release_line(session, "dial-0")
        await session.commit()
    assert await ask(session_factory, "CA-inbound-2", None), "an inbound call may take a free outbound line"
    assert not await ask(session_factory, "dial-4", "spring"), "the cap holds for outbound dials too"


async def test_a_second_campaign_gets_lines_once_the_first_holds_its_share(session_factory: Sessions) -> None:
    await an_org(session_factory, max_calls=6)
    assert [await ask(session_factory, f"spring-{n}", "spring") for n in range(3)] == [True] * 3
    assert await ask(session_factory, "summer-0", "summer")
    # Two campaigns share six lines: three each. Spring holds its three; summer gets the rest.
    assert not await ask(session_factory, "spring-3", "spring")
    assert [await ask(session_factory, f"summer-{n}", "summer") for n in range(1, 4)] == [True, True, False]
    assert (await in_use(session_factory)).by_campaign == {"spring": 3, "summer": 3}


async def test_a_campaign_refused_a_line_counts_in_the_share_while_it_waits(session_factory: Sessions) -> None:
    await an_org(session_factory, max_calls=4)
    assert [await ask(session_factory, f"spring-{n}", "spring") for n in range(4)] == [True] * 4
    assert not await ask(session_factory, "summer-0", "summer"), "every line is in use"
    async with session_factory() as session:
        await capacity.release_line(session, "spring-0")
        await session.commit()
    assert not await ask(session_factory, "spring-4", "spring"), "summer is waiting: spring is past its share of 2"
    assert await ask(session_factory, "summer-0", "summer")
    later = utcnow() + capacity.ASK_LIFETIME + timedelta(seconds=1)
    async with session_factory() as session:
        await capacity.release_line(session, "summer-0")
        await session.commit()
    assert await ask(session_factory, "spring-4", "spring", now=later), "summer's ask has lapsed: spring may refill"


async def test_acquiring_again_with_the_same_key_keeps_the_lease_even_at_the_cap(session_factory: Sessions) -> None:
    await an_org(session_factory, max_calls=1)
    assert await ask(session_factory, "dial-1", "spring")
    assert await ask(session_factory, "dial-1", "spring"), "a retried dial keeps its line"
    assert not await ask(session_factory, "dial-2", "spring")
    assert (await in_use(session_factory)).outbound == 1


async def test_the_line_of_a_call_nobody_finished_lapses(session_factory: Sessions) -> None:
    await an_org(session_factory, max_calls=1)
    assert await ask(session_factory, "dial-lost", "spring")
    assert not await ask(session_factory, "dial-next", "spring")
    after_expiry = utcnow() + capacity.OUTBOUND_LEASE_LIFETIME + timedelta(seconds=1)
    assert (await in_use(session_factory, now=after_expiry)).outbound == 0
    assert await ask(session_factory, "dial-next", "spring", now=after_expiry)


def test_a_dials_lease_outlives_the_longest_dial() -> None:
    """A live call's line must never lapse: the lease lasts longer than the dial activity may run."""
    longest_ring = CampaignSettings.model_fields["ring_timeout"].metadata[0].le
    assert capacity.OUTBOUND_LEASE_LIFETIME > longest_ring + MAX_CALL_LENGTH


async def test_without_a_cap_lines_are_counted_but_never_refused(session_factory: Sessions) -> None:
    await an_org(session_factory, max_calls=None)
    assert all([await ask(session_factory, f"dial-{n}", "spring") for n in range(20)])
    assert (await in_use(session_factory)).outbound == 20


def dial(key: str, campaign_id: str, org_id: str | None = ORG) -> DialRequest:
    return DialRequest(
        idempotency_key=key,
        campaign_id=campaign_id,
        contact=contact(int(key.rsplit("-", 1)[1]), "answers"),
        attempt=1,
        calls_per_second=100,
        workflow_id=f"w-{key}",
        org_id=org_id,
    )


async def test_a_dial_refused_a_line_rings_nobody_writes_no_attempt_and_is_retried(session_factory: Sessions) -> None:
    await an_org(session_factory, max_calls=1)
    async with session_factory() as session:
        await queries.create_campaign(session, "spring", "spring", settings())
        await session.commit()
    carrier = SimCarrier(time_scale=0.0)
    activities = CallActivities(carrier, session_factory)
    assert await ask(session_factory, "held-0", "summer")

    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities.place_call, dial("dial-1", "spring"))
    assert refused.value.type == capacity.AT_CAPACITY_ERROR and not refused.value.non_retryable
    assert "lines" in refused.value.message
    assert carrier.dials == []
    async with session_factory() as session:
        assert not await queries.attempt_exists(session, "dial-1")
        await capacity.release_line(session, "held-0")
        await session.commit()

    result = await ActivityEnvironment().run(activities.place_call, dial("dial-1", "spring"))
    assert result.answered and [d.idempotency_key for d in carrier.dials] == ["dial-1"]
    assert (await in_use(session_factory)).outbound == 0, "the result's transaction freed the line"
    again = await ActivityEnvironment().run(activities.place_call, dial("dial-1", "spring"))
    assert again == result and (await in_use(session_factory)).outbound == 0, "a recorded result takes no line"


async def test_three_campaigns_on_the_sim_carrier_never_exceed_the_organizations_cap(
    dev_env, run_worker, session_factory: Sessions
) -> None:
    """Each campaign may dial three at once; together they get the organization's three outbound lines."""
    await an_org(session_factory, max_calls=4, reserve=1)
    campaign = settings(max_concurrent_calls=3)
    campaign_ids = [new_campaign_id() for _ in range(3)]
    for n, campaign_id in enumerate(campaign_ids):
        await seed(session_factory, campaign_id, [contact(n * 10 + i, "answers") for i in range(4)], campaign)
    carrier = SimCarrier(time_scale=0.02)  # each call ~0.2 s of real time, on the real-time dev server
    async with run_worker(carrier, dev_env) as tq:
        handles = [await start_campaign(dev_env.client, tq, cid, campaign, org_id=ORG) for cid in campaign_ids]
        await asyncio.gather(*(handle.result() for handle in handles))
    assert len(carrier.dials) == 12 and {d.campaign_id for d in carrier.dials} == set(campaign_ids)
    assert carrier.max_in_flight <= 3, "never more than the cap less the inbound reserve"
    assert (await in_use(session_factory)).outbound == 0, "every dial's line was freed with its result"


async def test_the_capacity_api_round_trip_is_an_admins_and_audited(api_stack) -> None:
    http = api_stack.org_a.http
    shown = await http.get("/v1/capacity")
    assert shown.status_code == 200
    assert shown.json() == {
        "capacity": {"max_concurrent_calls": None, "inbound_reserve": 0},
        "in_use": {"outbound": 0, "inbound": 0, "by_campaign": {}},
    }
    changed = await http.put("/v1/capacity", json={"max_concurrent_calls": 20, "inbound_reserve": 4})
    assert changed.status_code == 200, changed.text
    assert changed.json()["capacity"] == {"max_concurrent_calls": 20, "inbound_reserve": 4}
    assert (await api_stack.org_b.http.get("/v1/capacity")).json()["capacity"]["max_concurrent_calls"] is None

    too_big = await http.put("/v1/capacity", json={"max_concurrent_calls": 4, "inbound_reserve": 4})
    assert too_big.status_code == 422 and "inbound_reserve must be below" in too_big.text
    read_key = (await http.post("/v1/keys", json={"label": "dash", "scope": "read"})).json()["key"]
    refused = await http.put(
        "/v1/capacity", json={"max_concurrent_calls": 1}, headers={"Authorization": f"Bearer {read_key}"}
    )
    assert refused.status_code == 403
    async with api_stack.sessions() as session:
        events, _ = await audit.events(session, api_stack.org_a.id, limit=10, offset=0)
    [event] = [e for e in events if e.action == "capacity.replace"]
    assert event.details == {"max_concurrent_calls": 20, "inbound_reserve": 4}
    assert event.actor.startswith("API key")


def test_the_cli_sets_and_shows_an_organizations_capacity(cli_store_url: str) -> None:
    runner = CliRunner()

    def ringflow(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.stdout + result.stderr

    code, out = ringflow("org", "create", "Acme")
    org_id = re.search(r"organization (\S+)", out).group(1)
    code, out = ringflow("org", "capacity", org_id)
    assert code == 0 and "no cap on calls at once" in out, out
    code, out = ringflow("org", "capacity", org_id, "--max-calls", "12", "--inbound-reserve", "2")
    assert code == 0 and "at most 12 calls at once, 2 of them kept for inbound calls" in out, out
    code, out = ringflow("org", "capacity", org_id, "--max-calls", "15")
    assert code == 0 and "at most 15 calls at once, 2 of them" in out, out
    code, out = ringflow("org", "capacity", org_id, "--inbound-reserve", "15")
    assert code == 1 and "inbound_reserve must be below max_concurrent_calls" in out, out
    code, out = ringflow("org", "capacity", "nobody", "--max-calls", "3")
    assert code == 1 and "no organization 'nobody'" in out, out
    code, out = ringflow("org", "capacity", org_id, "--no-cap")
    assert code == 0 and "no cap on calls at once" in out, out

    async def actions() -> list[tuple[str, str]]:
        async with get_session_factory(cli_store_url)() as session:
            events, _ = await audit.events(session, org_id, limit=10, offset=0)
        await dispose_cached_engines()
        return [(event.actor, event.action) for event in events if event.action == "capacity.replace"]

    assert asyncio.run(actions()) == [(audit_service.CLI_ACTOR, "capacity.replace")] * 3
