"""Twilio's voice webhooks: an incoming call is bridged to the agent bound to the dialled number.

``POST /twilio/voice/incoming`` starts ``InboundCallWorkflow`` (id ``inbound-<CallSid>``) with
update-with-start; its ``prepare`` update creates the LiveKit room with the agent in it and answers
the SIP URI, which becomes ``<Dial><Sip>``. A Twilio retry of the same call reuses the running
workflow (USE_EXISTING) and gets the same room. ``POST /twilio/voice/status`` forwards the call's
status to the workflow. Both check ``X-Twilio-Signature`` against the public URL first.
"""

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.deps import AppContext, app_context
from schemas.inbound import CallStatusUpdate, InboundCallInput, PreparedCall, inbound_workflow_id
from store import numbers
from telephony.twilio_voice import dial_sip_twiml, polite_hangup_twiml, validate_signature
from workflows.inbound import InboundCallWorkflow

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/twilio/voice")

XML = "application/xml"
NO_AGENT_MESSAGE = "Sorry, nobody can take your call at this number. Goodbye."
UNAVAILABLE_MESSAGE = "Sorry, we cannot take your call right now. Please try again later. Goodbye."

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
    base = ctx.settings.public_base_url
    if base:
        url = base.rstrip("/") + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        url = str(request.url)
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
    if agent is None:
        logger.info(
            "incoming call %s to %s: no active agent for the number, hanging up",
            call_sid,
            to_number,
            extra={"call_id": call_sid},
        )
        return Response(polite_hangup_twiml(NO_AGENT_MESSAGE), media_type=XML)
    workflow_id = inbound_workflow_id(call_sid)
    try:
        call_input = InboundCallInput(call_sid=call_sid, from_number=from_number, to_number=to_number, agent=agent)
    except ValueError:
        return _bad_request("invalid call fields")
    operation = WithStartWorkflowOperation(
        InboundCallWorkflow.run,
        call_input,
        id=workflow_id,
        task_queue=ctx.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    try:
        prepared: PreparedCall = await ctx.client.execute_update_with_start_workflow(
            InboundCallWorkflow.prepare, start_workflow_operation=operation
        )
    except (WorkflowUpdateFailedError, RPCError) as err:
        logger.error(
            "incoming call %s to %s could not be prepared: %s", call_sid, to_number, err, extra={"call_id": call_sid}
        )
        return Response(polite_hangup_twiml(UNAVAILABLE_MESSAGE), media_type=XML)
    logger.info(
        "incoming call %s to %s answered by agent %s in %s",
        call_sid,
        to_number,
        agent.name,
        prepared.room,
        extra={"call_id": call_sid, "room": prepared.room, "workflow_id": workflow_id},
    )
    twiml = dial_sip_twiml(prepared.sip_uri, **ctx.settings.livekit_sip_credentials)
    return Response(twiml, media_type=XML)


@router.post("/status", status_code=204)
async def status(request: Request, ctx: Context) -> Response:
    form = await _signed_form(request, ctx)
    if isinstance(form, Response):
        return form
    call_sid, call_status = _field(form, "CallSid"), _field(form, "CallStatus")
    if not call_sid or not call_status:
        return _bad_request("CallSid and CallStatus are required")
    raw_duration = _field(form, "CallDuration")
    try:
        duration = float(raw_duration) if raw_duration else None
    except ValueError:
        return _bad_request("CallDuration is not a number")
    handle = ctx.client.get_workflow_handle(inbound_workflow_id(call_sid))
    try:
        await handle.signal("call_status", CallStatusUpdate(status=call_status, duration_seconds=duration))
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    return Response(status_code=204)
