"""CSV contact lists: good rows come through, every bad row is reported with its line number."""

import io
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schemas.campaign import CampaignSettings
from schemas.imports import RowError
from store.contacts import add_contacts
from store.csv_import import MAX_LISTED_UNCERTAIN, ContactIntake, load_contacts_csv, parse_contacts_csv
from store.queries import count_contacts, create_campaign

pytest_plugins = ["store_fixtures"]

LIST = """\
external_id,phone,name,priority,plan
a1,+1 415 555 0101,Ann,2,gold
a2,+1 555,Bob,,silver
a3,+14155550102,Cy,,
a1,+14155550103,Ann again,,
a4,+1 (415) 555-0101,Same phone,,

a5,+44 20 7946 0958,"Multi
line",1,
a6,+14155550104,Known,,
"""


def messages(errors: list[RowError]) -> dict[int, str]:
    return {error.line: error.message for error in errors}


async def test_good_rows_are_imported_and_bad_rows_reported_by_line(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    report = parse_contacts_csv(LIST, existing_external_ids={"a6"})

    assert [c.external_id for c in report.contacts] == ["a1", "a3", "a5"]
    assert messages(report.errors) == {
        3: "phone '+1 555' has the wrong length for a phone number",
        5: "external id 'a1' already appears on line 2",
        6: "phone +14155550101 already appears on line 2 (external id 'a1')",
        10: "external id 'a6' is already in the campaign",
    }
    assert [e.external_id for e in report.errors] == ["a2", "a1", "a4", "a6"]
    assert not report.ok
    assert report.summary().splitlines()[:2] == [
        "3 contact(s) ready, 4 row(s) rejected",
        "line 3: phone '+1 555' has the wrong length for a phone number",
    ]
    first, _, multi_line = report.contacts
    assert (first.phone, first.priority, first.attributes) == ("+14155550101", 2, {"plan": "gold"})
    assert (multi_line.name, multi_line.timezone) == ("Multi\nline", "Europe/London")

    async with session_factory() as session:
        await create_campaign(session, "c-csv", "From a file", CampaignSettings())
        result = await add_contacts(session, "c-csv", report.contacts)
        await session.commit()
        assert (result.added, await count_contacts(session, "c-csv")) == (3, 3)


def test_missing_phone_column_is_one_error_on_the_header() -> None:
    report = parse_contacts_csv("id,name\n1,Ann\n2,Bob\n")
    assert report.contacts == []
    assert [(e.line, e.message) for e in report.errors] == [(1, "missing required column 'phone' (found: id, name)")]


def test_headers_are_forgiving_and_ids_default_to_the_line() -> None:
    report = parse_contacts_csv("\ufeff Phone ;NAME;Account Manager\n+14155550101;Ann;Zoe\n\n+14155550102;Bob;\n")
    assert report.ok
    assert [(c.external_id, c.name, c.attributes) for c in report.contacts] == [
        ("row-2", "Ann", {"Account Manager": "Zoe"}),
        ("row-4", "Bob", {"Account Manager": ""}),
    ]
    aliased = parse_contacts_csv("Contact-ID,phone\nx-1,+14155550101\n")
    assert [c.external_id for c in aliased.contacts] == ["x-1"]


def test_each_bad_field_is_named() -> None:
    report = parse_contacts_csv(
        "id,phone,timezone,priority,persona\n"
        "1,+14155550101,Mars/Olympus,high,robot\n"
        ",+14155550102,,,\n"
        "3,+14155550103,,,,extra\n"
        "4,+14155550104,Europe/Paris,-1,Voicemail\n"
    )
    first, second, third = report.errors
    assert first.line == 2 and first.message.split("; ")[:3] == [
        "priority 'high' is not a whole number",
        "timezone 'Mars/Olympus' is not an IANA time zone",
        "unknown persona 'robot'",
    ]
    assert (second.line, second.external_id, second.message) == (3, None, "external id is empty")
    assert (third.line, third.message) == (4, "6 fields but the header has 5: check the separators and quotes")
    (good,) = report.contacts
    assert (good.timezone, good.priority, good.attributes) == ("Europe/Paris", -1, {"persona": "voicemail"})


def test_load_from_a_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("phone,id\r\n+14155550101,a\r\n", encoding="utf-8-sig")
    report = load_contacts_csv(path)
    assert report.ok and [c.external_id for c in report.contacts] == ["a"]
    assert parse_contacts_csv("").errors[0].line == 1


ZONES_LIST = """\
external_id,phone,timezone,region
perth,+61 8 9123 4567,,
perth-known,+61 8 9123 4568,Australia/Perth,
miami,+1 305 555 0123,,
moved,+1 305 555 0124,,US-NY
listed,+61 8 9123 4569,,
bad-region,+1 305 555 0125,,Florida
"""


def test_numbers_with_several_zones_are_counted_and_named_and_a_timezone_or_region_column_overrides() -> None:
    intake = ContactIntake()
    contacts = {c.external_id: c for c in intake.csv_contacts(io.StringIO(ZONES_LIST, newline=""))}
    kept = intake.refuse_listed(list(contacts.values()), {"+61891234569"})

    assert [c.external_id for c in kept] == ["perth", "perth-known", "miami", "moved"]
    assert contacts["perth"].zones == ["Australia/Adelaide", "Australia/Perth"]
    assert contacts["perth-known"].zones == ["Australia/Perth"] and contacts["perth-known"].zone_confident
    assert (contacts["miami"].region, contacts["moved"].region) == ("US-FL", "US-NY")
    # The listed Perth number was uncertain too, but it is no longer an accepted contact.
    assert (intake.uncertain_zones, intake.uncertain_zone_ids) == (1, ["perth"])
    assert [(error.line, error.external_id) for error in intake.errors] == [(6, "listed"), (7, "bad-region")]
    assert "do-not-call" in intake.errors[0].message and "region" in intake.errors[1].message


def test_only_the_first_uncertain_ids_are_named_but_all_are_counted() -> None:
    rows = [{"external_id": f"p{n}", "phone": f"+61 8 9123 {4000 + n}"} for n in range(MAX_LISTED_UNCERTAIN + 5)]
    intake = ContactIntake()
    assert len(list(intake.row_contacts(rows))) == MAX_LISTED_UNCERTAIN + 5
    assert intake.uncertain_zones == MAX_LISTED_UNCERTAIN + 5
    assert intake.uncertain_zone_ids == [f"p{n}" for n in range(MAX_LISTED_UNCERTAIN)]
