"""CSV contact lists: good rows come through, every bad row is reported with its line number."""

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schemas.campaign import CampaignSettings
from schemas.imports import RowError
from store.contacts import add_contacts
from store.csv_import import load_contacts_csv, parse_contacts_csv
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
