"""A campaign's report (``api.services.reports``): the XLSX workbook's sheets hold what the store holds, the PDF
summary its title, counts and charts; another organization's campaign is a 404, an erased person is gone,
the CLI and the dashboard's links give the same files, and a large campaign is read a page at a time."""

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_stack import MEMBER_PASSWORD
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from pypdf import PdfReader
from pypdf.generic import ContentStream
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from api.services import reports as reports_service
from api.services.campaigns import CampaignNotFoundError
from api.services.people import erase_person
from api.services.reports import REPORT_PAGE_SIZE, write_report
from cli.app import app
from schemas.api import ReportFormat
from schemas.campaign import CampaignSettings
from schemas.settings import Settings, get_settings
from store import queries
from store.db import get_session_factory
from store.migrate import upgrade_database
from store.models import AttemptRow, ContactRow

T0 = datetime(2026, 11, 27, 9, 15, tzinfo=UTC)
SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]
FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'

Dial = tuple[int, str | None, bool, float, str | None, str | None]
"""Minutes after T0, network outcome, answered, seconds, the workflow's outcome, the agent's disposition."""
MIXED: list[tuple[str, str, str, str | None, str, list[Dial]]] = [
    ("p01", "Ann", "finished", "qualified", "wants a demo", [(0, "completed", True, 65.0, "qualified", "qualified")]),
    (
        "p02",
        FORMULA_NAME,
        "finished",
        "not_interested",
        "said no",
        [(1, "no_answer", False, 0.0, None, None), (61, "completed", True, 30.0, "not_interested", "not_interested")],
    ),
    (
        "p03",
        "Bo",
        "finished",
        "no_answer",
        "no answer after 2 attempts",
        [(2, "busy", False, 0.0, None, None), (62, "no_answer", False, 0.0, None, None)],
    ),
    ("p04", "Cy\x0b", "pending", None, "", []),  # a control character, which XLSX cannot hold
    ("p05", "Di", "active", None, "", [(125, None, False, 0.0, None, None)]),
    ("p06", "Ed", "finished", "qualified", "budget ok", [(70, "completed", True, 120.0, "qualified", "qualified")]),
]


def phone_of(external_id: str) -> str:
    return f"+4420794600{external_id[1:]}"


async def seed_mixed(sessions: async_sessionmaker[AsyncSession], org_id: str, campaign_id: str = "c-mix") -> None:
    """Campaign ``Mixed`` (the contacts and dials of ``MIXED``) and, beside it, one more campaign of the same
    organization whose rows the report must not show."""
    async with sessions() as session:
        await queries.create_campaign(session, campaign_id, "Mixed", CampaignSettings(), org_id=org_id)
        await queries.create_campaign(session, f"{campaign_id}-other", "Other", CampaignSettings(), org_id=org_id)
        for seq, (external_id, name, status, outcome, reason, dials) in enumerate(MIXED):
            finished_at = T0 + timedelta(minutes=dials[-1][0] + 5) if outcome else None
            session.add(
                contact_row(
                    campaign_id,
                    external_id,
                    seq,
                    name=name,
                    status=status,
                    attempts=len(dials),
                    final_outcome=outcome,
                    final_reason=reason,
                    finished_at=finished_at,
                )
            )
            session.add(contact_row(f"{campaign_id}-other", external_id, seq))
            for attempt, (minutes, network, answered, seconds, decided, disposition) in enumerate(dials, start=1):
                session.add(
                    AttemptRow(
                        idempotency_key=f"{campaign_id}-{external_id}-{attempt}",
                        campaign_id=campaign_id,
                        external_id=external_id,
                        attempt=attempt,
                        carrier="sim",
                        org_id=org_id,
                        phone=phone_of(external_id),
                        state="finished" if network else "dialling",
                        started_at=T0 + timedelta(minutes=minutes),
                        ended_at=T0 + timedelta(minutes=minutes, seconds=seconds + 20) if network else None,
                        network_outcome=network,
                        outcome=decided,
                        answered=answered,
                        duration_seconds=seconds,
                        network_status=(network or "").replace("_", "-"),
                        disposition=disposition,
                    )
                )
        session.add(attempt_row(f"{campaign_id}-other", "p01", org_id))
        await session.commit()


def contact_row(campaign_id: str, external_id: str, seq: int, **fields: Any) -> ContactRow:
    return ContactRow(
        campaign_id=campaign_id,
        external_id=external_id,
        phone=phone_of(external_id),
        timezone="UTC",
        attributes={},
        seq=seq,
        **fields,
    )


def attempt_row(campaign_id: str, external_id: str, org_id: str) -> AttemptRow:
    return AttemptRow(
        idempotency_key=f"{campaign_id}-{external_id}-1",
        campaign_id=campaign_id,
        external_id=external_id,
        attempt=1,
        carrier="sim",
        org_id=org_id,
        state="finished",
        started_at=T0,
        network_outcome="completed",
        answered=True,
        duration_seconds=10.0,
    )


def sheet_rows(sheet: Worksheet) -> list[tuple[Any, ...]]:
    return [tuple(cell.value for cell in row) for row in sheet.iter_rows()]


def summary_facts(sheet: Worksheet) -> dict[str, Any]:
    """The Summary sheet's label → value rows, and each table's rows under ``table:<its first header>``."""
    facts: dict[str, Any] = {}
    table: list[tuple[Any, ...]] | None = None
    for row in sheet.iter_rows():
        values = tuple(cell.value for cell in row)
        if not any(value is not None for value in values):
            table = None
        elif row[0].fill.fill_type == "solid":
            table = facts.setdefault(f"table:{values[0]}", [])
        elif table is not None:
            table.append(values)
        elif len(values) > 1:
            facts[values[0]] = values[1]
    return facts


def check_mixed_workbook(data: bytes) -> None:
    """The workbook of ``seed_mixed``'s campaign holds exactly its contacts and dials, and their counts."""
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["Summary", "Contacts", "Calls"]

    contacts = sheet_rows(workbook["Contacts"])
    assert contacts[0][:5] == ("External id", "Name", "Phone", "Status", "Final outcome")
    assert [row[0] for row in contacts[1:]] == [external_id for external_id, *_ in MIXED]
    ann = contacts[1]
    assert ann[1:7] == ("Ann", phone_of("p01"), "finished", "qualified", "wants a demo", 1)
    assert ann[7] == datetime(2026, 11, 27, 9, 20), "finished_at, a real datetime in UTC"
    formula = workbook["Contacts"].cell(row=3, column=2)
    assert (formula.value, formula.data_type) == (FORMULA_NAME, "s"), "a name is text, never a formula"
    assert contacts[4][1] == "Cy" and contacts[4][3:8] == ("pending", None, None, 0, None)

    calls = sheet_rows(workbook["Calls"])
    assert calls[0][:4] == ("External id", "Attempt", "Phone", "Started at (UTC)")
    expected = [(external_id, n) for external_id, *_, dials in MIXED for n in range(1, len(dials) + 1)]
    assert [row[:2] for row in calls[1:]] == expected
    second = calls[3]  # p02's answered redial
    assert second[3] == datetime(2026, 11, 27, 10, 16) and second[5:9] == (
        "not_interested",
        "not_interested",
        "completed",
        "completed",
    )
    assert (second[11], second[13]) == (True, 30.0)
    assert calls[-2][4:6] == (None, None) and calls[-2][7] is None, "p05's dial is under way"

    facts = summary_facts(workbook["Summary"])
    assert workbook["Summary"]["A1"].value == "Campaign report: Mixed"
    assert (facts["Campaign id"], facts["Contacts"], facts["Finished"], facts["Pending"]) == ("c-mix", 6, 4, 1)
    assert (facts["Dials"], facts["Finished calls"], facts["Answered calls"]) == (7, 6, 3)
    assert facts["Answer rate"] == pytest.approx(0.5) and facts["Average answered call (s)"] == pytest.approx(71.67)
    assert facts["table:Final outcome"] == [
        ("qualified", 2, pytest.approx(0.5)),
        ("no_answer", 1, pytest.approx(0.25)),
        ("not_interested", 1, pytest.approx(0.25)),
    ]
    network = {name: dials for name, dials, _ in facts["table:Network outcome"]}
    assert network == {"completed": 3, "no_answer": 2, "busy": 1, "unfinished": 1}
    assert facts["table:Hour (UTC)"] == [
        (datetime(2026, 11, 27, 9), 3, 1),
        (datetime(2026, 11, 27, 10), 3, 2),
        (datetime(2026, 11, 27, 11), 1, 0),
    ]


def filled_rectangles(page: Any, reader: PdfReader, rgb: tuple[float, float, float]) -> int:
    """How many rectangles the page fills in this colour: the bars of a reportlab chart."""
    fill: tuple[float, ...] = ()
    count = 0
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"rg":
            fill = tuple(round(float(value), 3) for value in operands)
        elif operator == b"re" and fill == tuple(round(value, 3) for value in rgb):
            count += 1
    return count


def check_mixed_pdf(data: bytes) -> None:
    reader = PdfReader(io.BytesIO(data))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "Campaign report: Mixed" in text and reader.metadata.title == "Campaign report: Mixed"
    for line in ("qualified 2 50.0%", "not_interested 1 25.0%", "no_answer 1 25.0%", "busy 1 14.3%"):
        assert line in text, line
    assert "Dials 7" in text and "Answer rate 50.0%" in text
    bars = sum(filled_rectangles(page, reader, reports_service.BAR_COLOR.rgb()) for page in reader.pages)
    assert bars == 3, "one bar per final outcome"
    answered = sum(filled_rectangles(page, reader, reports_service.ANSWERED_COLOR.rgb()) for page in reader.pages)
    assert answered == 2, "dials over time: the two hours with answered dials (an empty bar draws nothing)"


async def report_bytes(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, report_format: ReportFormat, org_id: str | None
) -> bytes:
    target = tmp_path / f"report.{report_format.value}"
    await write_report(
        sessions, target, org_id=org_id, campaign_id="c-mix", report_format=report_format, deployment=SETTINGS
    )
    return target.read_bytes()


async def test_the_workbook_holds_the_campaigns_contacts_calls_and_counts(session_factory, tmp_path) -> None:
    await seed_mixed(session_factory, "org-a")
    check_mixed_workbook(await report_bytes(session_factory, tmp_path, ReportFormat.XLSX, "org-a"))


async def test_the_pdf_has_the_title_outcome_counts_and_its_charts(session_factory, tmp_path) -> None:
    await seed_mixed(session_factory, "org-a")
    check_mixed_pdf(await report_bytes(session_factory, tmp_path, ReportFormat.PDF, "org-a"))


async def test_an_empty_campaign_reports_without_charts_or_rows(session_factory, tmp_path) -> None:
    async with session_factory() as session:
        await queries.create_campaign(session, "c-mix", "Nothing yet", CampaignSettings(), org_id="org-a")
        await session.commit()
    workbook = load_workbook(io.BytesIO(await report_bytes(session_factory, tmp_path, ReportFormat.XLSX, "org-a")))
    assert [len(sheet_rows(workbook[name])) for name in ("Contacts", "Calls")] == [1, 1]
    text = PdfReader(io.BytesIO(await report_bytes(session_factory, tmp_path, ReportFormat.PDF, "org-a"))).pages[0]
    assert "No contact has finished yet." in text.extract_text() and "No dials yet." in text.extract_text()


async def test_another_organizations_campaign_is_not_found_and_nothing_is_written(session_factory, tmp_path) -> None:
    await seed_mixed(session_factory, "org-a")
    for report_format in ReportFormat:
        with pytest.raises(CampaignNotFoundError):
            await report_bytes(session_factory, tmp_path, report_format, "org-b")
        assert not (tmp_path / f"report.{report_format.value}").exists()


async def test_an_erased_person_is_in_no_report(session_factory, tmp_path) -> None:
    await seed_mixed(session_factory, "org-a")
    await erase_person(None, session_factory, org_id="org-a", phone=phone_of("p03"))
    workbook = load_workbook(io.BytesIO(await report_bytes(session_factory, tmp_path, ReportFormat.XLSX, "org-a")))
    assert [row[0] for row in sheet_rows(workbook["Contacts"])[1:]] == ["p01", "p02", "p04", "p05", "p06"]
    assert "p03" not in {row[0] for row in sheet_rows(workbook["Calls"])}
    assert phone_of("p03") not in str([sheet_rows(workbook[name]) for name in workbook.sheetnames])
    assert summary_facts(workbook["Summary"])["Dials"] == 5


async def test_a_large_campaign_is_read_a_page_at_a_time(session_factory, store_engine, tmp_path) -> None:
    """20,000 contacts, every eighth dialled once: each sheet is read in pages of REPORT_PAGE_SIZE rows, one
    query per page, never the whole campaign (and never a query per row)."""
    contacts, dialled_every = 20_000, 8
    async with session_factory() as session:
        await queries.create_campaign(session, "c-big", "Big", CampaignSettings(), org_id="org-a")
        rows = [
            {
                "campaign_id": "c-big",
                "external_id": f"p{index:05d}",
                "name": f"Person {index}",
                "phone": f"+1415555{index:04d}",
                "timezone": "UTC",
                "attributes": {},
                "seq": index,
                "status": "finished",
                "final_outcome": "qualified" if index % 3 else "no_answer",
                "attempts": 1,
                "updated_at": T0,
                "finished_at": T0,
            }
            for index in range(contacts)
        ]
        await session.execute(ContactRow.__table__.insert(), rows)
        dials = [
            {
                "idempotency_key": f"c-big-{index}",
                "campaign_id": "c-big",
                "external_id": f"p{index:05d}",
                "attempt": 1,
                "carrier": "sim",
                "org_id": "org-a",
                "state": "finished",
                "started_at": T0 + timedelta(seconds=index),
                "network_outcome": "completed",
                "answered": True,
                "duration_seconds": 30.0,
            }
            for index in range(0, contacts, dialled_every)
        ]
        await session.execute(AttemptRow.__table__.insert(), dials)
        await session.commit()

    statements: list[str] = []
    engine = store_engine.sync_engine

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        target = tmp_path / "big.xlsx"
        written = await write_report(
            session_factory,
            target,
            org_id="org-a",
            campaign_id="c-big",
            report_format=ReportFormat.XLSX,
            deployment=SETTINGS,
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert (written.contacts, written.calls) == (contacts, len(dials))
    contact_pages = [s for s in statements if "ORDER BY contacts.external_id" in s]
    call_pages = [s for s in statements if "ORDER BY call_attempts.external_id" in s]
    # A full last page is followed by one that finds nothing more.
    assert len(contact_pages) == contacts // REPORT_PAGE_SIZE + 1
    assert len(call_pages) == -(-len(dials) // REPORT_PAGE_SIZE)
    assert all("LIMIT" in statement for statement in contact_pages + call_pages)
    selects = [statement for statement in statements if statement.lstrip().upper().startswith("SELECT")]
    assert len(selects) < len(contact_pages) + len(call_pages) + 10, "a few summary queries besides the pages"
    workbook = load_workbook(target, read_only=True)
    assert sum(1 for _ in workbook["Contacts"].iter_rows(values_only=True)) == contacts + 1
    assert sum(1 for _ in workbook["Calls"].iter_rows(values_only=True)) == len(dials) + 1


# ---- API, dashboard, CLI --------------------------------------------------------------------------


async def test_the_api_and_the_dashboards_links_serve_both_reports_to_their_organization_only(api_stack) -> None:
    await seed_mixed(api_stack.sessions, api_stack.org_a.id)
    http = api_stack.org_a.http
    workbook = await http.get("/v1/campaigns/c-mix/report.xlsx")
    assert workbook.status_code == 200
    assert workbook.headers["content-type"] == ReportFormat.XLSX.media_type
    assert workbook.headers["content-disposition"] == 'attachment; filename="c-mix-report.xlsx"'
    check_mixed_workbook(workbook.content)
    pdf = await http.get("/v1/campaigns/c-mix/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    check_mixed_pdf(pdf.content)
    for suffix in ("xlsx", "pdf"):
        refused = await api_stack.org_b.http.get(f"/v1/campaigns/c-mix/report.{suffix}")
        assert refused.status_code == 404 and refused.json() == {"detail": "no campaign 'c-mix'"}

    browser = api_stack.anonymous
    login = {"email": api_stack.org_a.email, "password": MEMBER_PASSWORD, "next": "/"}
    assert (await browser.post("/login", data=login)).status_code == 303
    page = (await browser.get("/campaigns/c-mix")).text
    assert "/report.xlsx`" in page and "/report.pdf`" in page and 'id="campaign-report-pdf"' in page
    downloaded = await browser.get("/v1/campaigns/c-mix/report.pdf")  # the link, with the session's cookie
    assert downloaded.status_code == 200 and downloaded.content.startswith(b"%PDF-")


@pytest.fixture
def cli_store(cli_store_url: str) -> None:
    """The CLI's store, migrated, holding campaign ``c-mix``."""
    url = get_settings().sqlalchemy_url
    asyncio.run(upgrade_database(url))
    asyncio.run(seed_mixed(get_session_factory(url), "default"))


def test_the_cli_writes_either_report_to_the_file_given(cli_store, tmp_path, monkeypatch) -> None:
    runner = CliRunner()
    target = tmp_path / "out.xlsx"
    written = runner.invoke(app, ["campaign", "report", "c-mix", "--output", str(target)])
    assert written.exit_code == 0, written.output
    assert f"written to {target} (6 contact(s), 7 call(s))" in written.stdout
    check_mixed_workbook(target.read_bytes())

    monkeypatch.chdir(tmp_path)
    pdf = runner.invoke(app, ["campaign", "report", "c-mix", "--format", "pdf"])
    assert pdf.exit_code == 0, pdf.output
    check_mixed_pdf((tmp_path / "c-mix-report.pdf").read_bytes())

    missing = runner.invoke(app, ["campaign", "report", "c-nope", "-o", str(tmp_path / "nope.xlsx")])
    assert missing.exit_code == 1 and "no campaign 'c-nope'" in missing.stderr
    assert not (tmp_path / "nope.xlsx").exists()
    wrong = runner.invoke(app, ["campaign", "report", "c-mix", "--format", "csv"])
    assert wrong.exit_code == 2
