"""Organizations, API keys and the do-not-call list: the store functions, the dial guard and the CLI."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment
from typer.testing import CliRunner
from workflow_helpers import contact, settings

from activities.calls import CallActivities
from cli.app import app
from schemas.agent import AgentConfig
from schemas.calls import DialRequest
from schemas.outcomes import CallOutcome
from schemas.settings import get_settings
from simulator.carrier import SimCarrier
from store import dnc, numbers, queries
from store.csv_import import parse_contacts_csv
from store.models import ApiKeyRow
from store.orgs import create_api_key, create_org, org_for_api_key, revoke_api_key

Sessions = async_sessionmaker[AsyncSession]


async def test_a_key_finds_its_org_and_only_its_hash_is_stored(session_factory: Sessions) -> None:
    async with session_factory() as session:
        acme, acme_key = await create_org(session, "Acme Health")
        globex, globex_key = await create_org(session, "Globex")
        await session.commit()
    async with session_factory() as session:
        assert (await org_for_api_key(session, acme_key)).id == acme.id
        assert (await org_for_api_key(session, globex_key)).id == globex.id
        assert await org_for_api_key(session, acme_key + "x") is None
        assert await org_for_api_key(session, "not-a-key") is None
        stored = [row.key_hash for row in (await session.scalars(select(ApiKeyRow))).all()]
    assert acme.id.startswith("acme-health-")
    assert len(stored) == 2 and acme_key not in stored and globex_key not in stored


async def test_a_revoked_key_stops_working_and_the_other_keys_do_not(session_factory: Sessions) -> None:
    async with session_factory() as session:
        org, first = await create_org(session, "Initech")
        second = await create_api_key(session, org.id, label="ci")
        assert await revoke_api_key(session, org.id, first[:10])
        assert not await revoke_api_key(session, "someone-else", second[:10])
        await session.commit()
    async with session_factory() as session:
        assert await org_for_api_key(session, first) is None
        assert (await org_for_api_key(session, second)).id == org.id
    with pytest.raises(ValueError, match="first 10 characters"):
        async with session_factory() as session:
            await revoke_api_key(session, org.id, "rf_")


async def test_an_org_needs_a_name(session_factory: Sessions) -> None:
    async with session_factory() as session:
        with pytest.raises(ValueError, match="needs a name"):
            await create_org(session, "   ")


async def test_agent_names_are_per_organization(session_factory: Sessions) -> None:
    async with session_factory() as session:
        await queries.save_agent(session, AgentConfig(name="sam", instructions="Org A's Sam."), org_id="org-a")
        await queries.save_agent(session, AgentConfig(name="sam", instructions="Org B's Sam."), org_id="org-b")
        await session.commit()
    async with session_factory() as session:
        assert (await queries.get_agent(session, "sam", "org-a")).instructions == "Org A's Sam."
        assert (await queries.get_agent(session, "sam", "org-b")).instructions == "Org B's Sam."
        assert await queries.get_agent(session, "sam") is None
        assert await queries.delete_agent(session, "sam", "org-a")
        await session.commit()
    async with session_factory() as session:
        assert [a.name for a in await queries.list_agents(session, "org-b")] == ["sam"]
        assert await queries.list_agents(session, "org-a") == []


async def test_campaigns_are_seen_only_by_their_organization(session_factory: Sessions) -> None:
    async with session_factory() as session:
        await queries.create_campaign(session, "c-a", "A's", settings(), org_id="org-a", agent_name="sam")
        await queries.create_campaign(session, "c-b", "B's", settings(), org_id="org-b")
        await session.commit()
    async with session_factory() as session:
        assert (await queries.get_campaign(session, "c-a", "org-a")).agent_name == "sam"
        assert await queries.get_campaign(session, "c-a", "org-b") is None
        assert (await queries.get_campaign(session, "c-a")).org_id == "org-a"
        assert [c.id for c in await queries.list_campaigns(session, "org-b")] == ["c-b"]


async def test_the_do_not_call_list_adds_removes_and_looks_up_per_org(session_factory: Sessions) -> None:
    async with session_factory() as session:
        assert await dnc.add_to_dnc(session, "org-a", "+442079460001", "asked on the phone")
        assert not await dnc.add_to_dnc(session, "org-a", "+442079460001", "again")
        assert await dnc.add_to_dnc(session, "org-a", "+442079460002")
        await dnc.add_to_dnc(session, "org-b", "+442079460003")
        await session.commit()
    async with session_factory() as session:
        wanted = ["+442079460001", "+442079460003", "+442079460009"]
        assert await dnc.dnc_among(session, "org-a", wanted) == {"+442079460001"}
        assert (await dnc.get_dnc(session, "org-a", "+442079460001")).reason == "asked on the phone"
        assert {row.phone for row in await dnc.list_dnc(session, "org-a")} == {"+442079460001", "+442079460002"}
        assert await dnc.remove_from_dnc(session, "org-a", "+442079460002")
        assert not await dnc.remove_from_dnc(session, "org-a", "+442079460002")
        await session.commit()
    async with session_factory() as session:
        assert [row.phone for row in await dnc.list_dnc(session, "org-a")] == ["+442079460001"]


def test_csv_import_names_the_line_of_a_do_not_call_number() -> None:
    text = "external_id,phone\na,+44 20 7946 0001\nb,+44 20 7946 0002\n"
    report = parse_contacts_csv(text, do_not_call={"+442079460002"})
    assert [c.external_id for c in report.contacts] == ["a"]
    assert [(e.line, e.message) for e in report.errors] == [(3, "phone +442079460002 is on the do-not-call list")]


async def test_a_listed_number_is_never_dialled_but_a_dialled_attempt_is_still_recovered(
    session_factory: Sessions,
) -> None:
    listed, other = contact(1, "answers"), contact(2, "answers")
    async with session_factory() as session:
        await queries.create_campaign(session, "c-dnc", "dnc", settings(), org_id="org-a")
        await queries.create_campaign(session, "c-other-org", "other", settings(), org_id="org-b")
        await dnc.add_to_dnc(session, "org-a", listed.phone)
        await session.commit()
    carrier = SimCarrier(time_scale=0)
    activities = CallActivities(carrier, session_factory)

    def request(campaign_id: str, who, key: str) -> DialRequest:
        return DialRequest(
            idempotency_key=key, campaign_id=campaign_id, contact=who, attempt=1, calls_per_second=100, workflow_id=key
        )

    env = ActivityEnvironment()
    blocked = await env.run(activities.place_call, request("c-dnc", listed, "k-listed"))
    assert blocked.outcome == CallOutcome.DO_NOT_CALL and "do-not-call" in blocked.detail
    assert carrier.dials == []
    # Another organization's list does not apply, and unlisted numbers ring.
    assert (await env.run(activities.place_call, request("c-other-org", listed, "k-b"))).answered
    assert (await env.run(activities.place_call, request("c-dnc", other, "k-other"))).answered
    # A number listed after its attempt was dialled: the retry reports that call, it does not block it.
    async with session_factory() as session:
        await dnc.add_to_dnc(session, "org-a", other.phone)
        await session.commit()
    assert (await env.run(activities.place_call, request("c-dnc", other, "k-other"))).answered
    assert len(carrier.dials) == 2


# ---- the CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("RINGFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'orgs.db'}")
    monkeypatch.setenv("RINGFLOW_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_org_create_prints_a_key_that_org_list_counts_and_revoke_kills(cli_store: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["org", "create", "Acme Health"])
    assert created.exit_code == 0, created.output
    org_id = re.search(r"organization (\S+)", created.stdout).group(1)
    key = re.search(r"(rf_\S+)", created.stdout).group(1)
    second = runner.invoke(app, ["org", "key", org_id, "--label", "ci"])
    assert second.exit_code == 0 and "rf_" in second.stdout
    listing = runner.invoke(app, ["org", "list"])
    assert org_id in listing.stdout and "2" in listing.stdout
    assert runner.invoke(app, ["org", "revoke", org_id, key[:12]]).exit_code == 0
    again = runner.invoke(app, ["org", "revoke", org_id, key[:12]])
    assert again.exit_code == 1 and "no live key" in again.output
    unknown = runner.invoke(app, ["org", "key", "no-such-org"])
    assert unknown.exit_code == 1 and "no organization" in unknown.output


def test_the_default_org_gets_a_key_on_first_ask(cli_store: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["org", "key", "default"])
    assert created.exit_code == 0, created.output
    assert "default" in runner.invoke(app, ["org", "list"]).stdout


async def test_a_number_moved_to_another_org_drops_the_old_orgs_agent(session_factory: Sessions) -> None:
    async with session_factory() as session:
        await numbers.upsert_number(session, "+14155550100", twilio_sid="PN1", org_id="org-a")
        assert await numbers.assign_agent(session, "+14155550100", "sam", "org-a")
        assert not await numbers.assign_agent(session, "+14155550100", "sam", "org-b")
        await numbers.upsert_number(session, "+14155550100", twilio_sid="PN1", friendly_name="main", org_id="org-a")
        await session.commit()
    async with session_factory() as session:
        assert (await numbers.get_number(session, "+14155550100", "org-a")).agent_name == "sam"
        assert await numbers.get_number(session, "+14155550100", "org-b") is None
        await numbers.upsert_number(session, "+14155550100", twilio_sid="PN1", org_id="org-b")
        await session.commit()
    async with session_factory() as session:
        moved = await numbers.get_number(session, "+14155550100", "org-b")
        assert moved.agent_name is None and moved.friendly_name == ""
        assert [row.number for row in await numbers.list_numbers(session, "org-a")] == []
