"""Contacts of the organization's campaigns, filtered by campaign, final outcome, date and agent."""

from datetime import datetime

from fastapi import APIRouter, Query

from api.deps import CurrentOrg, DbSession
from api.routers.common import (
    V1_DEPENDENCIES,
    V1_RESPONSES,
    Context,
    Cursor,
    Limit,
    Offset,
    contact_cursor,
    encode_cursor,
    row_view,
    utc,
)
from infra.web_ui import workflow_ui_url
from schemas.api import DEFAULT_PAGE_SIZE, ContactList, ContactOut, DecisionList
from schemas.calls import outbound_call_id
from schemas.workflow_io import contact_workflow_id
from store import compliance, reports

router = APIRouter(prefix="/v1/contacts", tags=["contacts"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)


@router.get("", response_model=ContactList)
async def list_contacts(
    org: CurrentOrg,
    session: DbSession,
    ctx: Context,
    campaign_id: str | None = Query(default=None, max_length=64),
    outcome: str | None = Query(default=None, max_length=32, description="Final outcome, e.g. qualified"),
    since: datetime | None = Query(default=None, description="Changed at or after (ISO 8601; naive is UTC)"),
    until: datetime | None = Query(default=None, description="Changed before"),
    agent: str | None = Query(default=None, max_length=100, description="The campaign's agent"),
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
    cursor: Cursor = None,
    with_total: bool = Query(
        default=True,
        description="false: leave total null and skip counting, as a list paged by cursor (the dashboard's) "
        "has no use for it; pages with a cursor never count",
    ),
) -> ContactList:
    """The organization's contacts, most recently changed first. Page a large list with ``cursor``: ``total``
    is counted only on pages without it (and without ``with_total=false``)."""
    after = contact_cursor(cursor, offset)
    where = reports.CallFilter(
        campaign_id=campaign_id,
        outcome=outcome,
        since=utc(since, "since"),
        until=utc(until, "until"),
        agent=agent,
    )
    page = await reports.contacts_page(
        session, org.id, where, limit=limit, offset=offset, after=after, count=with_total
    )
    items = [
        row_view(
            ContactOut,
            row,
            agent_name=agent_name,
            # Attempt n is the contact's nth dial, and ``attempts`` counts the finished ones.
            last_call_id=outbound_call_id(row.campaign_id, row.external_id, row.attempts) if row.attempts else None,
            web_ui_url=workflow_ui_url(ctx.settings, contact_workflow_id(row.campaign_id, row.external_id)),
        )
        for row, agent_name in page.items
    ]
    return ContactList(
        items=items, total=page.total, limit=limit, offset=offset, next_cursor=encode_cursor(page.next_key)
    )


@router.get("/{campaign_id}/{external_id}/decisions", response_model=DecisionList)
async def contact_decisions(campaign_id: str, external_id: str, org: CurrentOrg, session: DbSession) -> DecisionList:
    """The contact's audit trail: why each dial was allowed, and why any was delayed or skipped (zones, local
    times, the rule that applied, when the do-not-call list was checked, the attempt counts). Empty for a
    contact the organization does not have."""
    items = await compliance.decisions_for(session, org.id, campaign_id, external_id)
    return DecisionList(campaign_id=campaign_id, external_id=external_id, items=items)
