"""``ringflow campaign preview`` and ``POST /v1/campaigns/preview``: when each contact of a list would first
be dialled and why, and which rows an import would reject, with nothing created."""

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.app import app
from cli.common import console as cli_console
from schemas.compliance import CallingPolicy
from schemas.settings import get_settings
from store import compliance, dnc
from store.db import dispose_cached_engines, get_session_factory
from store.migrate import upgrade_database
from store.models import DEFAULT_ORG_ID, AttemptRow, CampaignRow, ContactRow

runner = CliRunner()

NOW = "2026-11-30T10:00:00Z"
"""A Monday: 18:00 in Perth, 20:30 in Adelaide, 05:00 in Miami, 11:00 in Berlin."""
PERTH, MIAMI, BERLIN, LISTED = "+61891234567", "+13055550123", "+49301234567", "+442079460006"
CSV = (
    "external_id,name,phone\n"
    "perth,Pat,+61 8 9123 4567\n"  # Adelaide and Perth: dialled only when both allow it
    "miami,Mia,+1 305 555 0123\n"  # US-FL: 08:00-20:00 floor, inside the 09:00-20:00 window
    "berlin,Ben,+49 30 1234567\n"  # 11:00 on a Monday: at once
    "bad,Bo,12345\n"
    "listed,Lu,+44 20 7946 0006\n"  # on the do-not-call list
)
EXPECTED_FIRST_DIALS = {
    "perth": "2026-12-01T01:00:00Z",  # Tuesday 09:00 in Perth, 11:30 in Adelaide
    "miami": "2026-11-30T14:00:00Z",  # 09:00 in Miami
    "berlin": "2026-11-30T10:00:00Z",  # now
}


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[│┃╭╮╰╯─━┏┓┗┛┡┩└┘┌┐╇┳┻╋┼├┤]", " ", text)).strip()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def store_url(cli_store_url: str) -> str:
    """A fresh SQLite store as the CLI's, with the default organization's do-not-call list holding LISTED."""

    async def list_number() -> None:
        await upgrade_database(get_settings().sqlalchemy_url)
        async with get_session_factory(get_settings().sqlalchemy_url)() as session:
            await dnc.add_to_dnc(session, DEFAULT_ORG_ID, LISTED, "asked")
            await session.commit()
        await dispose_cached_engines()

    asyncio.run(list_number())
    return cli_store_url


def _stored_rows() -> tuple[int, int]:
    async def count() -> tuple[int, int]:
        async with get_session_factory(get_settings().sqlalchemy_url)() as session:
            campaigns = await session.scalar(select(func.count()).select_from(CampaignRow))
            contacts = await session.scalar(select(func.count()).select_from(ContactRow))
        await dispose_cached_engines()
        return campaigns or 0, contacts or 0

    return asyncio.run(count())


def test_cli_preview_json_gives_each_contacts_first_dial_and_creates_nothing(store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(CSV)
    result = runner.invoke(app, ["campaign", "preview", str(path), "--json", "--now", NOW])

    assert result.exit_code == 0, result.output
    rows = {row["external_id"]: row for row in json.loads(result.stdout)}
    assert {name: row["first_dial_at"] for name, row in rows.items()} == EXPECTED_FIRST_DIALS
    perth, miami, berlin = rows["perth"], rows["miami"], rows["berlin"]
    assert perth["zones"] == ["Australia/Adelaide", "Australia/Perth"] and perth["zone_confident"] is False
    assert perth["local_times"] == {
        "Australia/Adelaide": "2026-11-30 20:30 ACDT",
        "Australia/Perth": "2026-11-30 18:00 AWST",
    }
    assert "calling hours in Australia/Adelaide, Australia/Perth" in perth["reason"]
    assert (miami["phone"], miami["region"], miami["zones"]) == (MIAMI, "US-FL", ["America/New_York"])
    assert miami["rule"].startswith("US-FL 08:00-20:00")
    assert berlin["verdict"] == "dial" and berlin["zone_confident"] is True
    errors = _flat(result.stderr)
    assert "5 bad phone '12345' is not a phone number" in errors
    assert f"6 listed phone {LISTED} is on the do-not-call list" in errors
    assert "1 contact(s) may be in several time zones" in errors
    assert _stored_rows() == (0, 0)


def test_cli_preview_table_follows_the_campaign_window_options(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_console, "width", 220)
    path = tmp_path / "contacts.csv"
    path.write_text(CSV)
    result = runner.invoke(
        app, ["campaign", "preview", str(path), "--now", NOW, "--window", "12:00-17:00", "--days", "mon-fri"]
    )

    assert result.exit_code == 0, result.output
    output = _flat(result.stdout)
    assert "berlin +49301234567 Europe/Berlin DE 2026-11-30 11:00 Mon 12:00" in output
    assert (
        "3 contact(s) would be imported, 2 row(s) rejected, as of 2026-11-30 10:00 UTC; nothing was created" in output
    )
    assert "1 contact(s) may be in several time zones: dialled only when all allow it; add a timezone column" in output
    assert _stored_rows() == (0, 0)


async def _campaign_count(api_stack) -> int:
    async with api_stack.sessions() as session:
        return await session.scalar(select(func.count()).select_from(CampaignRow)) or 0


async def test_api_preview_of_a_csv_upload_or_a_json_list_creates_nothing(api_stack) -> None:
    """Under the legal floor (organization A's policy here), a number already dialled three times in the last
    24 hours waits for Florida's attempt cap as well; organization B, whose dials those were not, need not."""
    http = api_stack.org_a.http
    async with api_stack.sessions() as session:
        await compliance.set_policy(session, api_stack.org_a.id, CallingPolicy(), changed_by="tests")
        await session.commit()
    assert (await http.post("/v1/dnc", json={"phone": LISTED, "reason": "asked"})).status_code == 201
    before = await _campaign_count(api_stack)

    upload = await http.post(
        "/v1/campaigns/preview",
        files={"file": ("list.csv", CSV.encode(), "text/csv")},
        data={"now": NOW, "settings": json.dumps({"window": {"start": "09:00", "end": "20:00"}})},
    )
    assert upload.status_code == 200, upload.text
    body = upload.json()
    assert {row["external_id"]: row["first_dial_at"] for row in body["contacts"]} == EXPECTED_FIRST_DIALS
    assert (body["valid"], body["rejected"], [error["line"] for error in body["errors"]]) == (3, 2, [5, 6])
    assert (body["uncertain_zones"], body["uncertain_zone_ids"]) == (1, ["perth"])
    assert _utc(body["now"]) == _utc(NOW)

    async with api_stack.sessions() as session:
        for minutes in (30, 60, 90):
            session.add(
                AttemptRow(
                    idempotency_key=f"earlier-{minutes}",
                    campaign_id="c-earlier",
                    external_id="miami",
                    attempt=1,
                    carrier="sim",
                    org_id=api_stack.org_a.id,
                    phone=MIAMI,
                    started_at=_utc(NOW) - timedelta(minutes=minutes),
                )
            )
        await session.commit()
    rows = [{"external_id": "miami", "phone": MIAMI}, {"external_id": "listed", "phone": LISTED}, {"phone": "1"}]
    listed = await http.post("/v1/campaigns/preview", json={"contacts": rows, "now": NOW})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    [miami] = body["contacts"]
    # Three dials from 08:30 UTC: the cap allows the next at 08:30 UTC tomorrow, 03:30 in Miami; then 09:00 there.
    assert _utc(miami["first_dial_at"]) == _utc("2026-12-01T14:00:00Z")
    assert "attempt cap" in miami["reason"] and miami["rule"].startswith("US-FL 08:00-20:00")
    assert [error["line"] for error in body["errors"]] == [2, 3]

    other_org = await api_stack.org_b.http.post("/v1/campaigns/preview", json={"contacts": rows, "now": NOW})
    assert _utc(other_org.json()["contacts"][0]["first_dial_at"]) == _utc(EXPECTED_FIRST_DIALS["miami"])
    assert await _campaign_count(api_stack) == before
