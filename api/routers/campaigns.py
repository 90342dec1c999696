"""Campaigns: create (JSON or CSV upload, with a per-row report), steer, add contacts, watch, and count.

Every use case is one call into ``api.services.campaigns``, which the CLI calls too; the routes only
turn HTTP into its arguments and its answers (and refusals, see ``common.service_errors``) into HTTP.
A campaign's contacts are checked one by one: bad numbers, repeated ids or numbers, and numbers on
the organization's do-not-call list are reported with their line and left out; the good ones import.
``start: false`` stores a draft that runs no workflow until ``POST .../start``. Lists of up to
``max_import_rows`` rows (``max_upload_mb``) go in either way; bigger ones are a 413.
"""

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import StreamingResponse
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUploadFile

from api.deps import CurrentOrg, CurrentPrincipal, DbSession, StreamOrg
from api.routers.common import (
    V1_DEPENDENCIES,
    V1_RESPONSES,
    Context,
    Limit,
    Offset,
    call_stats,
    campaign_view,
    campaign_views,
    invalid,
    json_errors,
    release,
)
from api.services import analysis, campaigns
from api.services import reports as reports_service
from schemas.api import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    CampaignCreate,
    CampaignCreated,
    CampaignList,
    CampaignOut,
    CampaignPreview,
    CampaignPreviewRequest,
    CampaignsSnapshot,
    CancelRequest,
    ContactsAdd,
    ContactsAdded,
    ErrorBody,
    ImportRefusal,
    ImportReport,
    ReportFormat,
    Stats,
)
from schemas.campaign import CampaignSettings
from schemas.validation import describe_validation_error
from schemas.workflow_io import CampaignStatus
from store import reports
from store.db import begin_read_only
from store.models import CampaignRow, OrganizationRow

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)

EVENT_INTERVAL_SECONDS = 1.0
ENDED = (CampaignStatus.COMPLETED.value, CampaignStatus.CANCELLED.value)
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such campaign in your organization"},
    409: {"model": ErrorBody, "description": "The campaign's state does not allow it (a draft, or it has ended)"},
}
IMPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "More rows than `max_import_rows`, or a body over `max_upload_mb`"},
    422: {"model": ImportRefusal, "description": "Invalid input, or no good row (`import_report` says why per row)"},
}
# What a route that reads a multipart form adds: Starlette refuses a form it cannot read before our code runs.
FORM_IMPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A multipart form that cannot be read (broken, or too many fields)"},
    **IMPORT_ERRORS,
}
Body = TypeVar("Body", bound=BaseModel)


def _documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """The request body as OpenAPI shows it, for a route that parses the body itself (see :func:`_json_body`)."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


DOCUMENTED_BODIES = (CampaignCreate, ContactsAdd, CampaignPreviewRequest)
"""Bodies parsed by hand; ``common.document_bodies`` puts their schemas in the OpenAPI components."""


async def _json_body(request: Request, model: type[Body]) -> Body:
    """The JSON body as ``model``, parsed in a thread: a 200,000-contact list takes seconds to validate,
    which FastAPI would spend on the event loop, where every other request waits. Errors read as
    FastAPI's own (``body.contacts.2.phone: ...``)."""
    raw = await request.body()
    try:
        return await asyncio.to_thread(model.model_validate_json, raw)
    except ValidationError as err:
        located = [{**detail, "loc": ("body", *detail["loc"])} for detail in err.errors()]
        invalid(describe_validation_error(located))


def _report(result: campaigns.ImportResult) -> ImportReport:
    return ImportReport.model_validate(result, from_attributes=True)


async def _created(
    ctx: Context, session: AsyncSession, org: OrganizationRow, campaign_id: str, result: campaigns.ImportResult
) -> CampaignCreated:
    row = await owned_campaign(session, org, campaign_id)
    return CampaignCreated(campaign=await campaign_view(ctx, session, row, live=False), import_report=_report(result))


async def owned_campaign(session: AsyncSession, org: OrganizationRow, campaign_id: str) -> CampaignRow:
    return await campaigns.owned_campaign(session, org_id=org.id, campaign_id=campaign_id)


def _form_settings(text: str | None) -> CampaignSettings:
    """The ``settings`` form field of an upload (CampaignSettings as a JSON object; absent: the defaults)."""
    if not text:
        return CampaignSettings()
    try:
        return CampaignSettings.model_validate_json(text)
    except ValidationError as err:
        invalid(f"settings: {describe_validation_error(err)}")


def _check_upload(ctx: Context, file: UploadFile) -> None:
    """413 for an upload over ``max_upload_mb``; it is already spooled to disk, never held in memory."""
    limit = ctx.settings.max_upload_mb
    if file.size is not None and file.size > limit * 2**20:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"file: larger than {limit} MiB")


# ---- creating and starting ------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=CampaignCreated,
    responses=IMPORT_ERRORS,
    openapi_extra=_documented_body(CampaignCreate),
)
async def create_from_json(
    request: Request, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> CampaignCreated:
    """Create a campaign from a JSON contact list (body: `CampaignCreate`); rejected rows are reported, the
    rest import."""
    body = await _json_body(request, CampaignCreate)
    agent = await campaigns.active_agent(session, org_id=org.id, agent_name=body.agent_name)
    await release(session)
    campaign_id, result = await campaigns.create(
        ctx.client,
        ctx.sessions,
        org_id=org.id,
        name=body.name,
        settings=body.settings,
        contacts=campaigns.ContactList.from_rows(body.contacts),
        agent=agent,
        start=body.start,
        deployment=ctx.settings,
        limits=campaigns.ImportLimits.of(ctx.settings),
        allow_empty=True,
        actor=principal.actor,
    )
    return await _created(ctx, session, org, campaign_id, result)


@router.post("/upload", status_code=201, response_model=CampaignCreated, responses=FORM_IMPORT_ERRORS)
async def create_from_csv(
    org: CurrentOrg,
    session: DbSession,
    ctx: Context,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File(description="CSV: phone (required), external_id, name, timezone, ...")],
    name: Annotated[str | None, Form(min_length=1, max_length=256, description="Default: the file's name")] = None,
    agent_name: Annotated[str | None, Form(max_length=100)] = None,
    settings: Annotated[str | None, Form(description="CampaignSettings as a JSON object")] = None,
    start: Annotated[bool, Form()] = True,
) -> CampaignCreated:
    """Create a campaign from a CSV upload; the report names every rejected row by its line number."""
    for field, value in (("name", name), ("agent_name", agent_name), ("file", file.filename)):
        if value and "\x00" in value:
            invalid(f"{field}: contains a NUL character")
    _check_upload(ctx, file)
    campaign_settings = _form_settings(settings)
    agent = await campaigns.active_agent(session, org_id=org.id, agent_name=agent_name or None)
    await release(session)
    title = name or (file.filename or "upload").rsplit("/", 1)[-1].removesuffix(".csv")[:256] or "upload"
    campaign_id, result = await campaigns.create(
        ctx.client,
        ctx.sessions,
        org_id=org.id,
        name=title,
        settings=campaign_settings,
        contacts=campaigns.ContactList.from_csv(file.file),
        agent=agent,
        start=start,
        deployment=ctx.settings,
        limits=campaigns.ImportLimits.of(ctx.settings),
        actor=principal.actor,
    )
    return await _created(ctx, session, org, campaign_id, result)


# ---- previewing ----------------------------------------------------------------------------------

PREVIEW_BODIES = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/CampaignPreviewRequest"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "CSV, as for /upload"},
                        "settings": {"type": "string", "description": "CampaignSettings as a JSON object"},
                        "now": {"type": "string", "format": "date-time", "description": "Preview as of this moment"},
                    },
                }
            },
        },
    }
}


@router.post("/preview", response_model=CampaignPreview, responses=FORM_IMPORT_ERRORS, openapi_extra=PREVIEW_BODIES)
async def preview_campaign(request: Request, org: CurrentOrg, session: DbSession, ctx: Context) -> StreamingResponse:
    """When each contact of a list would first be dialled, and why, and which rows an import would reject
    (your do-not-call list included); creates nothing. The body is a `CampaignPreviewRequest`, or a CSV
    upload (`file`, with `settings` and `now` as form fields) like `POST /v1/campaigns/upload`. `now` fixes
    the moment previewed, so a preview is reproducible. The answer is streamed: `contacts` come first."""
    await release(session)
    form: FormData | None = None
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10)
        file, now_field = form.get("file"), form.get("now")
        if not isinstance(file, StarletteUploadFile):
            await form.close()
            invalid("file: a CSV file is required")
        _check_upload(ctx, file)
        settings = _form_settings(str(form.get("settings") or "") or None)
        now = _form_now(str(now_field)) if now_field else None
        contacts = campaigns.ContactList.from_csv(file.file)
    else:
        body = await _json_body(request, CampaignPreviewRequest)
        settings, now, contacts = body.settings, body.now, campaigns.ContactList.from_rows(body.contacts)
    try:
        preview = await campaigns.preview(
            ctx.sessions,
            org_id=org.id,
            settings=settings,
            contacts=contacts,
            limits=campaigns.ImportLimits.of(ctx.settings),
            now=now,
        )
    except BaseException:
        if form is not None:
            await form.close()
        raise
    return StreamingResponse(_preview_json(preview, form), media_type="application/json")


def _form_now(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        invalid(f"now: {text!r} is not an ISO 8601 moment, e.g. 2026-11-30T09:00:00Z")


async def _preview_json(preview: campaigns.ContactsPreview, form: FormData | None) -> AsyncIterator[bytes]:
    """A ``CampaignPreview`` written as its contacts are judged, chunk by chunk: the contacts first, then
    the counts and rejected rows, which are known only at the end."""
    try:
        yield b'{"contacts":['
        separator = b""
        async for chunk in preview.chunks():
            if chunk:
                yield separator + b",".join(contact.model_dump_json().encode() for contact in chunk)
                separator = b","
        result = preview.result
        rest = CampaignPreview(
            contacts=[],
            now=preview.now,
            valid=result.imported,
            rejected=result.rejected,
            errors=result.errors,
            uncertain_zones=result.uncertain_zones,
            uncertain_zone_ids=result.uncertain_zone_ids,
        ).model_dump_json(exclude={"contacts"})
        yield b"]," + rest.removeprefix("{").encode()
    finally:
        if form is not None:
            await form.close()


@router.get("", response_model=CampaignList)
async def list_campaigns(
    org: CurrentOrg, session: DbSession, ctx: Context, limit: Limit = DEFAULT_PAGE_SIZE, offset: Offset = 0
) -> CampaignList:
    """The organization's campaigns, newest first, with counts from the store."""
    rows, total = await reports.campaigns_page(session, org.id, limit=limit, offset=offset)
    items = await campaign_views(session, ctx.settings, rows)
    return CampaignList(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/events", response_class=EventSourceResponse, response_model=CampaignsSnapshot, responses=json_errors(V1_RESPONSES)
)
async def all_campaign_events(org: StreamOrg, ctx: Context, request: Request) -> AsyncIterable[CampaignsSnapshot]:
    """Server-sent events: the organization's newest campaigns with their counts, checked about once a second
    and sent when they differ from the last snapshot sent (the first is always sent)."""
    sent: CampaignsSnapshot | None = None
    while not await request.is_disconnected():
        async with ctx.sessions() as session:
            await begin_read_only(session)
            rows, _ = await reports.campaigns_page(session, org.id, limit=MAX_PAGE_SIZE, offset=0)
            snapshot = CampaignsSnapshot(campaigns=await campaign_views(session, ctx.settings, rows))
        if snapshot != sent:
            yield snapshot
            sent = snapshot
        await asyncio.sleep(EVENT_INTERVAL_SECONDS)


@router.get(
    "/{campaign_id}/results.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "One row per contact; one column per extracted field"},
        404: ERRORS[404],
    },
)
async def campaign_results(campaign_id: str, org: StreamOrg, ctx: Context) -> StreamingResponse:
    """The campaign's results, one CSV row per contact (outcome, attempts, last call, the latest analysis's
    summary and extracted fields), streamed; cells a spreadsheet would run as formulas start with ``'``."""
    try:
        lines = await analysis.results_csv(ctx.sessions, org.id, campaign_id)
    except analysis.NoSuchCampaignError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no campaign {campaign_id!r}") from None
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{campaign_id}-results.csv"'},
    )


def _report_responses(report_format: ReportFormat, description: str) -> dict[int | str, Any]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"content": {report_format.media_type: binary}, "description": description}, 404: ERRORS[404]}


async def _report_download(
    campaign_id: str, org: OrganizationRow, ctx: Context, report_format: ReportFormat
) -> StreamingResponse:
    """The report is built whole first, so a 404 (another organization's campaign) comes before any byte."""
    file = await reports_service.report_file(
        ctx.sessions, org_id=org.id, campaign_id=campaign_id, report_format=report_format, deployment=ctx.settings
    )
    filename = reports_service.report_filename(campaign_id, report_format)
    return StreamingResponse(
        reports_service.file_chunks(file),
        media_type=report_format.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/{campaign_id}/report.xlsx",
    response_class=StreamingResponse,
    responses=_report_responses(
        ReportFormat.XLSX, "Sheets Summary, Contacts (one row per contact) and Calls (one per dial)"
    ),
)
async def campaign_report_xlsx(campaign_id: str, org: StreamOrg, ctx: Context) -> StreamingResponse:
    """The campaign's report as an Excel workbook: a Summary sheet (contacts, dials, answer rate, average
    call, cost, final and network outcomes, dials per hour), then every contact and every dial, times
    in UTC."""
    return await _report_download(campaign_id, org, ctx, ReportFormat.XLSX)


@router.get(
    "/{campaign_id}/report.pdf",
    response_class=StreamingResponse,
    responses=_report_responses(ReportFormat.PDF, "A summary with its tables and charts"),
)
async def campaign_report_pdf(campaign_id: str, org: StreamOrg, ctx: Context) -> StreamingResponse:
    """The campaign's summary as a PDF: its facts, a table and a bar chart of final outcomes, a chart of
    dials over time, and dials by network outcome."""
    return await _report_download(campaign_id, org, ctx, ReportFormat.PDF)


@router.get("/{campaign_id}", response_model=CampaignOut, responses=ERRORS)
async def get_campaign(campaign_id: str, org: CurrentOrg, session: DbSession, ctx: Context) -> CampaignOut:
    """One campaign: store counts, and live progress from its workflow."""
    return await campaign_view(ctx, session, await owned_campaign(session, org, campaign_id))


async def _campaign_exists(campaign_id: str, org: CurrentOrg, session: DbSession) -> None:
    """A stream's 404 must come before it starts: once the first event is out, the status is 200. Checked in
    the request's session (the caller's check read in it too), which is then closed: the stream holds no
    connection of the pool between its checks."""
    await owned_campaign(session, org, campaign_id)
    await session.close()


@router.get(
    "/{campaign_id}/events",
    response_class=EventSourceResponse,
    response_model=CampaignOut,
    responses=json_errors({**V1_RESPONSES, 404: ERRORS[404]}),
)
async def campaign_events(
    campaign_id: str, org: CurrentOrg, ctx: Context, request: Request, _: Annotated[None, Depends(_campaign_exists)]
) -> AsyncIterable[CampaignOut]:
    """Server-sent events: the campaign (with live progress), checked about once a second and sent when it
    differs from the last event (the first is always sent); the stream ends after the event that shows it
    completed or cancelled.

    A check reads the campaign's row, its contacts' tally (one GROUP BY the database answers from an index)
    and its workflow's progress; an unchanged campaign costs no serialization, no bytes on the wire and no
    redraw (and reload of the contacts and stats) in the browser. FastAPI's keep-alive comments hold a quiet
    stream open."""
    sent: CampaignOut | None = None
    while not await request.is_disconnected():
        async with ctx.sessions() as events_session:
            await begin_read_only(events_session)
            row = await owned_campaign(events_session, org, campaign_id)
            view = await campaign_view(ctx, events_session, row)
        if view != sent:
            yield view
            sent = view
        if view.status in ENDED and (view.progress is None or view.progress.done):
            return
        await asyncio.sleep(EVENT_INTERVAL_SECONDS)


@router.get("/{campaign_id}/stats", response_model=Stats, responses=ERRORS)
async def campaign_stats(campaign_id: str, org: CurrentOrg, session: DbSession, ctx: Context) -> Stats:
    """Calls, answer rate, outcomes, average duration and estimated cost of the campaign."""
    await owned_campaign(session, org, campaign_id)
    return await call_stats(ctx, session, org.id, campaign_id=campaign_id)


# ---- steering -------------------------------------------------------------------------------------


@router.post("/{campaign_id}/start", response_model=CampaignOut, responses=ERRORS)
async def start_campaign(
    campaign_id: str, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> CampaignOut:
    """Start a draft: its agent is snapshotted now, from the stored agent."""
    await release(session)
    await campaigns.start(
        ctx.client,
        ctx.sessions,
        org_id=org.id,
        campaign_id=campaign_id,
        deployment=ctx.settings,
        actor=principal.actor,
    )
    return await campaign_view(ctx, session, await owned_campaign(session, org, campaign_id))


@router.post("/{campaign_id}/pause", response_model=CampaignOut, responses=ERRORS)
async def pause_campaign(
    campaign_id: str, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> CampaignOut:
    """Stop new dials within seconds; calls in progress finish normally. The campaign's workflow records
    the new status, so the view's ``status`` shows it (its live progress) before the store does."""
    await release(session)
    await campaigns.pause(ctx.client, ctx.sessions, org_id=org.id, campaign_id=campaign_id, actor=principal.actor)
    return await campaign_view(ctx, session, await owned_campaign(session, org, campaign_id))


@router.post("/{campaign_id}/resume", response_model=CampaignOut, responses=ERRORS)
async def resume_campaign(
    campaign_id: str, org: CurrentOrg, session: DbSession, ctx: Context, principal: CurrentPrincipal
) -> CampaignOut:
    await release(session)
    await campaigns.resume(ctx.client, ctx.sessions, org_id=org.id, campaign_id=campaign_id, actor=principal.actor)
    return await campaign_view(ctx, session, await owned_campaign(session, org, campaign_id))


@router.post("/{campaign_id}/cancel", response_model=CampaignOut, responses=ERRORS)
async def cancel_campaign(
    campaign_id: str,
    org: CurrentOrg,
    session: DbSession,
    ctx: Context,
    principal: CurrentPrincipal,
    body: CancelRequest | None = None,
) -> CampaignOut:
    """End the campaign: waiting contacts end as cancelled, calls in progress finish first. A draft
    is cancelled at once."""
    await release(session)
    reason = body.reason if body else ""
    await campaigns.cancel(
        ctx.client, ctx.sessions, org_id=org.id, campaign_id=campaign_id, reason=reason, actor=principal.actor
    )
    return await campaign_view(ctx, session, await owned_campaign(session, org, campaign_id))


# ---- adding contacts ------------------------------------------------------------------------------


async def _add(
    ctx: Context, session: AsyncSession, org: OrganizationRow, campaign_id: str, contacts: campaigns.ContactList
) -> ContactsAdded:
    """Both add routes: the service imports the list (the session is released meanwhile), then the view."""
    await release(session)
    result = await campaigns.add_contacts(
        ctx.client,
        ctx.sessions,
        org_id=org.id,
        campaign_id=campaign_id,
        contacts=contacts,
        limits=campaigns.ImportLimits.of(ctx.settings),
    )
    view = await campaign_view(ctx, session, await owned_campaign(session, org, campaign_id))
    return ContactsAdded(campaign=view, import_report=_report(result))


@router.post(
    "/{campaign_id}/contacts",
    response_model=ContactsAdded,
    responses={**ERRORS, **IMPORT_ERRORS},
    openapi_extra=_documented_body(ContactsAdd),
)
async def add_contacts(
    campaign_id: str, request: Request, org: CurrentOrg, session: DbSession, ctx: Context
) -> ContactsAdded:
    """Add contacts (body: `ContactsAdd`) to a draft or a running (or paused) campaign; rejected rows are
    reported. 409 once the campaign has ended or is ending: then none of them is added."""
    body = await _json_body(request, ContactsAdd)
    return await _add(ctx, session, org, campaign_id, campaigns.ContactList.from_rows(body.contacts))


@router.post("/{campaign_id}/contacts/upload", response_model=ContactsAdded, responses={**ERRORS, **IMPORT_ERRORS})
async def add_contacts_csv(
    campaign_id: str,
    org: CurrentOrg,
    session: DbSession,
    ctx: Context,
    file: Annotated[UploadFile, File(description="CSV with the same columns as a campaign upload")],
) -> ContactsAdded:
    """Add a CSV's contacts to a draft or a running (or paused) campaign; rejected rows are reported.
    409 once the campaign has ended or is ending: then none of them is added."""
    _check_upload(ctx, file)
    return await _add(ctx, session, org, campaign_id, campaigns.ContactList.from_csv(file.file))
