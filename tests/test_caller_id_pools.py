"""Caller-ID pools: which number a dial shows (local presence, then round-robin), the caps that racing dials
cannot break, the calls-per-second gap, quarantine of a number whose calls stop being answered, and the
pools' API and CLI."""

import asyncio
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import FAST, finished_campaign, person
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment
from typer.testing import CliRunner
from workflow_helpers import contact, settings

from activities.calls import CallActivities
from cli.app import app
from schemas.calls import DialRequest
from schemas.causes import CauseClass
from schemas.outcomes import CallOutcome
from simulator.carrier import SimCarrier
from store import audit, caller_ids, capacity, numbers, queries
from store.db import dispose_cached_engines, get_session_factory
from store.models import AttemptRow, CallerIdPoolRow, CallerIdRow

Sessions = async_sessionmaker[AsyncSession]

SF, NYC, PALO_ALTO, LONDON = "+14155550100", "+12125550100", "+16505551234", "+442079460000"
SF_CALLEE, PARIS_CALLEE = "+14155552671", "+33142685300"
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def make_pool(
    sessions: Sessions, name: str, members: dict[str, tuple[int, float]], *, org_id: str = "default", **test
) -> CallerIdPoolRow:
    """A pool of the organization's numbers, each with (daily cap, calls per second)."""
    async with sessions() as session:
        pool = await caller_ids.create_pool(session, org_id, name, **test)
        for number, (cap, cps) in members.items():
            await numbers.upsert_number(session, number, org_id=org_id)
            await caller_ids.add_number(session, pool, number, daily_cap=cap, calls_per_second=cps)
        await session.commit()
        return pool


async def claims(sessions: Sessions, pool: CallerIdPoolRow, callee: str, moments: list[datetime]) -> list[str | None]:
    chosen = []
    for moment in moments:
        async with sessions() as session:
            chosen.append((await caller_ids.claim(session, pool, callee, moment)).number)
            await session.commit()
    return chosen


def every_second(count: int, start: datetime = T0) -> list[datetime]:
    return [start + timedelta(seconds=second) for second in range(count)]


async def test_a_callee_sees_a_number_of_their_own_area_while_it_may_dial(session_factory: Sessions) -> None:
    pool = await make_pool(session_factory, "sales", {LONDON: (10, 1), NYC: (10, 1), SF: (2, 1)})
    # the San Francisco number twice (its cap), then the other US number before the London one
    assert await claims(session_factory, pool, SF_CALLEE, every_second(4)) == [SF, SF, NYC, NYC]


async def test_without_a_local_number_the_pool_goes_round_robin(session_factory: Sessions) -> None:
    pool = await make_pool(session_factory, "sales", {SF: (10, 1), NYC: (10, 1), PALO_ALTO: (10, 1)})
    chosen = await claims(session_factory, pool, PARIS_CALLEE, every_second(6))
    assert chosen[:3] == chosen[3:] and sorted(chosen[:3]) == sorted([SF, NYC, PALO_ALTO])


async def test_a_number_waits_out_its_calls_per_second(session_factory: Sessions) -> None:
    pool = await make_pool(session_factory, "slow", {SF: (10, 0.5)})  # one dial every 2 s
    async with session_factory() as session:
        assert (await caller_ids.claim(session, pool, SF_CALLEE, T0)).number == SF
        busy = await caller_ids.claim(session, pool, SF_CALLEE, T0 + timedelta(seconds=1.5))
        assert busy.number is None and busy.wait == timedelta(seconds=0.5)
        assert (await caller_ids.claim(session, pool, SF_CALLEE, T0 + timedelta(seconds=2))).number == SF


async def test_a_numbers_day_is_the_utc_day(session_factory: Sessions) -> None:
    pool = await make_pool(session_factory, "capped", {SF: (1, 1)})
    last_minute = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    assert await claims(session_factory, pool, SF_CALLEE, [last_minute, last_minute + timedelta(seconds=30)]) == [
        SF,
        None,
    ]
    assert await claims(session_factory, pool, SF_CALLEE, [last_minute + timedelta(minutes=1)]) == [SF]
    async with session_factory() as session:
        row = (await caller_ids.pool_numbers(session, pool.id))[0]
        assert (row.usage_day.isoformat(), row.dials_today) == ("2026-12-01", 1)


def dial(campaign_id: str, index: int, phone: str = SF_CALLEE) -> DialRequest:
    person_ = contact(index, "answers", phone=phone)
    return DialRequest(
        idempotency_key=f"{campaign_id}-{index}",
        campaign_id=campaign_id,
        contact=person_,
        attempt=1,
        calls_per_second=100,
        workflow_id=f"w-{index}",
        org_id="default",
    )


async def seed_campaign(sessions: Sessions, campaign_id: str, pool: str | None) -> None:
    async with sessions() as session:
        await queries.create_campaign(session, campaign_id, campaign_id, settings(caller_id_pool=pool))
        await session.commit()


async def test_racing_dials_never_take_a_number_past_its_daily_cap(session_factory: Sessions) -> None:
    await make_pool(session_factory, "sales", {SF: (5, 1000), NYC: (5, 1000), PALO_ALTO: (5, 1000)})
    await seed_campaign(session_factory, "c-race", "sales")

    async def begin(index: int) -> caller_ids.CallerIdChoice:
        request = dial("c-race", index)
        async with session_factory() as session:
            row, created = await queries.begin_attempt(
                session, request.idempotency_key, "c-race", request.contact.external_id, 1, "sim"
            )
            choice = await caller_ids.caller_id_for_attempt(session, request, row, created=created)
            await session.commit()
            return choice

    choices = await asyncio.gather(*(begin(index) for index in range(50)))

    shown = Counter(choice.number for choice in choices if choice.number is not None)
    assert shown == {SF: 5, NYC: 5, PALO_ALTO: 5}
    refusals = [choice.refusal for choice in choices if choice.refusal is not None]
    assert len(refusals) == 35
    assert {(r.outcome, r.network_status) for r in refusals} == {(CallOutcome.FAILED, "caller-id-unavailable")}
    assert "3 at their daily cap" in refusals[0].detail
    async with session_factory() as session:
        stored = Counter((await session.scalars(select(AttemptRow.caller_id))).all())
        usage = {row.number: row.dials_today for row in (await session.scalars(select(CallerIdRow))).all()}
    assert stored == {SF: 5, NYC: 5, PALO_ALTO: 5, None: 35}
    assert usage == {SF: 5, NYC: 5, PALO_ALTO: 5}


async def test_a_dial_shows_the_pools_number_and_its_retry_keeps_it(session_factory: Sessions) -> None:
    await make_pool(session_factory, "sales", {NYC: (10, 100), SF: (10, 100)})
    await seed_campaign(session_factory, "c-pool", "sales")
    sim = SimCarrier(time_scale=0.0)
    activities = CallActivities(sim, session_factory)
    env = ActivityEnvironment()

    result = await env.run(activities.place_call, dial("c-pool", 1))
    again = await env.run(activities.place_call, dial("c-pool", 1))

    assert result.outcome == again.outcome == CallOutcome.COMPLETED
    assert [(call.idempotency_key, call.caller_id) for call in sim.dials] == [("c-pool-1", SF)]
    async with session_factory() as session:
        [row] = await queries.attempts_for(session, "c-pool", "p0001")
        assert row.caller_id == SF
        [sf] = [number for number in await session.scalars(select(CallerIdRow)) if number.number == SF]
        assert (sf.dials_today, sf.dials, sf.answered) == (1, 1, 1)


async def test_a_campaign_without_a_pool_dials_from_the_carriers_number(session_factory: Sessions) -> None:
    await seed_campaign(session_factory, "c-plain", None)
    sim = SimCarrier(time_scale=0.0)
    await ActivityEnvironment().run(CallActivities(sim, session_factory).place_call, dial("c-plain", 1))
    assert [call.caller_id for call in sim.dials] == [None]


async def test_a_dial_waits_briefly_for_a_number_and_not_past_a_second(session_factory: Sessions) -> None:
    await make_pool(session_factory, "brisk", {SF: (10, 4)})  # a dial every 0.25 s
    await seed_campaign(session_factory, "c-brisk", "brisk")
    sim = SimCarrier(time_scale=0.0)
    activities = CallActivities(sim, session_factory)
    started = time.monotonic()
    for index in (1, 2):
        await ActivityEnvironment().run(activities.place_call, dial("c-brisk", index))
    assert time.monotonic() - started >= 0.2
    assert [call.caller_id for call in sim.dials] == [SF, SF]

    await make_pool(session_factory, "sluggish", {NYC: (10, 0.1)})  # a dial every 10 s
    await seed_campaign(session_factory, "c-sluggish", "sluggish")
    await ActivityEnvironment().run(activities.place_call, dial("c-sluggish", 1))
    with pytest.raises(caller_ids.CallerIdBusyError):
        await ActivityEnvironment().run(activities.place_call, dial("c-sluggish", 2))
    async with session_factory() as session:  # nothing stored: the retry starts afresh
        assert await queries.attempts_for(session, "c-sluggish", "p0002") == []


async def test_a_pool_with_nothing_to_dial_fails_the_attempt_without_dialling(session_factory: Sessions) -> None:
    await make_pool(session_factory, "tiny", {SF: (1, 100)})
    await seed_campaign(session_factory, "c-tiny", "tiny")
    sim = SimCarrier(time_scale=0.0)
    activities = CallActivities(sim, session_factory)
    await ActivityEnvironment().run(activities.place_call, dial("c-tiny", 1))

    refused = await ActivityEnvironment().run(activities.place_call, dial("c-tiny", 2))

    assert (refused.outcome, refused.network_status) == (CallOutcome.FAILED, "caller-id-unavailable")
    assert refused.cause == CauseClass.NETWORK_RETRY  # the deployment's failure: the breaker counts it
    assert refused.detail == "no caller id in pool 'tiny' can dial now: 1 at their daily cap"
    assert len(sim.dials) == 1
    async with session_factory() as session:
        [row] = await queries.attempts_for(session, "c-tiny", "p0002")
        assert (row.state, row.network_status, row.caller_id) == ("finished", "caller-id-unavailable", None)
        assert row.cause == "network_retry"
        assert (await capacity.lines_in_use(session, "default")).outbound == 0, "the undialled attempt kept a line"


async def finish_dials(sessions: Sessions, number: str, dials: int, answered: int) -> None:
    async with sessions() as session:
        for index in range(dials):
            await caller_ids.count_finished_dial(session, number, answered=index < answered, now=T0)
        await session.commit()


async def quarantined(sessions: Sessions) -> dict[str, datetime | None]:
    async with sessions() as session:
        return {row.number: row.quarantined_until for row in (await session.scalars(select(CallerIdRow))).all()}


async def test_a_number_answered_under_half_the_pools_median_is_quarantined_after_50_dials(
    session_factory: Sessions,
) -> None:
    pool = await make_pool(session_factory, "sales", {SF: (500, 100), NYC: (500, 100), PALO_ALTO: (500, 100)})
    await finish_dials(session_factory, SF, 60, answered=30)  # 50%
    await finish_dials(session_factory, NYC, 60, answered=24)  # 40%
    await finish_dials(session_factory, PALO_ALTO, 49, answered=0)  # collapsed, but too few dials to judge
    assert set((await quarantined(session_factory)).values()) == {None}

    await finish_dials(session_factory, PALO_ALTO, 1, answered=0)  # its 50th: 0% < half of the median (40%)

    assert await quarantined(session_factory) == {SF: None, NYC: None, PALO_ALTO: T0 + timedelta(hours=24)}
    async with session_factory() as session:
        events, _ = await audit.events(session, "default", limit=10, offset=0)
        assert [(event.action, event.target) for event in events] == [("caller_id.quarantine", PALO_ALTO)]
        assert "possible spam label: answered 0 of 50 dials" in events[0].details["reason"]
        # the quarantined number is passed over while the others may dial
        for moment in every_second(4, T0 + timedelta(minutes=1)):
            assert (await caller_ids.claim(session, pool, "+16505550199", moment)).number != PALO_ALTO


async def test_a_number_at_half_the_median_or_above_is_not_quarantined(session_factory: Sessions) -> None:
    await make_pool(session_factory, "sales", {SF: (500, 100), NYC: (500, 100), PALO_ALTO: (500, 100)})
    await finish_dials(session_factory, SF, 50, answered=20)  # 40%
    await finish_dials(session_factory, NYC, 50, answered=20)  # 40%
    await finish_dials(session_factory, PALO_ALTO, 50, answered=10)  # 20%: exactly half the median
    assert set((await quarantined(session_factory)).values()) == {None}


async def test_only_quarantined_numbers_left_fail_the_dial(session_factory: Sessions) -> None:
    pool = await make_pool(session_factory, "lonely", {SF: (500, 100)})
    async with session_factory() as session:
        await session.execute(
            CallerIdRow.__table__.update().values(quarantined_until=T0 + timedelta(hours=1), quarantine_reason="x")
        )
        await session.commit()
        claim = await caller_ids.claim(session, pool, SF_CALLEE, T0)
    assert claim.unavailable == "1 quarantined (possible spam label)"


# ---- API and CLI -----------------------------------------------------------------------------------


async def test_pools_over_the_api_and_a_campaign_that_shows_their_number(api_stack) -> None:
    http, other = api_stack.org_a.http, api_stack.org_b.http
    async with api_stack.sessions() as session:
        await numbers.upsert_number(session, LONDON, org_id=api_stack.org_a.id)
        await numbers.upsert_number(session, NYC, org_id=api_stack.org_b.id)
        await session.commit()

    unknown = await http.post("/v1/campaigns", json={"name": "x", "settings": {**FAST, "caller_id_pool": "uk"},
                                                    "contacts": [person(1)]})  # fmt: skip
    assert unknown.status_code == 422
    assert unknown.json()["detail"].startswith("settings.caller_id_pool: your organization has no caller-ID pool")

    created = await http.post("/v1/caller-id-pools", json={"name": "uk"})
    assert created.status_code == 201, created.text
    assert created.json()["quarantine_min_dials"] == 50 and created.json()["quarantine_fraction"] == 0.5
    assert (await http.post("/v1/caller-id-pools", json={"name": "uk"})).status_code == 409
    not_ours = await http.post("/v1/caller-id-pools/uk/numbers", json={"number": NYC})
    assert not_ours.status_code == 422 and "not one of the organization's numbers" in not_ours.json()["detail"]
    added = await http.post("/v1/caller-id-pools/uk/numbers", json={"number": LONDON, "daily_cap": 3})
    assert added.status_code == 200, added.text
    [shown] = added.json()["numbers"]
    assert (shown["number"], shown["country"], shown["area_code"], shown["status"]) == (LONDON, "GB", "20", "active")
    assert (await other.get("/v1/caller-id-pools/uk")).status_code == 404

    started = await http.post("/v1/campaigns", json={"name": "uk", "settings": {**FAST, "caller_id_pool": "uk"},
                                                    "contacts": [person(1), person(2)]})  # fmt: skip
    assert started.status_code == 201, started.text
    campaign_id = started.json()["campaign"]["id"]
    await finished_campaign(http, campaign_id)
    calls = (await http.get("/v1/calls", params={"campaign_id": campaign_id})).json()["items"]
    assert [call["caller_id"] for call in calls] == [LONDON, LONDON]
    assert {dial.caller_id for dial in api_stack.carrier.dials} == {LONDON}
    pool = (await http.get("/v1/caller-id-pools/uk")).json()
    assert pool["numbers"][0]["dials_today"] == 2

    draft = await http.post("/v1/campaigns", json={"name": "later", "settings": {**FAST, "caller_id_pool": "uk"},
                                                  "contacts": [person(3)], "start": False})  # fmt: skip
    assert draft.status_code == 201, draft.text
    assert (await http.delete(f"/v1/caller-id-pools/uk/numbers/{LONDON}")).status_code == 204
    assert (await http.delete(f"/v1/caller-id-pools/uk/numbers/{LONDON}")).status_code == 404
    assert (await http.delete("/v1/caller-id-pools/uk")).status_code == 204
    assert (await http.get("/v1/caller-id-pools")).json() == {"items": []}
    refused = await http.post(f"/v1/campaigns/{draft.json()['campaign']['id']}/start")
    assert refused.status_code == 422 and "no caller-ID pool named 'uk'" in refused.json()["detail"]


def ringflow(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, re.sub(r"\s+", " ", result.stdout + result.stderr)


def test_pools_on_the_command_line(cli_store_url: str, tmp_path) -> None:
    code, out = ringflow("numbers", "pool", "list")
    assert code == 0 and "no caller-ID pools yet" in out, out
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(f"name,phone\nDana,{SF_CALLEE}\n")
    code, out = ringflow("campaign", "start", str(contacts), "--caller-id-pool", "sales", "--no-follow")
    assert code == 1 and "no caller-ID pool named 'sales'" in out, out

    async def own_numbers() -> None:
        async with get_session_factory(cli_store_url)() as session:
            await numbers.upsert_number(session, SF)
            await session.commit()
        await dispose_cached_engines()

    asyncio.run(own_numbers())
    code, out = ringflow("numbers", "pool", "create", "sales", "--hours", "12")
    assert code == 0 and "caller-ID pool sales created" in out, out
    code, out = ringflow("numbers", "pool", "create", "sales")
    assert code == 1 and "already has a caller-ID pool named 'sales'" in out
    code, out = ringflow("numbers", "pool", "add", "sales", NYC)
    assert code == 1 and "is not one of the organization's numbers" in out
    code, out = ringflow("numbers", "pool", "add", "sales", SF, "--daily-cap", "0")
    assert code == 2 and "daily_cap" in out
    code, out = ringflow("numbers", "pool", "add", "sales", SF, "--daily-cap", "40", "--cps", "2")
    assert code == 0 and SF in out and "US 415" in out and "active" in out, out
    code, out = ringflow("numbers", "pool", "show", "sales")
    assert code == 0 and "for 12 h" in out and "0/0" in out, out
    assert ringflow("numbers", "pool", "remove", "sales", SF)[0] == 0
    assert ringflow("numbers", "pool", "delete", "sales")[0] == 0
    code, out = ringflow("numbers", "pool", "show", "sales")
    assert code == 1 and "no caller-ID pool 'sales'" in out
