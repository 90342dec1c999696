"""Campaigns: create (JSON or CSV upload, with a per-row report), steer, add contacts, watch, and count.

A campaign's contacts are checked one by one: bad numbers, repeated ids or numbers, and numbers on
the organization's do-not-call list are reported with their line and left out; the good ones import.
``start: false`` stores a draft that runs no workflow until ``POST .../start``.
"""

import asyncio
from collections.abc import AsyncIterable, Collection, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.service import RPCError

from api.deps import CurrentOrg, DbSession
from api.routers.common import (
    V1_DEPENDENCIES,
    V1_RESPONSES,
    Context,
    Limit,
    Offset,
    call_stats,
    campaign_view,
    campaign_views,
    conflict,
    invalid,
    not_found,
    read_csv_upload,
    release,
    workflow_conflicts,
)
from api.services import campaigns
from schemas.agent import AgentConfig
from schemas.api import (
    CAMPAIGN_DRAFT,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    CampaignCreate,
    CampaignCreated,
    CampaignList,
    CampaignOut,
    CampaignsSnapshot,
    CancelRequest,
    ContactIn,
    ContactsAdd,
    ContactsAdded,
    ErrorBody,
    ImportReport,
    Stats,
)
from schemas.campaign import CampaignSettings
from schemas.contact import Contact
from schemas.imports import CsvImportReport, RowError
from schemas.workflow_io import AddContactsInput, CampaignStatus
from store import dnc, queries, reports
from store.csv_import import describe_validation_error, parse_contacts_csv
from store.db import begin_read_only
from store.models import CampaignRow, OrganizationRow
from workflows.campaign import CampaignWorkflow

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)

EVENT_INTERVAL_SECONDS = 1.0
ENDED = (CampaignStatus.COMPLETED.value, CampaignStatus.CANCELLED.value)
STORED_TRANSITIONS = {
    "pause": (CampaignStatus.RUNNING.value, CampaignStatus.PAUSED.value),
    "resume": (CampaignStatus.PAUSED.value, CampaignStatus.RUNNING.value),
}
"""What a pause or resume signal does to the stored status (the workflow stores only cancelling and the end)."""
ERRORS = {
    404: {"model": ErrorBody, "description": "No such campaign in your organization"},
    409: {"model": ErrorBody, "description": "The campaign's state does not allow it"},
}


# ---- contact intake -------------------------------------------------------------------------------


def check_contact_rows(
    rows: Sequence[ContactIn], existing_ids: Collection[str], do_not_call: Collection[str]
) -> CsvImportReport:
    """Each row on its own, as the CSV import does: ``line`` is the row's 1-based position."""
    report = CsvImportReport()
    id_lines: dict[str, int] = {}
    phone_lines: dict[str, int] = {}
    for line, row in enumerate(rows, start=1):
        external_id = (row.external_id or "").strip() or f"row-{line}"
        try:
            contact = Contact.model_validate({**row.model_dump(), "external_id": external_id})
        except ValidationError as err:
            report.errors.append(RowError(line=line, external_id=external_id, message=describe_validation_error(err)))
            continue
        problems = []
        if contact.external_id in existing_ids:
            problems.append(f"external id {contact.external_id!r} is already in the campaign")
        elif contact.external_id in id_lines:
            line_before = id_lines[contact.external_id]
            problems.append(f"external id {contact.external_id!r} already appears on line {line_before}")
        if contact.phone in phone_lines:
            problems.append(f"phone {contact.phone} already appears on line {phone_lines[contact.phone]}")
        if contact.phone in do_not_call:
            problems.append(f"phone {contact.phone} is on the do-not-call list")
        if problems:
            report.errors.append(RowError(line=line, external_id=external_id, message="; ".join(problems)))
            continue
        id_lines[contact.external_id] = line
        phone_lines[contact.phone] = line
        report.contacts.append(contact)
    return report


async def checked_json_rows(
    session: AsyncSession, org_id: str, rows: Sequence[ContactIn], existing_ids: Collection[str] = ()
) -> CsvImportReport:
    """The rows checked, including against the organization's do-not-call list."""
    first = check_contact_rows(rows, existing_ids, ())
    blocked = await dnc.dnc_among(session, org_id, [contact.phone for contact in first.contacts])
    return check_contact_rows(rows, existing_ids, blocked) if blocked else first


async def checked_csv(
    session: AsyncSession, org_id: str, upload: UploadFile, existing_ids: set[str] | None = None
) -> CsvImportReport:
    """An uploaded CSV checked row by row (see ``store.csv_import``), do-not-call list included."""
    text = await read_csv_upload(upload)
    first = parse_contacts_csv(text, existing_external_ids=existing_ids)
    blocked = await dnc.dnc_among(session, org_id, [contact.phone for contact in first.contacts])
    return parse_contacts_csv(text, existing_external_ids=existing_ids, do_not_call=blocked) if blocked else first


def nothing_to_import(report: CsvImportReport) -> JSONResponse:
    """422 for a list whose every row was rejected, with the report that says why."""
    detail = "no valid contacts: nothing was imported" if report.errors else "the list has no contacts"
    body = ImportReport(imported=0, errors=report.errors)
    return JSONResponse({"detail": detail, "import_report": body.model_dump(mode="json")}, status_code=422)


# ---- creating and starting ------------------------------------------------------------------------


async def campaign_agent(session: AsyncSession, org_id: str, agent_name: str | None) -> AgentConfig | None:
    """The organization's active agent ``agent_name`` (422 if it has none such), or None."""
    if agent_name is None:
        return None
    agent = await queries.get_agent(session, agent_name, org_id)
    if agent is None:
        invalid(f"agent_name: your organization has no agent named {agent_name!r}")
    if not agent.active:
        invalid(f"agent_name: agent {agent_name!r} is inactive")
    return agent


async def create_campaign(
    ctx: Context,
    session: AsyncSession,
    org: OrganizationRow,
    name: str,
    settings: CampaignSettings,
    contacts: Sequence[Contact],
    *,
    agent: AgentConfig | None,
    start: bool,
) -> CampaignRow:
    """Store the campaign with its contacts, then start its workflow (unless a draft is wanted).

    ``agent`` is what the workflow snapshots, so a caller may hand in an edited copy (a one-off
    call's context). A workflow that cannot be started leaves a draft to start again later.
    """
    campaign_id = campaigns.new_campaign_id()
    await queries.create_campaign(
        session, campaign_id, name, settings, org_id=org.id, agent_name=agent.name if agent else None
    )
    await queries.add_contacts(session, campaign_id, contacts)
    if not start:
        await reports.mark_draft(session, campaign_id)
    await session.commit()
    if start:
        await _start_workflow(ctx, session, campaign_id, name, settings, len(contacts), agent)
    row = await queries.get_campaign(session, campaign_id, org.id)
    assert row is not None
    return row


async def _start_workflow(
    ctx: Context,
    session: AsyncSession,
    campaign_id: str,
    name: str,
    settings: CampaignSettings,
    contact_count: int,
    agent: AgentConfig | None,
) -> None:
    await release(session)
    try:
        await campaigns.start_campaign_workflow(
            ctx.client, campaign_id, name, settings, contact_count, task_queue=ctx.settings.task_queue, agent=agent
        )
    except RPCError:
        await reports.mark_draft(session, campaign_id)
        await session.commit()
        raise


async def _created(ctx: Context, session: AsyncSession, row: CampaignRow, report: CsvImportReport) -> CampaignCreated:
    view = await campaign_view(ctx, session, row, live=False)
    imported = ImportReport(imported=len(report.contacts), errors=report.errors)
    return CampaignCreated(campaign=view, import_report=imported)


async def owned_campaign(session: AsyncSession, org: OrganizationRow, campaign_id: str) -> CampaignRow:
    row = await queries.get_campaign(session, campaign_id, org.id)
    if row is None:
        not_found(f"no campaign {campaign_id!r}")
    return row


@router.post("", status_code=201, response_model=CampaignCreated, responses={422: {"model": ErrorBody}})
async def create_from_json(
    body: CampaignCreate, org: CurrentOrg, session: DbSession, ctx: Context
) -> CampaignCreated | JSONResponse:
    """Create a campaign from a JSON contact list; rejected rows are reported, the rest import."""
    agent = await campaign_agent(session, org.id, body.agent_name)
    report = await checked_json_rows(session, org.id, body.contacts)
    if body.contacts and not report.contacts:
        return nothing_to_import(report)
    row = await create_campaign(
        ctx, session, org, body.name, body.settings, report.contacts, agent=agent, start=body.start
    )
    return await _created(ctx, session, row, report)


@router.post("/upload", status_code=201, response_model=CampaignCreated, responses={422: {"model": ErrorBody}})
async def create_from_csv(
    org: CurrentOrg,
    session: DbSession,
    ctx: Context,
    file: Annotated[UploadFile, File(description="CSV: phone (required), external_id, name, timezone, ...")],
    name: Annotated[str | None, Form(min_length=1, max_length=256, description="Default: the file's name")] = None,
    agent_name: Annotated[str | None, Form(max_length=100)] = None,
    settings: Annotated[str | None, Form(description="CampaignSettings as a JSON object")] = None,
    start: Annotated[bool, Form()] = True,
) -> CampaignCreated | JSONResponse:
    """Create a campaign from a CSV upload; the report names every rejected row by its line number."""
    for field, value in (("name", name), ("agent_name", agent_name), ("file", file.filename)):
        if value and "\x00" in value:
            invalid(f"{field}: contains a NUL character")
    campaign_settings = CampaignSettings()
    if settings:
        try:
            campaign_settings = CampaignSettings.model_validate_json(settings)
        except ValidationError as err:
            invalid(f"settings: {describe_validation_error(err)}")
    agent = await campaign_agent(session, org.id, agent_name or None)
    report = await checked_csv(session, org.id, file)
    if not report.contacts:
        return nothing_to_import(report)
    title = name or (file.filename or "upload").rsplit("/", 1)[-1].removesuffix(".csv")[:256] or "upload"
    row = await create_campaign(ctx, session, org, title, campaign_settings, report.contacts, agent=agent, start=start)
    return await _created(ctx, session, row, report)


@router.get("", response_model=CampaignList)
async def list_campaigns(
    org: CurrentOrg, session: DbSession, ctx: Context, limit: Limit = DEFAULT_PAGE_SIZE, offset: Offset = 0
) -> CampaignList:
    """The organization's campaigns, newest first, with counts from the store."""
    rows, total = await reports.campaigns_page(session, org.id, limit=limit, offset=offset)
    items = await campaign_views(session, ctx.settings, rows)
    return CampaignList(items=items, total=total, limit=limit, offset=offset)


@router.get("/events", response_class=EventSourceResponse, response_model=CampaignsSnapshot)
async def all_campaign_events(org: CurrentOrg, ctx: Context, request: Request) -> AsyncIterable[CampaignsSnapshot]:
    """Server-sent events: about once a second, the organization's newest campaigns with their counts."""
    while not await request.is_disconnected():
        async with ctx.sessions() as session:
            await begin_read_only(session)
            rows, _ = await reports.campaigns_page(session, org.id, limit=MAX_PAGE_SIZE, offset=0)
            yield CampaignsSnapshot(campaigns=await campaign_views(session, ctx.settings, rows))
        await asyncio.sleep(EVENT_INTERVAL_SECONDS)


@router.get("/{campaign_id}", response_model=CampaignOut, responses=ERRORS)
async def get_campaign(campaign_id: str, org: CurrentOrg, session: DbSession, ctx: Context) -> CampaignOut:
    """One campaign: store counts, and live progress from its workflow."""
    return await campaign_view(ctx, session, await owned_campaign(session, org, campaign_id))


async def _campaign_exists(campaign_id: str, org: CurrentOrg, ctx: Context) -> None:
    """A stream's 404 must come before it starts: once the first event is out, the status is 200."""
    async with ctx.sessions() as session:
        await begin_read_only(session)
        await owned_campaign(session, org, campaign_id)


@router.get("/{campaign_id}/events", response_class=EventSourceResponse, response_model=CampaignOut, responses=ERRORS)
async def campaign_events(
    campaign_id: str, org: CurrentOrg, ctx: Context, request: Request, _: Annotated[None, Depends(_campaign_exists)]
) -> AsyncIterable[CampaignOut]:
    """Server-sent events: the campaign (with live progress) about once a second; the stream ends
    after the event that shows it completed or cancelled."""
    while not await request.is_disconnected():
        async with ctx.sessions() as events_session:
            await begin_read_only(events_session)
            row = await owned_campaign(events_session, org, campaign_id)
            view = await campaign_view(ctx, events_session, row)
        yield view
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
async def start_campaign(campaign_id: str, org: CurrentOrg, session: DbSession, ctx: Context) -> CampaignOut:
    """Start a draft: its agent is snapshotted now, from the stored agent."""
    row = await owned_campaign(session, org, campaign_id)
    if row.status != CAMPAIGN_DRAFT:
        conflict(f"campaign {campaign_id!r} has already been started (it is {row.status})")
    agent = await campaign_agent(session, org.id, row.agent_name)
    if not await reports.move_status(session, campaign_id, CAMPAIGN_DRAFT, CampaignStatus.RUNNING.value):
        conflict(f"campaign {campaign_id!r} has already been started")
    await session.commit()
    count = await queries.count_contacts(session, campaign_id)
    await _start_workflow(ctx, session, campaign_id, row.name, row.campaign_settings, count, agent)
    return await campaign_view(ctx, session, await owned_campaign(session, org, campaign_id))


async def _steer(
    ctx: Context, session: AsyncSession, org: OrganizationRow, row: CampaignRow, action: str, reason: str = ""
) -> CampaignOut:
    if row.status == CAMPAIGN_DRAFT:
        conflict(f"campaign {row.id!r} is a draft: start it first")
    await release(session)
    try:
        if action == "pause":
            await campaigns.pause(ctx.client, row.id)
        elif action == "resume":
            await campaigns.resume(ctx.client, row.id)
        else:
            await campaigns.cancel(ctx.client, row.id, reason)
    except campaigns.CampaignEndedError:
        conflict(f"campaign {row.id!r} has already ended")
    except campaigns.CampaignNotFoundError:
        conflict(f"campaign {row.id!r} has no running workflow")
    if action in STORED_TRANSITIONS:
        await reports.move_status(session, row.id, *STORED_TRANSITIONS[action])
        await session.commit()
    return await campaign_view(ctx, session, await owned_campaign(session, org, row.id))


@router.post("/{campaign_id}/pause", response_model=CampaignOut, responses=ERRORS)
async def pause_campaign(campaign_id: str, org: CurrentOrg, session: DbSession, ctx: Context) -> CampaignOut:
    """Stop new dials within seconds; calls in progress finish normally."""
    return await _steer(ctx, session, org, await owned_campaign(session, org, campaign_id), "pause")


@router.post("/{campaign_id}/resume", response_model=CampaignOut, responses=ERRORS)
async def resume_campaign(campaign_id: str, org: CurrentOrg, session: DbSession, ctx: Context) -> CampaignOut:
    return await _steer(ctx, session, org, await owned_campaign(session, org, campaign_id), "resume")


@router.post("/{campaign_id}/cancel", response_model=CampaignOut, responses=ERRORS)
async def cancel_campaign(
    campaign_id: str, org: CurrentOrg, session: DbSession, ctx: Context, body: CancelRequest | None = None
) -> CampaignOut:
    """End the campaign: waiting contacts end as cancelled, calls in progress finish first. A draft
    is cancelled at once."""
    row = await owned_campaign(session, org, campaign_id)
    reason = body.reason if body else ""
    if row.status == CAMPAIGN_DRAFT:
        if not await reports.move_status(session, campaign_id, CAMPAIGN_DRAFT, CampaignStatus.CANCELLED.value):
            conflict(f"campaign {campaign_id!r} was started meanwhile: cancel it again")
        await queries.cancel_undispatched(session, campaign_id)
        await session.commit()
        return await campaign_view(ctx, session, await owned_campaign(session, org, campaign_id))
    return await _steer(ctx, session, org, row, "cancel", reason)


# ---- adding contacts ------------------------------------------------------------------------------


async def _add_contacts(
    ctx: Context, session: AsyncSession, row: CampaignRow, report: CsvImportReport
) -> ContactsAdded | JSONResponse:
    """A draft takes them straight into the store; a running campaign through its workflow, which
    starts their calls."""
    if row.status in ENDED:
        conflict(f"campaign {row.id!r} has ended; contacts can no longer be added")
    if not report.contacts:
        return nothing_to_import(report)
    if row.status == CAMPAIGN_DRAFT:
        result = await queries.add_contacts(session, row.id, report.contacts)
        await session.commit()
    else:
        await release(session)
        handle = campaigns.campaign_handle(ctx.client, row.id)
        ended = f"campaign {row.id!r} has ended; contacts can no longer be added"
        with workflow_conflicts(f"campaign {row.id!r}", ended):
            result = await handle.execute_update(
                CampaignWorkflow.add_contacts, AddContactsInput(contacts=report.contacts)
            )
    # An id another request added meanwhile is skipped by the store; ``imported`` counts what went in.
    view = await campaign_view(ctx, session, row)
    return ContactsAdded(campaign=view, import_report=ImportReport(imported=result.added, errors=report.errors))


@router.post("/{campaign_id}/contacts", response_model=ContactsAdded, responses={**ERRORS, 422: {"model": ErrorBody}})
async def add_contacts(
    campaign_id: str, body: ContactsAdd, org: CurrentOrg, session: DbSession, ctx: Context
) -> ContactsAdded | JSONResponse:
    """Add contacts to a draft or a running (or paused) campaign; rejected rows are reported."""
    row = await owned_campaign(session, org, campaign_id)
    existing = await reports.campaign_external_ids(session, campaign_id)
    report = await checked_json_rows(session, org.id, body.contacts, existing)
    return await _add_contacts(ctx, session, row, report)


@router.post(
    "/{campaign_id}/contacts/upload", response_model=ContactsAdded, responses={**ERRORS, 422: {"model": ErrorBody}}
)
async def add_contacts_csv(
    campaign_id: str,
    org: CurrentOrg,
    session: DbSession,
    ctx: Context,
    file: Annotated[UploadFile, File(description="CSV with the same columns as a campaign upload")],
) -> ContactsAdded | JSONResponse:
    """Add a CSV's contacts to a draft or a running (or paused) campaign; rejected rows are reported."""
    row = await owned_campaign(session, org, campaign_id)
    existing = await reports.campaign_external_ids(session, campaign_id)
    report = await checked_csv(session, org.id, file, existing)
    return await _add_contacts(ctx, session, row, report)
