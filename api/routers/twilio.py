"""Twilio's voice webhooks: an incoming call is bridged to the agent bound to the dialled number.

``POST /twilio/voice/incoming`` starts ``InboundCallWorkflow`` (id ``inbound-<CallSid>``) with
update-with-start; its ``prepare`` update creates the LiveKit room with the agent in it and answers
the SIP URI, which becomes ``<Dial><Sip>``. A Twilio retry of the same call reuses the running
workflow (USE_EXISTING) and gets the same room.

The call's end reaches the workflow two ways, whichever comes first wins there:
``POST /twilio/voice/dial-ended`` is the ``<Dial>``'s action (the bridged leg ended: ``DialCallStatus``,
``DialCallDuration``; it answers the TwiML that ends the call), and ``POST /twilio/voice/status`` is the
number's status callback (set when a number is assigned: the call's final ``CallStatus`` and
``CallDuration``). Both are sent as the workflow's ``call_status`` signal, by method reference. Every route
checks ``X-Twilio-Signature`` against the public URL first.
"""

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import FormData
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import AppContext, app_context
from schemas.api import ErrorBody
from schemas.inbound import (
    KNOWN_CALL_STATUSES,
    CallStatusUpdate,
    InboundCallInput,
    PreparedCall,
    inbound_workflow_id,
)
from store import capacity, numbers
from telephony.twilio_voice import (
    DIAL_ENDED_WEBHOOK_PATH,
    call_duration_seconds,
    dial_sip_twiml,
    final_dial_status,
    hangup_twiml,
    polite_hangup_twiml,
    validate_signature,
)
from workflows.inbound import InboundCallWorkflow

logger = logging.getLogger(__name__)
router = APIRouter(
    prefix="/twilio/voice",
    responses={
        400: {"model": ErrorBody, "description": "An unreadable form, or a parameter Twilio never sends"},
        403: {"model": ErrorBody, "description": "Not signed by Twilio (`X-Twilio-Signature`)"},
        503: {"model": ErrorBody, "description": "Twilio is not configured on this deployment"},
    },
)

XML = "application/xml"
NO_AGENT_MESSAGE = "Sorry, nobody can take your call at this number. Goodbye."
UNAVAILABLE_MESSAGE = "Sorry, we cannot take your call right now. Please try again later. Goodbye."
ALL_LINES_BUSY_MESSAGE = "Sorry, all our lines are busy right now. Please call again in a few minutes. Goodbye."

Context = Annotated[AppContext, Depends(app_context)]


def _bad_request(detail: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


async def _signed_form(request: Request, ctx: AppContext) -> FormData | JSONResponse:
    """The webhook's form fields, or the error response when they are unreadable or not signed by Twilio."""
    if not ctx.settings.twilio_auth_token:
        return _bad_request("Twilio is not configured", 503)
    try:
        form = await request.form()
    except Exception:
        return _bad_request("unreadable form body")
    url = _public_url(request, ctx, request.url.path) + (f"?{request.url.query}" if request.url.query else "")
    signature = request.headers.get("X-Twilio-Signature")
    settings_header = request.headers.get("X-Twilio-Webhooks-Signature-Settings")
    try:
        valid = validate_signature(
            ctx.settings.twilio_auth_token, url, form, signature, signature_settings=settings_header
        )
    except Exception:
        valid = False
    if not valid:
        logger.warning("rejected a Twilio webhook with a bad signature for %s", url)
        return _bad_request("invalid signature", 403)
    return form


def _public_url(request: Request, ctx: AppContext, path: str) -> str:
    """``path`` on this API as Twilio reaches it: under the public base URL behind a proxy, else as requested."""
    base = ctx.settings.public_base_url
    if base:
        return base.rstrip("/") + path
    return str(request.url.replace(path=path, query=""))


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@router.post("/incoming")
async def incoming(request: Request, ctx: Context) -> Response:
    form = await _signed_form(request, ctx)
    if isinstance(form, Response):
        return form
    call_sid, to_number, from_number = _field(form, "CallSid"), _field(form, "To"), _field(form, "From")
    if not call_sid or not to_number:
        return _bad_request("CallSid and To are required")
    async with ctx.sessions() as session:
        agent = await numbers.agent_for_number(session, to_number)
        number = await numbers.get_number(session, to_number)
        handled = await numbers.get_inbound_call(session, call_sid)
    if handled is not None and handled.ended_at is not None:
        return _replayed(call_sid)
    if agent is None or number is None:
        logger.info(
            "incoming call %s to %s: no active agent for the number, hanging up",
            call_sid,
            to_number,
            extra={"call_id": call_sid},
        )
        return Response(polite_hangup_twiml(NO_AGENT_MESSAGE), media_type=XML)
    workflow_id = inbound_workflow_id(call_sid)
    try:
        call_input = InboundCallInput(
            call_sid=call_sid, from_number=from_number, to_number=to_number, agent=agent, org_id=number.org_id
        )
    except ValueError:
        return _bad_request("invalid call fields")
    async with ctx.sessions() as session:  # the call's line, released when the call's workflow records its end
        refused = await capacity.take_inbound_line(session, call_sid, number.org_id)
        await session.commit()
    if refused is not None:
        logger.warning(
            "incoming call %s to %s: %s, hanging up", call_sid, to_number, refused.reason, extra={"call_id": call_sid}
        )
        return Response(polite_hangup_twiml(ALL_LINES_BUSY_MESSAGE), media_type=XML)
    operation = WithStartWorkflowOperation(
        InboundCallWorkflow.run,
        call_input,
        id=workflow_id,
        task_queue=ctx.settings.task_queue,
        # Twilio retrying a live call's webhook reaches the same run; a call whose run has closed never
        # gets another, whatever the store says (a replayed request after the call ended).
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    try:
        prepared: PreparedCall = await ctx.client.execute_update_with_start_workflow(
            InboundCallWorkflow.prepare, start_workflow_operation=operation
        )
    except WorkflowAlreadyStartedError:
        await _release_line(ctx, call_sid)  # the call ended before: its run released its line already
        return _replayed(call_sid)
    except (WorkflowUpdateFailedError, RPCError) as err:
        logger.error(
            "incoming call %s to %s could not be prepared: %s", call_sid, to_number, err, extra={"call_id": call_sid}
        )
        await _release_line(ctx, call_sid)  # the caller is hung up on: the line is free again
        return Response(polite_hangup_twiml(UNAVAILABLE_MESSAGE), media_type=XML)
    logger.info(
        "incoming call %s to %s answered by agent %s in %s",
        call_sid,
        to_number,
        agent.name,
        prepared.room,
        extra={"call_id": call_sid, "room": prepared.room, "workflow_id": workflow_id},
    )
    twiml = dial_sip_twiml(
        prepared.sip_uri,
        action=_public_url(request, ctx, DIAL_ENDED_WEBHOOK_PATH),
        **ctx.settings.livekit_sip_credentials,
    )
    return Response(twiml, media_type=XML)


@router.post("/status", status_code=204)
async def status(request: Request, ctx: Context) -> Response:
    """The number's status callback: the call's ``CallStatus`` and, once it is over, ``CallDuration``."""
    form = await _signed_form(request, ctx)
    if isinstance(form, Response):
        return form
    call_sid, call_status = _field(form, "CallSid"), _field(form, "CallStatus")
    if not call_sid or not call_status:
        return _bad_request("CallSid and CallStatus are required")
    update = _status_update(call_sid, call_status, _field(form, "CallDuration"), "CallDuration")
    if isinstance(update, Response):
        return update
    await _signal_end(ctx, call_sid, update)
    return Response(status_code=204)


@router.post(DIAL_ENDED_WEBHOOK_PATH.removeprefix("/twilio/voice"))
async def dial_ended(request: Request, ctx: Context) -> Response:
    """The ``<Dial>``'s action: the leg bridged to the agent's room ended (``DialCallStatus``,
    ``DialCallDuration``). Answers the TwiML that ends the call: had the room never answered, the caller
    hears why first."""
    form = await _signed_form(request, ctx)
    if isinstance(form, Response):
        return form
    call_sid, dial_status = _field(form, "CallSid"), _field(form, "DialCallStatus")
    if not call_sid or not dial_status:
        return _bad_request("CallSid and DialCallStatus are required")
    final = final_dial_status(dial_status)
    if final is None:
        logger.warning(
            "call %s: ignored the unknown DialCallStatus %r", call_sid, dial_status[:40], extra={"call_id": call_sid}
        )
        return Response(hangup_twiml(), media_type=XML)
    update = _status_update(call_sid, final, _field(form, "DialCallDuration"), "DialCallDuration")
    if isinstance(update, Response):
        return update
    await _signal_end(ctx, call_sid, update)
    if final == "completed":
        return Response(hangup_twiml(), media_type=XML)
    return Response(polite_hangup_twiml(UNAVAILABLE_MESSAGE), media_type=XML)


async def _release_line(ctx: AppContext, call_sid: str) -> None:
    async with ctx.sessions() as session:
        await capacity.release_line(session, call_sid)
        await session.commit()


def _replayed(call_sid: str) -> Response:
    """A request for a call that has already ended (a replayed request): hang up, and hand out nothing."""
    logger.warning(
        "incoming call %s: already handled and ended; a replay, hanging up", call_sid, extra={"call_id": call_sid}
    )
    return Response(polite_hangup_twiml(UNAVAILABLE_MESSAGE), media_type=XML)


def _status_update(call_sid: str, status: str, raw_duration: str, field: str) -> CallStatusUpdate | JSONResponse:
    """The signal's payload; a 400 (logged) for a duration that is no real one, so it is never stored."""
    if status not in KNOWN_CALL_STATUSES:
        logger.warning("call %s: refused status %r", call_sid, status[:40], extra={"call_id": call_sid})
        return _bad_request(f"{status[:32]!r} is not a call status")
    try:
        return CallStatusUpdate(status=status, duration_seconds=call_duration_seconds(raw_duration))
    except (ValueError, ValidationError) as err:
        logger.warning(
            "call %s: refused %s=%r: %s", call_sid, field, raw_duration[:40], err, extra={"call_id": call_sid}
        )
        return _bad_request(f"{field} is not a call duration in seconds")


async def _signal_end(ctx: AppContext, call_sid: str, update: CallStatusUpdate) -> None:
    """Tell the call's workflow; a call with no inbound workflow (an outbound call's, or one already ended
    by an earlier report) is ignored."""
    handle = ctx.client.get_workflow_handle_for(InboundCallWorkflow.run, inbound_workflow_id(call_sid))
    try:
        await handle.signal(InboundCallWorkflow.call_status, update)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
