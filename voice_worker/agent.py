"""RingflowAgent: the LiveKit agent one call runs. Every tool acts only through the CallBridge.

The call's result is recorded explicitly: ``record_disposition`` takes one of the agent's
dispositions (its description lists them, with what each means), and the workflow derives the
outcome from it. ``mark_not_interested``, ``mark_do_not_call`` and ``schedule_callback`` record the
matching disposition too, so whichever the model uses, one path decides.

HTTP tools (``/v1/tools``): the ones the agent config names are fetched through the bridge when the
session starts and registered as raw-schema tools; calling one is an update on the call's workflow,
which runs the request as an activity and records it (docs/tools.md).

Tool filtering: livekit's ``Agent.__init__`` adds every ``@function_tool`` found on the agent
object itself (``find_function_tools(self)``), so tools cannot be switched off by filtering after
the fact. The tools therefore live on a separate :class:`CallTools` object and the agent is
constructed with only the enabled ones: a disabled tool is never in any tool list the model sees.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from livekit.agents import Agent, RunContext, ToolError, function_tool, get_job_context, llm
from livekit.agents.llm import FunctionTool, RawFunctionTool, find_function_tools
from livekit.agents.types import NOT_GIVEN
from livekit.agents.voice import SpeechHandle

from schemas.agent import AgentTool, CallJob, InformationCategory, Language, LiveContext
from schemas.departments import Department, RouteAction, TransferReport, TransferResult, route_tool_schema
from schemas.dispositions import Disposition
from schemas.tools import HttpToolSpec, InvocationStatus, failure_sentence
from voice_worker.bridge import BridgeError, CallBridge
from voice_worker.phrases import resolve_when

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: Which config toggle governs each function tool; mark_do_not_call rides on mark_not_interested.
TOOL_TOGGLES: dict[str, AgentTool] = {
    "take_note": AgentTool.TAKE_NOTE,
    "share_information": AgentTool.SHARE_INFORMATION,
    "get_shared_information": AgentTool.GET_SHARED_INFORMATION,
    "schedule_callback": AgentTool.SCHEDULE_CALLBACK,
    "mark_not_interested": AgentTool.MARK_NOT_INTERESTED,
    "mark_do_not_call": AgentTool.MARK_NOT_INTERESTED,
    "end_call": AgentTool.END_CALL,
    "get_current_time": AgentTool.GET_CURRENT_TIME,
    "transfer_to_human": AgentTool.TRANSFER_TO_HUMAN,
    "detected_answering_machine": AgentTool.DETECTED_ANSWERING_MACHINE,
    "record_disposition": AgentTool.RECORD_DISPOSITION,
    "search_knowledge": AgentTool.SEARCH_KNOWLEDGE,
}

DEFAULT_POLL_INTERVAL = 2.0
MAX_TOOL_STEPS = 6
"""Tool calls the model may chain in one turn (LiveKit's default is 3). A call's closing turn alone can
share what the callee said, note it, record the disposition and end the call."""


class Transfer(Protocol):
    """Hands the callee's phone leg to a number or SIP URI (the live worker's SIP transfer), ringing it at most
    ``ringing_timeout``; absent in text mode. A failure raises (livekit-api's ``SipCallError`` with its code)."""

    def __call__(self, target: str, ringing_timeout: timedelta | None = None) -> Awaitable[object]: ...


NO_ANSWER_SIP_CODES = frozenset({408, 480, 486, 487, 603})
"""A transfer's SIP answers that mean nobody took it (timeout, unavailable, busy, cancelled, declined)."""

UNREACHABLE = "I'm sorry, I couldn't save that just now because of a technical problem."


def utc_now() -> datetime:
    return datetime.now(UTC)


def _say_time(at: datetime) -> str:
    """How a time is read back to a caller: weekday, date and clock time in their zone."""
    return at.strftime("%A %d %B at %H:%M")


def render_context(data: dict[str, Any]) -> str:
    """Context values as ``key: value`` lines; the model reads them, so keep it plain."""
    lines = []
    for key, value in data.items():
        if isinstance(value, dict | list):
            value = (
                ", ".join(f"{k}={v}" for k, v in value.items())
                if isinstance(value, dict)
                else ", ".join(map(str, value))
            )
        lines.append(f"{key}: {value}")
    return "\n".join(lines)


def render_instructions(job: CallJob, now: datetime, live: LiveContext | None = None) -> str:
    """The system prompt: agent instructions, then context (agent < job < live), contact and time."""
    merged: dict[str, Any] = {**job.agent.context, **job.context, **(live.data if live else {})}
    zone = job.contact.zone
    local = now.astimezone(ZoneInfo(zone))
    parts = [job.agent.instructions.strip()]
    if merged:
        parts.append("## Call context\n" + render_context(merged))
    contact = [f"name: {job.contact.name or 'unknown'}", f"time zone: {zone}"]
    parts.append("## Contact\n" + "\n".join(contact))
    parts.append(f"## Current local time\n{local.strftime('%A %Y-%m-%d %H:%M')} ({zone})")
    if job.agent.language == Language.ARABIC:
        parts.append("## Language\nAlways reply in Arabic.")
    else:
        parts.append("## Language\nReply in English unless the callee speaks Arabic; then reply in Arabic.")
    return "\n\n".join(parts)


def disposition_tool_schema(dispositions: list[Disposition]) -> dict[str, Any]:
    """The ``record_disposition`` tool as the model sees it: each disposition's name and description."""
    listed = "\n".join(f"- {d.name}: {d.description}" for d in dispositions)
    return {
        "name": "record_disposition",
        "description": (
            "Record what this call came to, as soon as it is clear and before you end the call. "
            "Pick the one disposition that fits best; if you record again, the latest one counts.\n" + listed
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "disposition": {
                    "type": "string",
                    "enum": [d.name for d in dispositions],
                    "description": "One of the dispositions listed above.",
                },
                "reason": {"type": "string", "description": "Why, in a few words, as the callee put it."},
            },
            "required": ["disposition", "reason"],
            "additionalProperties": False,
        },
    }


class CallTools:
    """The agent's function tools. Each one is a single bridge call; failures become ToolError.

    ``record_disposition`` is built per call (a raw-schema tool), since its description lists this
    agent's own dispositions.
    """

    def __init__(self, job: CallJob, bridge: CallBridge, clock: Clock, transfer: Transfer | None = None) -> None:
        self._job = job
        self._bridge = bridge
        self._clock = clock
        self._transfer = transfer
        self.ended_reason: str | None = None
        self.called: list[str] = []
        self.dispositions: list[str] = []
        self.record_disposition = function_tool(
            self._record_disposition_tool, raw_schema=disposition_tool_schema(job.agent.dispositions)
        )

    async def _record_disposition_tool(self, raw_arguments: dict[str, object]) -> str:
        disposition = str(raw_arguments.get("disposition", ""))
        reason = str(raw_arguments.get("reason", "") or "")
        self.called.append("record_disposition")
        recorded = await self._record(disposition, reason)
        return f"Recorded as {recorded.name}. Say goodbye and end the call, unless there is more to do."

    async def _record(self, disposition: str, reason: str) -> Disposition:
        """Through the bridge; a refusal (an unknown name) comes back as a sentence the model can act on."""
        try:
            recorded = await self._bridge.record_disposition(disposition, reason)
        except BridgeError as exc:
            raise ToolError(str(exc) or UNREACHABLE) from exc
        self.dispositions.append(recorded.name)
        return recorded

    def http_tool(self, spec: HttpToolSpec) -> RawFunctionTool:
        """One of the organization's HTTP tools, as the model sees it; its call goes through the workflow."""

        async def invoke(raw_arguments: dict[str, object]) -> str:
            self.called.append(spec.name)
            try:
                result = await self._bridge.call_http_tool(spec.name, raw_arguments)
            except BridgeError as exc:
                raise ToolError(str(exc) or failure_sentence(spec.name)) from exc
            if result.status != InvocationStatus.OK:
                raise ToolError(result.reply)
            return result.reply

        return function_tool(invoke, raw_schema=spec.openai_schema())

    def route_tool(self, departments: list[Department]) -> RawFunctionTool:
        """``route_to_department``, listing the agent's departments and what each is for. The workflow decides;
        on a transfer this rings the department's target for its ring timeout and reports how it went, and the
        workflow's answer (the transfer, or the fallback it applied) is what the model tells the caller."""

        async def route(raw_arguments: dict[str, object]) -> str:
            self.called.append("route_to_department")
            try:
                answer = await self._bridge.route_to_department(
                    str(raw_arguments.get("department", "")), str(raw_arguments.get("reason", "") or "")
                )
                if answer.action != RouteAction.TRANSFER or answer.target is None:
                    return answer.say
                report = await self._ring(answer.route_id, answer.target, answer.ring_timeout_seconds)
                outcome = await self._bridge.report_department_transfer(report)
            except BridgeError as exc:
                raise ToolError(str(exc) or UNREACHABLE) from exc
            if report.result == TransferResult.ANSWERED:
                return answer.say or "Transfer started. Tell the caller you are connecting them now."
            return outcome.say

        return function_tool(route, raw_schema=route_tool_schema(departments))

    async def _ring(self, route_id: str, target: str, ring_timeout_seconds: int | None) -> TransferReport:
        """Transfer the caller's leg to ``target``; what happened, as the workflow's report."""
        if self._transfer is None:
            return TransferReport(route_id=route_id, result=TransferResult.FAILED, detail="no phone line to transfer")
        timeout = timedelta(seconds=ring_timeout_seconds) if ring_timeout_seconds else None
        try:
            await self._transfer(target, timeout)
        except Exception as exc:  # a failed SIP REFER must never end the session: the fallback applies
            code = getattr(exc, "sip_status_code", None)
            result = TransferResult.NO_ANSWER if code in NO_ANSWER_SIP_CODES else TransferResult.FAILED
            return TransferReport(route_id=route_id, result=result, sip_status_code=code, detail=str(exc)[:500])
        return TransferReport(route_id=route_id, result=TransferResult.ANSWERED)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self._job.contact.zone)

    def enabled(self) -> list[FunctionTool | RawFunctionTool]:
        """The tools this job's agent config switches on (transfer needs a transfer number)."""
        on = self._job.agent.enabled_tools()
        return [tool for tool in find_function_tools(self) if TOOL_TOGGLES[tool.info.name] in on]

    @function_tool
    async def take_note(self, note: str) -> str:
        """Save a short note about this call for the team, e.g. an objection, a preference or a follow-up.

        Args:
            note: One or two plain sentences, written for a colleague who will read them later.
        """
        self.called.append("take_note")
        try:
            await self._bridge.take_note(note)
        except BridgeError as exc:
            raise ToolError(str(exc) or UNREACHABLE) from exc
        return "Note saved."

    @function_tool
    async def share_information(self, information: str, category: InformationCategory) -> str:
        """Record a fact the callee told you, so it is kept with their file.

        Use contact_details for email, phone number or name; qualification for budget, company size,
        needs and interest; debt_info for amounts owed or payment plans; personal_info for other
        personal facts; conversation_flow for how the call is going; other for anything else.

        Args:
            information: The fact, in the callee's own terms (e.g. "email: sam@example.com").
            category: Which kind of fact this is.
        """
        self.called.append("share_information")
        try:
            await self._bridge.share_information(InformationCategory(category), information)
        except BridgeError as exc:
            raise ToolError(str(exc) or UNREACHABLE) from exc
        return f"Recorded under {InformationCategory(category).value}."

    @function_tool
    async def get_shared_information(self, category: InformationCategory | None = None) -> str:
        """Look up what this callee has already told us (on this or earlier calls), to avoid asking twice.

        Args:
            category: Only facts of this kind; leave empty for everything.
        """
        self.called.append("get_shared_information")
        try:
            items = await self._bridge.get_shared_information(InformationCategory(category) if category else None)
        except BridgeError as exc:
            raise ToolError(str(exc) or UNREACHABLE) from exc
        if not items:
            return "Nothing has been recorded yet."
        return "\n".join(f"{item.category.value}: {item.information}" for item in items)

    @function_tool
    async def schedule_callback(self, when: str, reason: str) -> str:
        """Book a call back when the callee asks to be called at another time.

        Pass the time exactly as the callee said it, in their language and without translating it, e.g.
        "tomorrow at 10", "half past ten", "next Monday morning", "بكرة الساعة عشرة", "بعد ساعتين".
        If the time is refused, tell the callee why and offer another.

        Args:
            when: The time in the callee's own words (or an ISO date-time).
            reason: Why they want a call back, in a few words.
        """
        self.called.append("schedule_callback")
        try:
            at = resolve_when(when, self._clock(), self._job.contact.zone)
        except ValueError as exc:
            raise ToolError(f"{exc}. Could you give me a day and a time, like 'tomorrow at 10'?") from exc
        try:
            confirmation = await self._bridge.schedule_callback(at, reason)
        except BridgeError as exc:
            raise ToolError(str(exc) or UNREACHABLE) from exc
        try:
            await self._record("callback_requested", reason)
        except ToolError as exc:  # the callback is booked, which is what the workflow keeps
            log.warning("callback booked but its disposition was not recorded: %s", exc)
        scheduled = confirmation.scheduled_for.astimezone(self.zone)
        sentence = f"Callback booked for {_say_time(scheduled)} ({scheduled:%Y-%m-%d %H:%M} {self._job.contact.zone})."
        if confirmation.moved_into_window:
            sentence += " That was moved into our calling hours; tell the callee the new time."
        return sentence

    @function_tool
    async def mark_not_interested(self, reason: str) -> str:
        """Record that the callee is not interested in the offer. Then thank them and end the call.

        If they ask never to be called again, use mark_do_not_call instead.

        Args:
            reason: Their reason, briefly, if they gave one.
        """
        self.called.append("mark_not_interested")
        await self._record("not_interested", reason)
        return "Marked as not interested. Thank them politely and end the call."

    @function_tool
    async def mark_do_not_call(self, reason: str) -> str:
        """The callee asked never to be called again ("don't call me again", "stop calling", "remove my
        number"). Records them on the do-not-call list so no one calls them again. Then apologise briefly
        and end the call.

        Args:
            reason: What they said, briefly.
        """
        self.called.append("mark_do_not_call")
        await self._record("do_not_call", reason)
        return "Added to the do-not-call list. Apologise briefly and end the call."

    @function_tool
    async def detected_answering_machine(self) -> str:
        """Call this at once when a voicemail greeting or an answering machine picks up instead of a person
        ("leave a message after the tone", "the person you are calling is not available"). Returns the
        message to leave, if any: say it, then end the call.
        """
        self.called.append("detected_answering_machine")
        try:
            await self._bridge.report_voicemail("answering machine detected by the agent")
        except BridgeError as exc:
            raise ToolError(str(exc) or UNREACHABLE) from exc
        return self._job.agent.voicemail_message

    @function_tool
    async def end_call(self, context: RunContext, reason: str) -> None:
        """Hang up. Say your goodbye first, in the same turn; nothing can be said after this.

        Call it when the conversation is finished: a callback is booked, the callee is not interested,
        the call is qualified, or the callee is hostile.

        Args:
            reason: Why the call ends, in a few words (e.g. "callback booked").
        """
        self.called.append("end_call")
        self.ended_reason = reason
        _hang_up_after(context)
        try:
            await self._bridge.end_call(reason)
        except BridgeError as exc:
            raise ToolError(f"{exc} The call is ending anyway.") from exc
        return None  # no reply: the goodbye was already said

    @function_tool
    async def get_current_time(self) -> str:
        """The current date and time where the callee is, e.g. to check 'is it too late to call'."""
        self.called.append("get_current_time")
        local = self._clock().astimezone(self.zone)
        return f"{local.strftime('%A %Y-%m-%d %H:%M')} ({self._job.contact.zone})"

    @function_tool
    async def search_knowledge(self, query: str) -> str:
        """Look up the answer to the callee's question in this agent's documents (policies, prices, FAQs).
        Answer from the passages returned, and say which document the answer comes from.

        Args:
            query: The callee's question, in their words.
        """
        self.called.append("search_knowledge")
        try:
            answer = await self._bridge.search_knowledge(query)
        except BridgeError as exc:
            raise ToolError(str(exc) or UNREACHABLE) from exc
        return answer.reply()

    @function_tool
    async def transfer_to_human(self, reason: str) -> str:
        """Transfer the call to a human colleague when the callee insists on a person or you cannot help.

        Args:
            reason: What the colleague should know, in one sentence.
        """
        self.called.append("transfer_to_human")
        try:
            await self._bridge.transfer_to_human(reason)
        except BridgeError as exc:
            raise ToolError(str(exc) or UNREACHABLE) from exc
        if self._transfer is not None and self._job.agent.transfer_number:
            try:
                await self._transfer(self._job.agent.transfer_number)
            except Exception as exc:  # a failed SIP REFER must never end the session
                raise ToolError("I couldn't connect you to a colleague just now. Offer to help or a callback.") from exc
        return "Transfer started. Tell the callee you are connecting them now."


def _hang_up_after(context: RunContext) -> None:
    """End the session once the current turn (with its goodbye) is done; in a room also delete it.

    Deleting the room disconnects every participant, including the SIP leg, which is the hang-up.
    """
    session = context.session

    def _close(_: object) -> None:
        session.shutdown()

    context.speech_handle.add_done_callback(_close)
    job_ctx = get_job_context(required=False)
    if job_ctx is not None and job_ctx.room.isconnected():

        async def _delete_room() -> None:
            await job_ctx.delete_room()

        job_ctx.add_shutdown_callback(_delete_room)
        session.once("close", lambda _ev: job_ctx.shutdown(reason="end_call"))


Recorder = Callable[[], Awaitable[object]]
"""Starts recording the call (the live worker's LiveKit egress of the room); absent in text mode."""


class RingflowAgent(Agent):
    """One call's agent: rendered instructions, enabled tools, disclosure and greeting, and live-context polling."""

    def __init__(
        self,
        job: CallJob,
        bridge: CallBridge,
        clock: Clock | None = None,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        transfer: Transfer | None = None,
        recorder: Recorder | None = None,
        **agent_kwargs: Any,
    ) -> None:
        self.job = job
        self.recorder = recorder if job.agent.recording else None
        self.recording_task: asyncio.Task[None] | None = None
        self.bridge = bridge
        self.clock: Clock = clock or utc_now
        self.poll_interval = poll_interval
        self.call_tools = CallTools(job, bridge, self.clock, transfer)
        self.live = LiveContext()
        self._poll_task: asyncio.Task[None] | None = None
        self._greeted = asyncio.Event()
        self.context_changed = asyncio.Event()  # set each time live context re-rendered the instructions
        self.disclosure_handle: SpeechHandle | None = None
        self.greeting_handle: SpeechHandle | None = None
        super().__init__(
            instructions=render_instructions(job, self.clock()),
            tools=list(self.call_tools.enabled()),
            **agent_kwargs,
        )

    @property
    def tool_names(self) -> list[str]:
        return [t.info.name for t in self.tools if isinstance(t, FunctionTool | RawFunctionTool)]

    @property
    def ended_reason(self) -> str | None:
        return self.call_tools.ended_reason

    async def on_enter(self) -> None:
        """Say the disclosure, then greet, and start following live context."""
        self._poll_task = asyncio.create_task(self._poll_live_context(), name="ringflow.live_context")
        disclosure = self.job.agent.disclosure.strip()
        greeting = self.job.agent.greeting.strip()
        try:
            if disclosure:
                # Queued first, so it is heard before the greeting and before any reply; never cut short.
                self.disclosure_handle = self._say_exactly(
                    disclosure, f"Before anything else, say exactly these words: {disclosure}", interruptible=False
                )
            if self.recorder is not None:
                self.recording_task = asyncio.create_task(self._record_after_disclosure(), name="ringflow.recording")
            if greeting:
                self.greeting_handle = self._say_exactly(greeting, f"Greet the callee with exactly: {greeting}")
            await self._add_http_tools()  # while the opening words play
            await self._add_route_tool()
        finally:
            self._greeted.set()

    async def _record_after_disclosure(self) -> None:
        """Start recording once the disclosure has been said in full (at once without one): the callee hears that
        the call is recorded before it is. A recording that cannot start never ends the call."""
        assert self.recorder is not None
        if self.disclosure_handle is not None:
            await self.disclosure_handle.wait_for_playout()
            if self.disclosure_handle.interrupted:
                log.warning("the disclosure was cut off: the call is not recorded")
                return
        try:
            await self.recorder()
        except Exception:
            log.exception("could not start recording the call")

    async def _add_http_tools(self) -> None:
        """Register the HTTP tools the agent config names; a bridge failure leaves the call without them."""
        if not self.job.agent.http_tools:
            return
        try:
            specs = await self.bridge.http_tools()
        except BridgeError as exc:
            log.warning("HTTP tools unavailable for this call: %s", exc)
            return
        if specs:
            await self.update_tools([*self.tools, *(self.call_tools.http_tool(spec) for spec in specs)])

    async def _add_route_tool(self) -> None:
        """Register ``route_to_department`` with the agent's departments; a bridge failure leaves the call
        without it."""
        if AgentTool.ROUTE_TO_DEPARTMENT not in self.job.agent.enabled_tools():
            return
        try:
            departments = await self.bridge.departments()
        except BridgeError as exc:
            log.warning("departments unavailable for this call: %s", exc)
            return
        if departments:
            await self.update_tools([*self.tools, self.call_tools.route_tool(departments)])

    def _say_exactly(self, text: str, realtime_instructions: str, *, interruptible: bool = True) -> SpeechHandle:
        """Speak fixed words: ``say`` through the TTS; a realtime model without one speaks for itself, told what
        to say (``say`` would need a separate TTS). Either way the words enter the chat, so the transcript has them.

        ``interruptible=False`` holds the floor until the words are out; LiveKit cannot honour it (and logs why) for
        a realtime model whose server-side turn detection decides interruptions."""
        session = self.session
        allow_interruptions = NOT_GIVEN if interruptible else False
        if session.tts is None and isinstance(session.llm, llm.RealtimeModel):
            return session.generate_reply(instructions=realtime_instructions, allow_interruptions=allow_interruptions)
        return session.say(text, allow_interruptions=allow_interruptions)

    async def wait_greeted(self, within: float) -> None:
        """Until the disclosure and the greeting have been said (text mode: so the transcript starts with them)."""
        async with asyncio.timeout(within):
            await self._greeted.wait()
            for handle in (self.disclosure_handle, self.greeting_handle):
                if handle is not None:
                    await handle.wait_for_playout()

    async def on_exit(self) -> None:
        await self.stop_polling()
        if self.recording_task is not None and not self.recording_task.done():
            self.recording_task.cancel()

    async def stop_polling(self) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
            self._poll_task = None

    async def _poll_live_context(self) -> None:
        """Re-render instructions when the workflow's live context gets a new version."""
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                live = await self.bridge.live_context()
            except BridgeError as exc:
                log.warning("live context unavailable: %s", exc)
                continue
            except Exception:
                log.exception("live context poll failed")
                continue
            if live.version != self.live.version:
                self.live = live
                await self.update_instructions(render_instructions(self.job, self.clock(), live))
                self.context_changed.set()
