"""A campaign's report, as an XLSX workbook or a PDF summary, for the REST API, the dashboard and the CLI alike.

The workbook has three sheets: Summary (the campaign's facts and counts), Contacts (one row per contact)
and Calls (one row per dial). Its rows are read from the store a page at a time (keyset pages of
``REPORT_PAGE_SIZE``, each in a short read-only transaction) and written by openpyxl's write-only
workbook, which spools each sheet to disk: a campaign of 100,000 contacts is never held in memory, and
no database connection stays open while the file is built. The openpyxl and reportlab work runs in a
thread, so the event loop keeps serving meanwhile.

The PDF is a summary only (facts, outcome and network tables, a bar chart of final outcomes and one of
dials over time), drawn with reportlab's own charts. Times are UTC throughout: Excel has no time zones,
so the workbook's datetimes are UTC wall times under headers that say so.
"""

import asyncio
import math
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.services.campaigns import owned_campaign
from schemas.api import ContactCounts, ReportFormat, Stats
from schemas.settings import Settings
from store import reports
from store.db import begin_read_only
from store.models import utcnow

FILE_CHUNK_BYTES = 256 * 1024
REPORT_PAGE_SIZE = 1000
"""Rows read from the store per query, and written to the workbook per step."""
MAX_TIME_BARS = 72
"""Dials over time are drawn per hour up to this many hours, per day past it."""
BAR_COLOR = colors.HexColor("#2563eb")
"""The final-outcome bars (the tests find the chart's bars by this fill)."""
ANSWERED_COLOR = colors.HexColor("#16a34a")
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_BACKGROUND = colors.HexColor("#1F4E78")
HEADER_FILL = PatternFill("solid", fgColor=HEADER_BACKGROUND.hexval()[2:])
TITLE_FONT = Font(bold=True, size=14)
PERCENT_FORMAT = "0.0%"

Row = TypeVar("Row")


def report_filename(campaign_id: str, report_format: ReportFormat) -> str:
    return f"{campaign_id}-report.{report_format.value}"


@dataclass(frozen=True)
class CampaignSummary:
    """Everything the report says about the campaign as a whole; small whatever the campaign's size."""

    campaign_id: str
    name: str
    status: str
    agent_name: str | None
    created_at: datetime
    generated_at: datetime
    contacts: ContactCounts
    stats: Stats
    """The finished calls' counts, and ``final_outcomes``: contacts by final outcome."""
    network_outcomes: dict[str, int]
    hours: list[reports.HourOfDials]

    @property
    def dials(self) -> int:
        """Every dial, finished or not (``stats.calls`` counts the finished ones)."""
        return sum(self.network_outcomes.values())


@dataclass(frozen=True)
class ReportWritten:
    """What a report holds: its contact and call rows (a PDF lists none, and says 0)."""

    contacts: int
    calls: int


async def campaign_summary(
    sessions: async_sessionmaker[AsyncSession], *, org_id: str | None, campaign_id: str, deployment: Settings
) -> CampaignSummary:
    """The campaign's facts and counts; ``CampaignNotFoundError`` if ``org_id`` does not own it (None: an
    operator's CLI, which sees every organization)."""
    async with sessions() as session:
        await begin_read_only(session)
        campaign = await owned_campaign(session, org_id=org_id, campaign_id=campaign_id)
        stats = await reports.call_stats(
            session,
            campaign.org_id,
            campaign_id=campaign_id,
            cost_per_minute=deployment.cost_per_minute_usd,
            cost_per_dial=deployment.cost_per_dial_usd,
        )
        return CampaignSummary(
            campaign_id=campaign.id,
            name=campaign.name,
            status=campaign.status,
            agent_name=campaign.agent_name,
            created_at=campaign.created_at,
            generated_at=utcnow(),
            contacts=(await reports.contact_tallies(session, [campaign_id]))[campaign_id].counts,
            stats=stats,
            network_outcomes=await reports.network_outcome_counts(session, campaign_id),
            hours=await reports.dials_by_hour(session, campaign_id),
        )


async def write_report(
    sessions: async_sessionmaker[AsyncSession],
    target: Path | BinaryIO,
    *,
    org_id: str | None,
    campaign_id: str,
    report_format: ReportFormat,
    deployment: Settings,
) -> ReportWritten:
    """Write the campaign's report to ``target``; ``CampaignNotFoundError`` (and nothing written) if
    ``org_id`` does not own it."""
    summary = await campaign_summary(sessions, org_id=org_id, campaign_id=campaign_id, deployment=deployment)
    if report_format is ReportFormat.PDF:
        await asyncio.to_thread(_write_pdf, summary, target)
        return ReportWritten(contacts=0, calls=0)
    return await _write_workbook(sessions, summary, target)


async def report_file(
    sessions: async_sessionmaker[AsyncSession],
    *,
    org_id: str | None,
    campaign_id: str,
    report_format: ReportFormat,
    deployment: Settings,
) -> BinaryIO:
    """The report in a temporary file without a name, rewound: nothing is left on disk however its reader
    ends (a download cut short included), since closing it, or losing it, frees it."""
    file = await asyncio.to_thread(tempfile.TemporaryFile)
    try:
        await write_report(
            sessions,
            file,
            org_id=org_id,
            campaign_id=campaign_id,
            report_format=report_format,
            deployment=deployment,
        )
        await asyncio.to_thread(file.seek, 0)
    except BaseException:
        file.close()
        raise
    return file


async def file_chunks(file: BinaryIO) -> AsyncIterator[bytes]:
    """The file's bytes, read in a thread a chunk at a time, then closed."""
    try:
        while chunk := await asyncio.to_thread(file.read, FILE_CHUNK_BYTES):
            yield chunk
    finally:
        file.close()


# ---- the workbook ---------------------------------------------------------------------------------

CONTACT_COLUMNS = (
    ("External id", 18),
    ("Name", 24),
    ("Phone", 16),
    ("Status", 11),
    ("Final outcome", 16),
    ("Reason", 40),
    ("Attempts", 9),
    ("Finished at (UTC)", 20),
)
CALL_COLUMNS = (
    ("External id", 18),
    ("Attempt", 8),
    ("Phone", 16),
    ("Started at (UTC)", 20),
    ("Ended at (UTC)", 20),
    ("Outcome", 16),
    ("Disposition", 18),
    ("Network outcome", 16),
    ("Network status", 14),
    ("SIP code", 9),
    ("Twilio error", 11),
    ("Answered", 9),
    ("Answered by", 12),
    ("Duration (s)", 12),
)
SUMMARY_COLUMNS = (("", 30), ("", 18), ("", 12))


async def _write_workbook(
    sessions: async_sessionmaker[AsyncSession], summary: CampaignSummary, target: Path | BinaryIO
) -> ReportWritten:
    workbook = Workbook(write_only=True)
    await asyncio.to_thread(_write_summary_sheet, _sheet(workbook, "Summary", SUMMARY_COLUMNS, header=False), summary)
    contacts_sheet = _sheet(workbook, "Contacts", CONTACT_COLUMNS)
    contacts = await _copy_pages(
        sessions,
        lambda session, after: reports.report_contacts_page(
            session, summary.campaign_id, after=after, limit=REPORT_PAGE_SIZE
        ),
        lambda row: row.external_id,
        lambda rows: _append(contacts_sheet, [_contact_cells(contacts_sheet, row) for row in rows]),
    )
    calls_sheet = _sheet(workbook, "Calls", CALL_COLUMNS)
    calls = await _copy_pages(
        sessions,
        lambda session, after: reports.report_calls_page(
            session, summary.campaign_id, after=after, limit=REPORT_PAGE_SIZE
        ),
        lambda row: (row.external_id, row.attempt),
        lambda rows: _append(calls_sheet, [_call_cells(calls_sheet, row) for row in rows]),
    )
    await asyncio.to_thread(workbook.save, target)
    return ReportWritten(contacts=contacts, calls=calls)


async def _copy_pages(
    sessions: async_sessionmaker[AsyncSession],
    page: Callable[[AsyncSession, Any], Awaitable[Sequence[Row]]],
    key: Callable[[Row], Any],
    write: Callable[[Sequence[Row]], None],
) -> int:
    """Read every page (each in its own short transaction) and hand it to ``write`` in a thread; how many
    rows there were. Only one page is ever in memory."""
    after: Any = None
    copied = 0
    while True:
        async with sessions() as session:
            await begin_read_only(session)
            rows = await page(session, after)
        if rows:
            await asyncio.to_thread(write, rows)
            copied += len(rows)
        if len(rows) < REPORT_PAGE_SIZE:
            return copied
        after = key(rows[-1])


def _sheet(
    workbook: Workbook, title: str, columns: Sequence[tuple[str, int]], *, header: bool = True
) -> WriteOnlyWorksheet:
    """A new sheet with its column widths set (write-only mode wants them before the first row) and, unless
    ``header`` is False, a styled header row that stays in view."""
    sheet = workbook.create_sheet(title)
    for index, (_, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    if header:
        sheet.freeze_panes = "A2"
        sheet.append([_header_cell(sheet, name) for name, _ in columns])
    return sheet


def _header_cell(sheet: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=text)
    cell.font, cell.fill, cell.alignment = HEADER_FONT, HEADER_FILL, Alignment(vertical="center")
    return cell


def _append(sheet: WriteOnlyWorksheet, rows: list[list[Any]]) -> None:
    for row in rows:
        sheet.append(row)


def _text(sheet: WriteOnlyWorksheet, value: str | None) -> Any:
    """A text cell as the text itself: openpyxl would store one starting with ``=`` as a formula, which a
    spreadsheet then runs (a contact's name is anyone's input), and refuses control characters."""
    if not value:
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if not value.startswith("="):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def _excel_time(moment: datetime | None) -> datetime | None:
    """Excel has no time zones: the UTC wall time, under a header that says UTC."""
    return None if moment is None else moment.replace(tzinfo=None)


def _contact_cells(sheet: WriteOnlyWorksheet, row: reports.ReportContact) -> list[Any]:
    return [
        _text(sheet, row.external_id),
        _text(sheet, row.name),
        _text(sheet, row.phone),
        row.status,
        row.final_outcome,
        _text(sheet, row.final_reason),
        row.attempts,
        _excel_time(row.finished_at),
    ]


def _call_cells(sheet: WriteOnlyWorksheet, row: reports.ReportCall) -> list[Any]:
    return [
        _text(sheet, row.external_id),
        row.attempt,
        _text(sheet, row.phone),
        _excel_time(row.started_at),
        _excel_time(row.ended_at),
        row.outcome,
        _text(sheet, row.disposition),
        row.network_outcome,
        _text(sheet, row.network_status),
        row.status_code,
        row.error_code,
        bool(row.answered),
        row.answered_by,
        round(float(row.duration_seconds or 0.0), 1),
    ]


def _styled(sheet: WriteOnlyWorksheet, value: Any, font: Font) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = font
    return cell


def _percent(sheet: WriteOnlyWorksheet, value: float) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = PERCENT_FORMAT
    return cell


def _write_summary_sheet(sheet: WriteOnlyWorksheet, summary: CampaignSummary) -> None:
    """Facts as label/value rows, then one small table per breakdown, each under a styled header."""
    stats, counts = summary.stats, summary.contacts
    sheet.append([_styled(sheet, f"Campaign report: {summary.name}", TITLE_FONT)])
    facts: list[tuple[str, Any]] = [
        ("Campaign", _text(sheet, summary.name)),
        ("Campaign id", _text(sheet, summary.campaign_id)),
        ("Status", summary.status),
        ("Agent", _text(sheet, summary.agent_name or "default")),
        ("Created (UTC)", _excel_time(summary.created_at)),
        ("Report generated (UTC)", _excel_time(summary.generated_at)),
        ("Contacts", counts.total),
        ("Finished", counts.finished),
        ("Pending", counts.pending),
        ("In progress", counts.active),
        ("Cancelled", counts.cancelled),
        ("Dials", summary.dials),
        ("Finished calls", stats.calls),
        ("Answered calls", stats.answered),
        ("Answer rate", _percent(sheet, stats.answer_rate)),
        ("Average answered call (s)", stats.average_duration_seconds),
        ("Connected minutes", stats.connected_minutes),
        ("Estimated cost (USD)", stats.estimated_cost_usd),
    ]
    for label, value in facts:
        sheet.append([label, value])
    _summary_table(sheet, ("Final outcome", "Contacts", "Share"), _shares(summary.stats.final_outcomes))
    _summary_table(sheet, ("Network outcome", "Dials", "Share"), _shares(summary.network_outcomes))
    hours = [(_excel_time(hour.hour), hour.dials, hour.answered) for hour in summary.hours]
    _summary_table(sheet, ("Hour (UTC)", "Dials", "Answered"), hours)


def _summary_table(sheet: WriteOnlyWorksheet, header: tuple[str, str, str], rows: Sequence[tuple[Any, ...]]) -> None:
    sheet.append([])
    sheet.append([_header_cell(sheet, name) for name in header])
    for first, *rest in rows:
        cells = [_percent(sheet, value) if isinstance(value, float) else value for value in rest]
        sheet.append([_text(sheet, first) if isinstance(first, str) else first, *cells])


def _shares(counts: dict[str, int]) -> list[tuple[str, int, float]]:
    """Name, count and share of the total, largest first."""
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [(name, count, count / total) for name, count in ranked]


# ---- the PDF --------------------------------------------------------------------------------------

CHART_WIDTH = 16 * cm
CHART_HEIGHT = 5.5 * cm
VALUE_TICKS = 5


def _write_pdf(summary: CampaignSummary, target: Path | BinaryIO) -> None:
    styles = getSampleStyleSheet()
    stats, counts = summary.stats, summary.contacts
    facts = [
        ["Campaign id", summary.campaign_id, "Status", summary.status],
        ["Agent", summary.agent_name or "default", "Created", _pdf_time(summary.created_at)],
        ["Contacts", f"{counts.total:,}", "Finished", f"{counts.finished:,}"],
        ["Dials", f"{summary.dials:,}", "Answer rate", f"{stats.answer_rate:.1%}"],
        [
            "Average answered call",
            f"{stats.average_duration_seconds:.1f} s",
            "Connected",
            f"{stats.connected_minutes:,.1f} min",
        ],
        ["Estimated cost", f"${stats.estimated_cost_usd:,.2f}", "Generated", _pdf_time(summary.generated_at)],
    ]
    story: list[Flowable] = [
        Paragraph(f"Campaign report: {escape(summary.name)}", styles["Title"]),
        _table(facts, header=False),
        Spacer(1, 0.5 * cm),
        Paragraph("Final outcomes", styles["Heading2"]),
        _outcome_table("Final outcome", "Contacts", summary.stats.final_outcomes),
        Spacer(1, 0.3 * cm),
        _outcome_chart(summary.stats.final_outcomes),
        Paragraph("Dials (grey) and answered dials (green) over time, UTC", styles["Heading2"]),
        _time_chart(summary.hours),
        Paragraph("Dials by network outcome", styles["Heading2"]),
        _outcome_table("Network outcome", "Dials", summary.network_outcomes),
    ]
    document = SimpleDocTemplate(
        str(target) if isinstance(target, Path) else target,
        pagesize=A4,
        title=f"Campaign report: {summary.name}",
        author="Ringflow",
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.5 * cm,
    )
    document.build(story)


def _pdf_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _table(rows: list[list[str]], *, header: bool) -> Table:
    table = Table(rows, hAlign="LEFT")
    style = [
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.lightgrey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if header:
        style += [
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1F4E78")),
            ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ]
        style += [("ALIGN", (1, 1), (-1, -1), "RIGHT")]
    else:
        style += [("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold"), ("FONTNAME", (2, 0), (2, -1), "Helvetica-Bold")]
    table.setStyle(TableStyle(style))
    return table


def _outcome_table(label: str, unit: str, counts: dict[str, int]) -> Flowable:
    if not counts:
        return Paragraph(f"No {unit.lower()} yet.", getSampleStyleSheet()["Normal"])
    rows = [[label, unit, "Share"]]
    rows += [[name, f"{count:,}", f"{share:.1%}"] for name, count, share in _shares(counts)]
    return _table(rows, header=True)


def _bar_chart(names: list[str], series: list[list[int]], fills: list[colors.Color]) -> Drawing:
    drawing = Drawing(CHART_WIDTH, CHART_HEIGHT)
    chart = VerticalBarChart()
    chart.x, chart.y = 1.2 * cm, 1.2 * cm
    chart.width, chart.height = CHART_WIDTH - 1.6 * cm, CHART_HEIGHT - 1.6 * cm
    chart.data = series
    chart.categoryAxis.categoryNames = names
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30 if len(names) > 6 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(names) > 6 else "n"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueStep = max(1, math.ceil(max(max(values) for values in series) / VALUE_TICKS))  # counts
    chart.valueAxis.labels.fontSize = 7
    chart.barSpacing = 1
    for index, fill in enumerate(fills):
        chart.bars[index].fillColor = fill
        chart.bars[index].strokeColor = None
    drawing.add(chart)
    return drawing


def _no_data(text: str) -> Drawing:
    drawing = Drawing(CHART_WIDTH, 1 * cm)
    drawing.add(String(0, 0.3 * cm, text, fontSize=9, fillColor=colors.grey))
    return drawing


def _outcome_chart(counts: dict[str, int]) -> Drawing:
    """One bar per final outcome, largest first."""
    if not counts:
        return _no_data("No contact has finished yet.")
    ranked = _shares(counts)
    return _bar_chart([name for name, _, _ in ranked], [[count for _, count, _ in ranked]], [BAR_COLOR])


def _time_chart(hours: list[reports.HourOfDials]) -> Drawing:
    """Dials and answered dials per hour, or per day when the campaign ran longer than ``MAX_TIME_BARS``
    hours (a bar a few pixels wide says nothing); hours or days without a dial get an empty bar."""
    if not hours:
        return _no_data("No dials yet.")
    by_day = hours[-1].hour - hours[0].hour >= timedelta(hours=MAX_TIME_BARS)
    step = timedelta(days=1) if by_day else timedelta(hours=1)
    first = hours[0].hour.replace(hour=0) if by_day else hours[0].hour
    buckets = [[0, 0] for _ in range((hours[-1].hour - first) // step + 1)]
    for hour in hours:
        bucket = buckets[(hour.hour - first) // step]
        bucket[0] += hour.dials
        bucket[1] += hour.answered
    label = "%m-%d" if by_day else "%m-%d %H:00"
    every = max(1, len(buckets) // 12)
    names = [(first + index * step).strftime(label) if index % every == 0 else "" for index in range(len(buckets))]
    series = [[dials for dials, _ in buckets], [answered for _, answered in buckets]]
    return _bar_chart(names, series, [colors.HexColor("#94a3b8"), ANSWERED_COLOR])
