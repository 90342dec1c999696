"""Offline evaluation of an agent config: the persona suite, each persona with what a good agent does.

Every persona in :data:`simulator.personas.PERSONA_LINES` plays one text call against the real
agent (``run_text_call``) through an in-memory :class:`EvalBridge`, which books what a contact
workflow would and refuses what it would refuse. Each call is then judged by the persona's
:class:`Expectation`: what the call came to (the last disposition recorded, read through the
agent's own disposition table, so the effect the contact workflow would act on is what counts,
not which of the equivalent tools recorded it), the effects it needs (a booked callback, a
recorded qualification), how the call had to end and what the agent had to say.

The default model is the offline ``ScriptedLLM``; pass ``llm=`` to evaluate a real one.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from infra.http_tools import call_http_tool
from schemas.agent import (
    AgentConfig,
    AgentTool,
    CallJob,
    InformationCategory,
    LiveContext,
    SharedInformation,
    TranscriptSegment,
)
from schemas.campaign import ALL_WEEKDAYS, CallingWindow
from schemas.contact import Contact
from schemas.departments import (
    Department,
    DepartmentFallback,
    RouteAction,
    RouteAnswer,
    TransferReport,
    TransferResult,
)
from schemas.dispositions import DEFAULT_DISPOSITIONS, Disposition, NextStep, by_name, refusal_for
from schemas.knowledge import KnowledgeAnswer
from schemas.outcomes import FinalOutcome
from schemas.tools import HttpTool, HttpToolSpec, ToolResult
from schemas.workflow_io import CallbackConfirmation
from simulator.slot_service import SLOT_TOOL, WEEKDAY_SLOTS, SlotService, slot_tool
from voice_worker.bridge import BridgeError
from workflows.departments import (
    callback_sentence,
    callback_time,
    is_open,
    message_note,
    message_sentence,
    transferring_sentence,
    unanswered_why,
)

CALLBACK_HORIZON = timedelta(days=14)
EVAL_CONTACT = Contact(external_id="eval-0001", name="Alex Morgan", phone="+442079460001", timezone="Europe/London")
ARABIC_LETTERS = re.compile(r"[\u0600-\u06FF]")
POLITE_CLOSING = ("bye", "thank", "have a great", "take care", "مع السلامة", "شكرا")
RUDE = ("idiot", "stupid", "shut up", "liar", "how dare", "calm down", "you're wrong", "you are wrong")
HOSTILE_WORDS = ("scam", "get lost", "idiot", "shut up", "go to hell", "screw you")
PURPOSE_PHRASES = ("calling about", "reason for my call", "reason i'm calling", "back to", "the offer", "our service")
#: Tools that move a call forward; a good agent uses none of them on someone who is hostile.
BUSINESS_TOOLS = ("share_information", "schedule_callback", "transfer_to_human", "take_note")
EVAL_DEPARTMENT = Department(
    name="billing",
    description="Invoices, charges, payments and refunds",
    timezone="UTC",
    hours=[CallingWindow(start=time(0), end=time(0), weekdays=frozenset(ALL_WEEKDAYS))],
    transfer_target="sip:billing@eval.invalid",
    fallback=DepartmentFallback.MESSAGE,
)
"""The evaluation's own department, open all week: an offline call has no phone line, so its transfer fails and
the message fallback applies, as on a live call whose transfer fails."""


@dataclass
class EvalBridge:
    """An in-memory ``CallBridge`` that records everything and accepts callbacks inside 14 days.

    Like the contact workflow, it refuses a callback in the past or beyond the horizon with a
    sentence the agent can repeat to the callee.
    """

    clock: Callable[[], datetime]
    horizon: timedelta = CALLBACK_HORIZON
    calls: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shared: list[SharedInformation] = field(default_factory=list)
    callbacks: list[tuple[datetime, str]] = field(default_factory=list)
    refused_callbacks: list[tuple[datetime, str]] = field(default_factory=list)
    dispositions: list[Disposition] = field(default_factory=lambda: list(DEFAULT_DISPOSITIONS))
    recorded: list[tuple[str, str]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    transfers: list[str] = field(default_factory=list)
    transcript: list[TranscriptSegment] = field(default_factory=list)
    tools: dict[str, HttpTool] = field(default_factory=dict)
    routed_departments: list[Department] = field(default_factory=list)
    routes: list[tuple[str, str]] = field(default_factory=list)
    route_answers: list[RouteAnswer] = field(default_factory=list)
    _ringing: dict[str, tuple[Department, str]] = field(default_factory=dict)

    async def take_note(self, note: str) -> None:
        self.calls.append("take_note")
        self.notes.append(note)

    async def share_information(self, category: InformationCategory, information: str) -> None:
        self.calls.append("share_information")
        self.shared.append(SharedInformation(category=category, information=information, shared_at=self.clock()))

    async def get_shared_information(self, category: InformationCategory | None) -> list[SharedInformation]:
        self.calls.append("get_shared_information")
        return [item for item in self.shared if category is None or item.category == category]

    async def schedule_callback(self, at: datetime, reason: str) -> CallbackConfirmation:
        self.calls.append("schedule_callback")
        now = self.clock()
        if at <= now:
            self.refused_callbacks.append((at, reason))
            raise BridgeError("That time has already passed.")
        if at - now > self.horizon:
            self.refused_callbacks.append((at, reason))
            raise BridgeError(f"Callbacks can be booked at most {self.horizon.days} days ahead.")
        self.callbacks.append((at, reason))
        return CallbackConfirmation(scheduled_for=at, requested_for=at, moved_into_window=False, replaced_earlier=False)

    async def record_disposition(self, disposition: str, reason: str) -> Disposition:
        """Like the workflow's validator: a name the agent does not have is refused with a sentence."""
        self.calls.append("record_disposition")
        if refusal := refusal_for(self.dispositions, disposition):
            raise BridgeError(refusal)
        self.recorded.append((disposition, reason))
        found = by_name(self.dispositions, disposition)
        assert found is not None
        return found

    async def report_voicemail(self, reason: str) -> None:
        self.calls.append("report_voicemail")

    async def end_call(self, reason: str) -> None:
        self.calls.append("end_call")
        self.ended.append(reason)

    async def transfer_to_human(self, reason: str) -> None:
        self.calls.append("transfer_to_human")
        self.transfers.append(reason)

    async def http_tools(self) -> list[HttpToolSpec]:
        """An evaluation reaches no organization's services: the agent gets only the evaluation's own tools
        (a persona that needs one brings it, served on this machine), never its configured HTTP tools."""
        return [tool.spec for tool in self.tools.values()]

    async def call_http_tool(self, name: str, arguments: dict[str, object]) -> ToolResult:
        """Run the evaluation's own tool over real HTTP, through the same code as a call's tool activity."""
        tool = self.tools.get(name)
        if tool is None:
            raise BridgeError(f"{name} is not a tool this agent may use in an evaluation")
        self.calls.append(name)
        key = f"eval-{name}-{self.calls.count(name)}"
        return await call_http_tool(tool, dict(arguments), idempotency_key=key, allow_private=True)

    async def search_knowledge(self, query: str) -> KnowledgeAnswer:
        """An evaluation reads no organization's store: its agent's knowledge base is empty."""
        self.calls.append("search_knowledge")
        return KnowledgeAnswer()

    async def departments(self) -> list[Department]:
        """An evaluation reaches no organization's departments: only its own (a persona that needs routing
        brings one), never the agent's configured ones."""
        return list(self.routed_departments)

    async def route_to_department(self, department: str, reason: str) -> RouteAnswer:
        """Decided as the call's workflow decides (``workflows.departments``, on the evaluation's clock): open,
        a transfer to ring; closed, the department's fallback."""
        self.calls.append("route_to_department")
        found = next((d for d in self.routed_departments if d.name == department), None)
        if found is None:
            raise BridgeError(f"{department} is a department no evaluation reaches: carry on without routing")
        self.routes.append((department, reason))
        route_id = f"eval-route{len(self.routes)}"
        if not is_open(found, self.clock()):
            return await self._fallback(route_id, found, reason, "closed now")
        self._ringing[route_id] = (found, reason)
        return self._answered(
            RouteAnswer(
                route_id=route_id,
                department=department,
                action=RouteAction.TRANSFER,
                say=transferring_sentence(found),
                target=found.transfer_target,
                ring_timeout_seconds=found.ring_timeout_seconds,
            )
        )

    async def report_department_transfer(self, report: TransferReport) -> RouteAnswer:
        if report.route_id not in self._ringing:
            raise BridgeError("no department transfer with that route id is ringing")
        department, reason = self._ringing.pop(report.route_id)
        if report.result == TransferResult.ANSWERED:
            return self._answered(
                RouteAnswer(route_id=report.route_id, department=department.name, action=RouteAction.TRANSFER, say="")
            )
        return await self._fallback(report.route_id, department, reason, unanswered_why(report.result))

    async def _fallback(self, route_id: str, department: Department, reason: str, why: str) -> RouteAnswer:
        if department.fallback == DepartmentFallback.CALLBACK:
            at = callback_time(department, self.clock())
            await self.schedule_callback(at, f"{department.name}: {reason}")
            return self._answered(
                RouteAnswer(
                    route_id=route_id,
                    department=department.name,
                    action=RouteAction.CALLBACK,
                    say=callback_sentence(department, why, at),
                    callback_at=at,
                )
            )
        await self.take_note(message_note(department, reason))
        return self._answered(
            RouteAnswer(
                route_id=route_id,
                department=department.name,
                action=RouteAction.MESSAGE,
                say=message_sentence(department, why),
            )
        )

    def _answered(self, answer: RouteAnswer) -> RouteAnswer:
        self.route_answers.append(answer)
        return answer

    async def append_transcript(self, segments: list[TranscriptSegment]) -> None:
        self.transcript.extend(segments)

    async def live_context(self) -> LiveContext:
        return LiveContext()


@dataclass
class Call:
    """One finished evaluation call, as the checks see it."""

    agent: AgentConfig
    persona: str
    started_at: datetime
    transcript: list[TranscriptSegment]
    tools_called: list[str]
    ended_by_agent: bool
    end_reason: str | None
    bridge: EvalBridge

    def lines(self, speaker: str) -> list[str]:
        return [segment.text for segment in self.transcript if segment.speaker == speaker]

    def agent_replies(self) -> list[str]:
        """What the agent said after the callee first spoke (the greeting is a fixed text)."""
        replies, heard = [], False
        for segment in self.transcript:
            if segment.speaker != "agent":
                heard = True
            elif heard:
                replies.append(segment.text)
        return replies


Check = Callable[[Call], str | None]
"""Returns why the call falls short, or None when it is fine."""


def _ended_politely(call: Call) -> str | None:
    if not call.ended_by_agent or "end_call" not in call.tools_called:
        return "the agent never ended the call with end_call"
    said = [line for line in call.lines("agent") if line.strip()]
    if not said or not any(word in said[-1].lower() for word in POLITE_CLOSING):
        return f"the agent hung up without a polite goodbye (last line: {said[-1] if said else 'nothing'!r})"
    return None


def _voicemail_reported(call: Call) -> str | None:
    return None if "report_voicemail" in call.bridge.calls else "the workflow never heard it was a machine"


def _polite(call: Call) -> str | None:
    for line in call.lines("agent"):
        if any(word in line.lower() for word in RUDE):
            return f"the agent was rude: {line!r}"
    return None


def _called(tool: str) -> Check:
    def check(call: Call) -> str | None:
        return None if tool in call.tools_called else f"the agent never called {tool}"

    return check


def _shared_qualification(call: Call) -> str | None:
    if any(item.category == InformationCategory.QUALIFICATION for item in call.bridge.shared):
        return None
    return "the agent recorded no qualification with share_information"


def _callback_booked(call: Call) -> str | None:
    if call.bridge.callbacks:
        return None
    if call.bridge.refused_callbacks:
        return f"the agent only asked for refused callbacks ({len(call.bridge.refused_callbacks)})"
    return "the agent booked no callback with schedule_callback"


def _callback_tomorrow_at_10(call: Call) -> str | None:
    if problem := _callback_booked(call):
        return problem
    zone = ZoneInfo(EVAL_CONTACT.zone)
    at = call.bridge.callbacks[-1][0].astimezone(zone)
    tomorrow = (call.started_at.astimezone(zone) + timedelta(days=1)).date()
    if at.date() != tomorrow or (at.hour, at.minute) != (10, 0):
        return f"the callback was booked for {at:%Y-%m-%d %H:%M}, not tomorrow at 10:00"
    return None


def _effect(then: NextStep, outcome: FinalOutcome | None) -> str:
    """What the contact workflow does after a call with this disposition, in words."""
    if then == NextStep.DO_NOT_CALL:
        return "puts the callee on the do-not-call list"
    if then == NextStep.CALLBACK:
        return "redials at the booked callback"
    if then == NextStep.RETRY:
        return "retries the contact like an unanswered call"
    return f"finishes the contact as {outcome.value if outcome else 'nothing'}"


def _last_disposition(call: Call) -> Disposition | None:
    """The disposition the workflow would decide from: the latest one recorded, in the agent's table."""
    if not call.bridge.recorded:
        return None
    return by_name(call.agent.dispositions, call.bridge.recorded[-1][0])


def _disposed(then: NextStep, outcome: FinalOutcome | None = None) -> Check:
    """The call's last disposition makes the contact workflow do ``then`` (finishing as ``outcome``).

    Judged by effect through the agent's own table, so a renamed or custom disposition with the
    right effect passes, and a default redefined to do something else (``not_interested`` that
    retries, ``do_not_call`` that only finishes) fails, whichever tool recorded it.
    """
    expected = _effect(then, outcome)

    def check(call: Call) -> str | None:
        recorded = _last_disposition(call)
        if recorded is None:
            return f"the agent never recorded a disposition (expected one that {expected})"
        if recorded.then == then and (outcome is None or recorded.outcome == outcome):
            return None
        effect = _effect(recorded.then, recorded.outcome)
        return f"the agent recorded {recorded.name}, which {effect}; expected one that {expected}"

    return check


def _no_arguing(call: Call) -> str | None:
    if used := [tool for tool in call.tools_called if tool in BUSINESS_TOOLS]:
        return f"the agent kept doing business with a hostile callee: {', '.join(used)}"
    after, hostile_heard = 0, False
    for segment in call.transcript:
        if segment.speaker != "agent" and any(word in segment.text.lower() for word in HOSTILE_WORDS):
            hostile_heard = True
        elif segment.speaker == "agent" and hostile_heard and segment.text.strip():
            after += 1
    if after > 1:
        return f"the agent kept talking after the insult ({after} replies)"
    return None


def _back_to_purpose(call: Call) -> str | None:
    context_words = [str(value).lower() for value in call.agent.context.values() if isinstance(value, str | int)]
    for line in call.agent_replies():
        lowered = line.lower()
        if any(phrase in lowered for phrase in PURPOSE_PHRASES) or any(w and w in lowered for w in context_words):
            return None
    return "the agent never brought the conversation back to the purpose of the call"


def _told_the_free_slots(call: Call) -> str | None:
    if any(slot in line for line in call.agent_replies() for slot in WEEKDAY_SLOTS):
        return None
    return "the agent never told the caller the free slots it looked up"


def _routed_to(department: str) -> Check:
    def check(call: Call) -> str | None:
        if any(name == department for name, _ in call.bridge.routes):
            return None
        return f"the agent never routed the caller to {department} with route_to_department"

    return check


def _told_the_route(call: Call) -> str | None:
    """The caller heard what the route came to (the workflow's last answer: transferring, or its fallback)."""
    said = [answer.say for answer in call.bridge.route_answers if answer.say]
    if not said or any(said[-1] in line for line in call.agent_replies()):
        return None
    return f"the agent never told the caller what the route came to ({said[-1]!r})"


def _replies_in_arabic(call: Call) -> str | None:
    replies = call.agent_replies()
    if replies and all(ARABIC_LETTERS.search(line) for line in replies if line.strip()):
        return None
    return "the agent did not reply in Arabic" if replies else "the agent never replied"


Need = AgentTool | tuple[AgentTool, ...]
"""A tool the persona cannot be handled without, or equivalent tools of which any one will do."""

#: Tools that can record a not_interested or do_not_call disposition (``mark_do_not_call`` is
#: switched on and off with ``mark_not_interested``).
RECORDS_REFUSAL: tuple[AgentTool, ...] = (AgentTool.RECORD_DISPOSITION, AgentTool.MARK_NOT_INTERESTED)


@dataclass(frozen=True)
class Expectation:
    description: str
    checks: tuple[Check, ...]
    needs: tuple[Need, ...] = ()

    def switched_off(self, agent: AgentConfig) -> list[str]:
        """Why ``agent`` cannot meet this expectation whatever it says: each need with none of its tools on."""
        on = agent.enabled_tools()
        missing = []
        for need in self.needs:
            tools = need if isinstance(need, tuple) else (need,)
            if not any(tool in on for tool in tools):
                names = " and ".join(tool.value for tool in tools)
                missing.append(f"{names} {'are' if len(tools) > 1 else 'is'} switched off")
        return missing


PERSONA_EXPECTATIONS: dict[str, Expectation] = {
    "answers": Expectation(
        "the conversation ends politely with end_call", (_polite, _ended_politely), (AgentTool.END_CALL,)
    ),
    "qualifies": Expectation(
        "the qualification is shared (qualification) and the call ends the contact as qualified",
        (_shared_qualification, _disposed(NextStep.FINISH, FinalOutcome.QUALIFIED), _polite, _ended_politely),
        (AgentTool.SHARE_INFORMATION, AgentTool.RECORD_DISPOSITION),
    ),
    "callback": Expectation(
        "a callback is booked and accepted, and the call comes to a redial at it",
        (_callback_booked, _disposed(NextStep.CALLBACK), _polite, _ended_politely),
        (AgentTool.SCHEDULE_CALLBACK,),
    ),
    "callback_tomorrow": Expectation(
        "a callback for tomorrow at 10:00 is booked and accepted, and the call comes to a redial at it",
        (_callback_tomorrow_at_10, _disposed(NextStep.CALLBACK), _polite, _ended_politely),
        (AgentTool.SCHEDULE_CALLBACK,),
    ),
    "not_interested": Expectation(
        "the call ends the contact as not_interested, then it ends politely",
        (_disposed(NextStep.FINISH, FinalOutcome.NOT_INTERESTED), _polite, _ended_politely),
        (RECORDS_REFUSAL,),
    ),
    "do_not_call": Expectation(
        "the callee goes on the do-not-call list, then the call ends politely",
        (_disposed(NextStep.DO_NOT_CALL), _polite, _ended_politely),
        (RECORDS_REFUSAL,),
    ),
    "voicemail": Expectation(
        "the agent recognises the answering machine, reports it, and hangs up",
        (_called("detected_answering_machine"), _voicemail_reported, _called("end_call")),
        (AgentTool.DETECTED_ANSWERING_MACHINE,),
    ),
    "hostile": Expectation(
        "the agent ends the call without arguing",
        (_no_arguing, _polite, _called("end_call")),
        (AgentTool.END_CALL,),
    ),
    "off_script": Expectation(
        "the agent stays polite, returns to the purpose of the call, and ends it",
        (_polite, _back_to_purpose, _ended_politely),
        (AgentTool.END_CALL,),
    ),
    "arabic": Expectation("the agent replies in Arabic", (_replies_in_arabic, _polite)),
    "asks_for_slots": Expectation(
        f"the agent looks the free slots up with the HTTP tool {SLOT_TOOL}, tells the caller, and ends politely",
        (_called(SLOT_TOOL), _told_the_free_slots, _polite, _ended_politely),
        (AgentTool.END_CALL,),
    ),
    "asks_for_billing": Expectation(
        "the agent routes the caller to billing with route_to_department, tells them what happens, and ends politely",
        (_routed_to(EVAL_DEPARTMENT.name), _told_the_route, _polite, _ended_politely),
        (AgentTool.ROUTE_TO_DEPARTMENT, AgentTool.END_CALL),
    ),
}
PERSONA_TOOLS: dict[str, str] = {"asks_for_slots": SLOT_TOOL}
"""Personas whose call needs an HTTP tool: the evaluation serves it (simulator.slot_service) and offers it."""
PERSONA_DEPARTMENTS: dict[str, Department] = {"asks_for_billing": EVAL_DEPARTMENT}
"""Personas whose call needs routing: the evaluation offers its own department (never an organization's)."""


class PersonaVerdict(BaseModel):
    persona: str
    passed: bool
    reason: str = Field(description="What was expected and, on failure, what went wrong")
    tools_called: list[str] = Field(default_factory=list)
    disposition: str | None = Field(
        default=None, description="The last disposition the agent recorded: what the workflow would decide from"
    )
    turns: int = Field(default=0, description="Callee lines the agent heard")
    transcript: list[TranscriptSegment] = Field(default_factory=list)


class UnknownPersonaError(ValueError):
    """A persona name the suite has no scripted callee for."""


def _utc_now() -> datetime:
    from voice_worker.agent import utc_now

    return utc_now()


async def evaluate_persona(
    agent: AgentConfig,
    persona: str,
    *,
    llm: Any = None,
    clock: Callable[[], datetime] | None = None,
    slots: SlotService | None = None,
) -> PersonaVerdict:
    """Play one persona to ``agent`` and judge the call; a persona that needs an HTTP tool gets it served by
    ``slots`` (one started for the call when none is given)."""
    from simulator.conversation import run_text_call  # LiveKit loads only when a call runs

    expectation = PERSONA_EXPECTATIONS[persona]
    clock = clock or _utc_now
    routed = PERSONA_DEPARTMENTS.get(persona)
    if routed is not None:
        agent = agent.model_copy(update={"departments": sorted({*agent.departments, routed.name})})
    if off := expectation.switched_off(agent):
        return PersonaVerdict(
            persona=persona,
            passed=False,
            reason=f"{expectation.description}, but {'; '.join(off)} for this agent",
        )
    if persona in PERSONA_TOOLS and slots is None:
        async with SlotService() as served:
            return await evaluate_persona(agent, persona, llm=llm, clock=clock, slots=served)
    bridge = EvalBridge(clock=clock, dispositions=agent.dispositions)
    if persona in PERSONA_TOOLS:
        assert slots is not None
        bridge.tools = {SLOT_TOOL: slot_tool(slots.url)}
        agent = agent.model_copy(update={"http_tools": sorted({*agent.http_tools, SLOT_TOOL})})
    if routed is not None:
        bridge.routed_departments = [routed]
    job = CallJob(
        workflow_id=f"eval-{agent.name}-{persona}", campaign_id="eval", attempt=1, contact=EVAL_CONTACT, agent=agent
    )
    started_at = clock()
    result = await run_text_call(job, persona, bridge, llm=llm, clock=clock)
    call = Call(
        agent=agent,
        persona=persona,
        started_at=started_at,
        transcript=result.transcript,
        tools_called=result.tools_called,
        ended_by_agent=result.ended_by_agent,
        end_reason=result.end_reason,
        bridge=bridge,
    )
    problems = [problem for check in expectation.checks if (problem := check(call))]
    return PersonaVerdict(
        persona=persona,
        passed=not problems,
        reason="; ".join(problems) if problems else expectation.description,
        tools_called=result.tools_called,
        disposition=bridge.recorded[-1][0] if bridge.recorded else None,
        turns=len(call.lines("callee")),
        transcript=result.transcript,
    )


async def evaluate_agent(
    agent: AgentConfig,
    personas: list[str] | None = None,
    *,
    llm: Any = None,
    clock: Callable[[], datetime] | None = None,
) -> list[PersonaVerdict]:
    """Run the persona suite (all of it, or ``personas``) against ``agent``, one call after another.

    Raises :class:`UnknownPersonaError` naming any persona the suite does not have. With no
    ``llm``, each call gets a fresh offline ``ScriptedLLM``.
    """
    chosen = list(PERSONA_EXPECTATIONS) if personas is None else personas
    unknown = [persona for persona in chosen if persona not in PERSONA_EXPECTATIONS]
    if unknown:
        raise UnknownPersonaError(f"unknown persona(s): {', '.join(unknown)}; known: {', '.join(PERSONA_EXPECTATIONS)}")
    async with SlotService() as slots:
        return [await evaluate_persona(agent, persona, llm=llm, clock=clock, slots=slots) for persona in chosen]
