"""The do-not-call list: numbers never dialled in any of the organization's campaigns."""

import csv
import io
from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile

from api.deps import CurrentOrg, CurrentPrincipal, DbSession
from api.routers.common import (
    V1_DEPENDENCIES,
    V1_RESPONSES,
    Limit,
    Offset,
    e164,
    invalid,
    not_found,
    read_csv_upload,
    row_view,
)
from api.services import audit
from schemas.api import DEFAULT_PAGE_SIZE, DncAdded, DncImportReport, DncIn, DncList, DncOut, ErrorBody
from schemas.contact import normalize_phone
from schemas.imports import RowError
from store import dnc, reports
from store.csv_import import _canonical, _delimiter
from store.models import DoNotCallRow

router = APIRouter(prefix="/v1/dnc", tags=["do-not-call"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)


def entry_view(row: DoNotCallRow) -> DncOut:
    return row_view(DncOut, row)


@router.get("", response_model=DncList)
async def list_dnc(
    org: CurrentOrg, session: DbSession, limit: Limit = DEFAULT_PAGE_SIZE, offset: Offset = 0
) -> DncList:
    """The listed numbers, most recently added first."""
    rows = await dnc.list_dnc(session, org.id, limit=limit, offset=offset)
    total = await reports.dnc_total(session, org.id)
    return DncList(items=[entry_view(row) for row in rows], total=total, limit=limit, offset=offset)


@router.post("", status_code=201, response_model=DncAdded, responses={200: {"model": DncAdded}})
async def add_dnc(
    body: DncIn, org: CurrentOrg, session: DbSession, response: Response, principal: CurrentPrincipal
) -> DncAdded:
    """List a number (201), or confirm it is listed already (200, its first reason kept)."""
    phone = e164(body.phone, "phone")
    added = await dnc.add_to_dnc(session, org.id, phone, body.reason)
    if added:
        await audit.record(session, org_id=org.id, actor=principal.actor, action="dnc.add", target=phone)
    await session.commit()
    row = await dnc.get_dnc(session, org.id, phone)
    assert row is not None
    if not added:
        response.status_code = 200
    return DncAdded(entry=entry_view(row), added=added)


@router.delete("/{phone}", status_code=204, responses={404: {"model": ErrorBody}})
async def remove_dnc(phone: str, org: CurrentOrg, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Take a number off the list: later dials of it go ahead."""
    try:
        number = normalize_phone(phone)
    except ValueError:
        not_found(f"{phone!r} is not on the do-not-call list")
    if not await dnc.remove_from_dnc(session, org.id, number):
        not_found(f"{number} is not on the do-not-call list")
    await audit.record(session, org_id=org.id, actor=principal.actor, action="dnc.remove", target=number)
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/import",
    response_model=DncImportReport,
    responses={
        413: {"model": ErrorBody, "description": "A file over 20 MiB, or a body over `max_upload_mb`"},
        422: {"model": ErrorBody, "description": "Not a UTF-8 CSV with a `phone` column"},
    },
)
async def import_dnc(
    org: CurrentOrg,
    session: DbSession,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File(description="CSV with a 'phone' column and an optional 'reason' column")],
) -> DncImportReport:
    """List every number of a CSV; rows that are not phone numbers are reported by line."""
    text = await read_csv_upload(file)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]))
    columns = [_canonical(cell) for cell in next(reader, [])]
    if "phone" not in columns:
        invalid("file: line 1 must be a header with a 'phone' column (and optionally 'reason')")
    phone_at, reason_at = columns.index("phone"), columns.index("reason") if "reason" in columns else None
    report = DncImportReport(added=0, already_listed=0)
    line = reader.line_num + 1
    for cells in reader:
        row_line, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        try:
            phone = normalize_phone(cells[phone_at] if phone_at < len(cells) else "")
        except ValueError as err:
            report.errors.append(RowError(line=row_line, message=str(err)))
            continue
        reason = cells[reason_at].strip() if reason_at is not None and reason_at < len(cells) else ""
        if await dnc.add_to_dnc(session, org.id, phone, reason[:500], source=dnc.SOURCE_IMPORT):
            report.added += 1
        else:
            report.already_listed += 1
    details = {"added": report.added, "already_listed": report.already_listed, "errors": len(report.errors)}
    await audit.record(
        session, org_id=org.id, actor=principal.actor, action="dnc.import", target=file.filename or "", details=details
    )
    await session.commit()
    return report
