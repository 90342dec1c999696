"""Calls: every dial of the organization's campaigns and every incoming call, one list; a call's
transcript, notes, shared information and callbacks; and the live context of a call in progress."""

from datetime import datetime

from fastapi import APIRouter, Query, Request

from api.deps import CurrentOrg, DbSession
from api.routers.common import (
    V1_DEPENDENCIES,
    V1_RESPONSES,
    Context,
    Cursor,
    Limit,
    Offset,
    call_cursor,
    call_id,
    encode_cursor,
    not_found,
    parse_outbound_call_id,
    release,
    row_view,
    utc,
    workflow_conflicts,
)
from api.services import analysis, recordings
from infra.web_ui import workflow_ui_url
from schemas.agent import LiveContext
from schemas.analysis import CallAnalysis
from schemas.api import DEFAULT_PAGE_SIZE, CallbackOut, CallDetail, CallList, CallOut, ContextEdit, ErrorBody, NoteOut
from schemas.calls import INBOUND_CALL_PREFIX
from schemas.inbound import inbound_workflow_id
from schemas.recordings import RecordingLink
from schemas.workflow_io import ContextUpdate, contact_workflow_id
from store import analyses, compliance, departments, queries, reports, tools
from store import recordings as recording_rows
from store.models import OrganizationRow

router = APIRouter(prefix="/v1/calls", tags=["calls"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)

NOT_FOUND = {404: {"model": ErrorBody, "description": "No such call in your organization"}}


def call_view(record: reports.CallRecord) -> CallOut:
    return row_view(
        CallOut, record, id=call_id(record.direction, record.campaign_id, record.external_id, record.attempt)
    )


def workflow_id_of(record: reports.CallRecord) -> str:
    if record.direction == reports.INBOUND:
        return inbound_workflow_id(record.external_id)
    return contact_workflow_id(record.campaign_id, record.external_id)


async def owned_call(session: DbSession, org: OrganizationRow, call: str) -> reports.CallRecord:
    """The organization's call with this id; 404 for a malformed id or anyone else's call."""
    record = None
    if call.startswith(INBOUND_CALL_PREFIX):
        record = await reports.inbound_call(session, org.id, call.removeprefix(INBOUND_CALL_PREFIX))
    elif (key := parse_outbound_call_id(call)) is not None:
        record = await reports.outbound_call(session, org.id, *key)
    if record is None:
        not_found(f"no call {call!r}")
    return record


@router.get("", response_model=CallList)
async def list_calls(
    org: CurrentOrg,
    session: DbSession,
    campaign_id: str | None = Query(default=None, max_length=64, description="'inbound' for incoming calls"),
    outcome: str | None = Query(default=None, max_length=32, description="e.g. no_answer, qualified, completed"),
    since: datetime | None = Query(default=None, description="Started at or after (ISO 8601; naive is UTC)"),
    until: datetime | None = Query(default=None, description="Started before"),
    agent: str | None = Query(default=None, max_length=100),
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> CallList:
    """Outbound dials and incoming calls together, newest first. Page a large list with ``cursor``: ``total``
    is counted only on pages without it."""
    after = call_cursor(cursor, offset)
    where = reports.CallFilter(
        campaign_id=campaign_id, outcome=outcome, since=utc(since, "since"), until=utc(until, "until"), agent=agent
    )
    page = await reports.calls_page(session, org.id, where, limit=limit, offset=offset, after=after)
    return CallList(
        items=[call_view(record) for record in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
        next_cursor=encode_cursor(page.next_key),
    )


@router.get("/{call_id}", response_model=CallDetail, responses=NOT_FOUND)
async def get_call(call_id: str, org: CurrentOrg, session: DbSession, ctx: Context) -> CallDetail:
    """One call with what the agent recorded on it; callbacks are the contact's, over all its calls."""
    record = await owned_call(session, org, call_id)
    key = (record.campaign_id, record.external_id, record.attempt)
    inbound = record.direction == reports.INBOUND
    notes = await reports.notes_of_call(session, *key)
    callbacks = await reports.callbacks_of_contact(session, record.campaign_id, record.external_id)
    return CallDetail(
        **call_view(record).model_dump(),
        transcript=await queries.transcript_for(session, *key),
        notes=[row_view(NoteOut, row) for row in notes],
        information=await reports.information_of_call(session, *key),
        callbacks=[row_view(CallbackOut, row) for row in callbacks],
        web_ui_url=workflow_ui_url(ctx.settings, workflow_id_of(record)),
        decision=None if inbound else next(iter(await compliance.decisions_for(session, org.id, *key)), None),
        contact_decisions=[] if inbound else await compliance.decisions_for(session, org.id, *key[:2]),
        analysis=await analyses.analysis_of_call(session, *key),
        tool_invocations=await tools.invocations_for(session, *key),
        routes=await departments.routes_for(session, *key),
        recordings=[
            recording_rows.recording_view(row) for row in await recording_rows.recordings_of_call(session, *key)
        ],
    )


@router.get("/{call_id}/recording", response_model=RecordingLink, responses=NOT_FOUND)
async def get_recording(
    call_id: str, org: CurrentOrg, session: DbSession, ctx: Context, request: Request
) -> RecordingLink:
    """The call's recording, its length check, and a link to download it: signed, and valid for the deployment's
    ``RINGFLOW_RECORDING_LINK_SECONDS`` without other authorization. 404 when the call was not recorded."""
    record = await owned_call(session, org, call_id)
    try:
        return await recordings.call_recording_link(
            session, ctx.settings, record.campaign_id, record.external_id, record.attempt, str(request.base_url)
        )
    except recordings.RecordingNotFoundError as err:
        not_found(str(err))


@router.post("/{call_id}/analysis", response_model=CallAnalysis, responses=NOT_FOUND)
async def rerun_analysis(call_id: str, org: CurrentOrg, session: DbSession, ctx: Context) -> CallAnalysis:
    """Analyse the call again from its stored transcript, with its agent's current analysis config; the
    result replaces the stored analysis. It suggests only: the call's outcome is unchanged."""
    record = await owned_call(session, org, call_id)
    return await analysis.rerun_analysis(
        session,
        ctx.settings,
        org.id,
        campaign_id=record.campaign_id,
        external_id=record.external_id,
        attempt=record.attempt,
        agent_name=record.agent_name,
        outcome=record.outcome,
    )


@router.patch(
    "/{call_id}/context",
    response_model=LiveContext,
    responses={**NOT_FOUND, 409: {"model": ErrorBody, "description": "The call's workflow has ended"}},
)
async def edit_context(
    call_id: str, body: ContextEdit, org: CurrentOrg, session: DbSession, ctx: Context
) -> LiveContext:
    """Change what the agent knows during the call (merged, or replaced with ``replace``); it applies
    from the agent's next turn, and to the contact's later calls."""
    record = await owned_call(session, org, call_id)
    await release(session)
    handle = ctx.client.get_workflow_handle(workflow_id_of(record))
    with workflow_conflicts(f"call {call_id!r}", f"call {call_id!r} is over: its workflow has ended"):
        return await handle.execute_update(
            "update_context", ContextUpdate(data=body.data, replace=body.replace), result_type=LiveContext
        )
