"""The organization's phone numbers and the agent that answers each one's incoming calls."""

from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, status

from api.deps import CurrentOrg, DbSession
from api.routers.common import V1_DEPENDENCIES, V1_RESPONSES, Context, invalid, not_found, release, row_view
from schemas.api import ErrorBody, NumberAssignment, NumberList, NumberOut
from schemas.contact import normalize_phone
from schemas.settings import Settings
from store import numbers, queries
from store.models import PhoneNumberRow

if TYPE_CHECKING:
    from telephony.twilio_voice import TwilioVoice

router = APIRouter(prefix="/v1/numbers", tags=["numbers"], dependencies=V1_DEPENDENCIES, responses=V1_RESPONSES)


def number_view(row: PhoneNumberRow) -> NumberOut:
    return row_view(NumberOut, row)


@router.get("", response_model=NumberList)
async def list_numbers(org: CurrentOrg, session: DbSession) -> NumberList:
    """The organization's numbers (`ringflow numbers sync` fetches them from Twilio)."""
    return NumberList(items=[number_view(row) for row in await numbers.list_numbers(session, org.id)])


@router.put(
    "/{number}/agent",
    response_model=NumberOut,
    responses={
        404: {"model": ErrorBody, "description": "No such number in your organization"},
        502: {"model": ErrorBody, "description": "Twilio refused to point the number at this API"},
        503: {"model": ErrorBody, "description": "RINGFLOW_PUBLIC_BASE_URL is not an http(s):// URL"},
    },
)
async def assign_agent(
    number: str, body: NumberAssignment, org: CurrentOrg, session: DbSession, ctx: Context
) -> NumberOut:
    """Let an active agent answer the number's incoming calls (null: nobody does). With Twilio
    configured, the number's voice webhook and status callback are pointed at this API first, so each call
    reaches the agent and its end (final status, duration) reaches the call's workflow."""
    try:
        e164 = normalize_phone(number)
    except ValueError:
        not_found(f"no number {number!r}")
    row = await numbers.get_number(session, e164, org.id)
    if row is None:
        not_found(f"no number {e164}")
    if body.agent_name is not None:
        agent = await queries.get_agent(session, body.agent_name, org.id)
        if agent is None:
            invalid(f"agent_name: your organization has no agent named {body.agent_name!r}")
        if not agent.active:
            invalid(f"agent_name: agent {body.agent_name!r} is inactive")
        await release(session)
        await _point_webhooks(ctx, row)
    await numbers.assign_agent(session, e164, body.agent_name, org.id)
    await session.commit()
    row = await numbers.get_number(session, e164, org.id)
    assert row is not None
    return number_view(row)


def twilio_voice(settings: Settings) -> "TwilioVoice":
    """The Twilio client that moves webhooks (a seam: tests point it at a local stand-in)."""
    from telephony.twilio_voice import TwilioVoice

    return TwilioVoice.from_settings(settings)


async def _point_webhooks(ctx: Context, row: PhoneNumberRow) -> None:
    """Twilio first, like `ringflow numbers assign`: if it refuses, the store still says what Twilio does."""
    settings = ctx.settings
    if not (settings.twilio_configured and settings.public_base_url and row.twilio_sid):
        return
    from requests.exceptions import RequestException
    from twilio.base.exceptions import TwilioException

    from telephony.twilio_voice import number_webhooks

    try:
        webhooks = number_webhooks(settings.public_base_url)
    except ValueError as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(err)) from None
    try:
        await twilio_voice(settings).set_number_webhooks(row.twilio_sid, webhooks)
    except (TwilioException, RequestException) as err:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"Twilio refused to set the number's webhooks: {err}"
        ) from None
