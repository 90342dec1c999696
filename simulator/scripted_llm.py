"""ScriptedLLM: a deterministic, offline stand-in for the model, for the sim and tests.

It reads the chat context the way a model would (the instructions, the last user message, the
tools it was offered, the tool results since that message) and follows a short sales script. It
only ever calls tools it was given, so a tool switched off in the agent config is never called.
Like a real model it records what the call came to with ``record_disposition``, picking from the
dispositions the tool offers, before it says goodbye. It calls an HTTP tool (any tool not built in) when the
callee names each of its required parameters ("my order number is A-1234" for ``order_number``), and reads
its answer back. Offered ``search_knowledge``, it looks a callee's question up in the agent's documents and
answers from the first passage, naming its source ("According to returns.md, Refunds: ...").
Offered ``route_to_department``, it routes a callee who names what they need ("put me through to billing", or a
word of a department's description, "my invoice" for "Invoices, payments and refunds"), and tells them what the
workflow decided.
Every request is recorded in ``requests`` so tests can inspect exactly what the model was offered.
"""

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import APIConnectOptions, llm
from livekit.agents.llm import FunctionTool, RawFunctionTool
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

from schemas.tools import BUILT_IN_TOOL_NAMES

ARABIC_CHARS = re.compile(r"[\u0600-\u06FF]")
WEEKDAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
NUMBER = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a couple of|a few|an|a)"
HOUR = r"(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
CLOCK = (
    rf"(?:(?:half|quarter) (?:past|to) {HOUR}|noon|midday|midnight"
    rf"|{HOUR}(?::\d{{2}})?(?:\s*(?:am|pm|a\.m\.|p\.m\.|o'clock))?)"
)
AR_DAYS = r"(?:الأحد|الاثنين|الإثنين|الثلاثاء|الأربعاء|الخميس|الجمعة|السبت)"
AR_DAY = rf"(?:غداً|غدا|بكرة|بكره|اليوم|الليلة|(?:يوم )?{AR_DAYS}(?: القادم| الجاي)?)"
AR_CLOCK = r"(?:(?:على |حوالي )?الساعة \w+(?: (?:و ?نص|والنصف|و ?ربع|والربع|[إا]لا ربع))?)"
AR_PART = r"(?:صباحاً|صباحا|الصبح|مساءً|مساء|ظهراً|ظهرا|العصر|بالليل)"
AR_DURATION = r"(?:ساعتين|دقيقتين|يومين|ساعة|(?:نص|نصف) ساعة|\w+ (?:ساعات|ساعة|دقائق|دقيقة|أيام|يوم))"
TIME_PATTERNS = [
    re.compile(rf"\bin (?:half an hour|{NUMBER} (?:minutes?|mins?|hours?|days?))\b", re.IGNORECASE),
    re.compile(
        rf"\b(?:tomorrow|today|tonight|(?:next |this |on )?{WEEKDAYS})(?: (?:morning|afternoon|evening|night))?"
        rf"(?: (?:at|around|after) {CLOCK})?",
        re.IGNORECASE,
    ),
    re.compile(rf"\b(?:at|around|after) {CLOCK}(?: (?:today|tonight|tomorrow))?", re.IGNORECASE),
    re.compile(rf"\b(?:half|quarter) (?:past|to) {HOUR}\b(?: (?:today|tonight|tomorrow))?", re.IGNORECASE),
    re.compile(rf"(?:بعد|خلال) {AR_DURATION}"),
    re.compile(rf"{AR_DAY}(?: {AR_PART})?(?: {AR_CLOCK})?(?: {AR_PART})?"),
    re.compile(rf"{AR_CLOCK}(?: {AR_PART})?(?: {AR_DAY})?"),
]
"""Where a callee names a time, in English or Arabic; the match is passed on in their own words."""

DO_NOT_CALL = (
    "don't call me again",
    "do not call me",
    "dont call me",
    "stop calling",
    "never call",
    "remove my number",
    "take me off",
    "لا تتصل",
    "لا تتصلوا",
    "توقفوا عن الاتصال",
)
VOICEMAIL = ("leave a message", "after the tone", "after the beep", "voicemail", "not available to take your call")
NOT_INTERESTED = ("not interested", "no thanks", "no thank you", "لست مهتما", "لست مهتمًا", "غير مهتم", "لا شكرا")
HOSTILE = (
    "scam",
    "idiot",
    "stupid",
    "shut up",
    "go to hell",
    "damn",
    "screw you",
    "f***",
    "fuck",
    "get lost",
    "احتيال",
    "اخرس",
)
TRANSFER = ("real person", "a human", "speak to someone", "talk to someone", "manager", "موظف")
TIME_QUESTION = ("what time is it", "what's the time", "what is the time", "كم الساعة")
RECALL = ("what do you have on me", "what have i told you", "what do you know about me", "ماذا تعرف عني")
CALLBACK = (
    "call me back",
    "call back",
    "later",
    "tomorrow",
    "busy",
    "another time",
    "اتصل بي",
    "اتصل لاحقا",
    "لاحقا",
    "غدا",
    "غداً",
    "بكرة",
    "مشغول",
)
QUALIFY = ("budget", "employees", "staff", "interested", "sounds good", "tell me more", "ميزانية", "موظفين", "مهتم")
THINK_ABOUT_IT = ("think about it", "let me think", "سأفكر")
QUESTION = re.compile(
    r"\?|^\s*(?:what|how|when|where|which|who|why|can|could|do|does|is|are|will|would)\b|^\s*(?:ما|ماذا|كيف|متى|هل|أين)",
    re.IGNORECASE,
)
PASSAGE = re.compile(r"^\[(?P<source>[^\]]+)\] (?P<text>.+?)(?:\n\n\[|\Z)", re.DOTALL)
OFFER = ("offer", "price", "cost", "deal", "how much", "العرض", "السعر")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
PHONE = re.compile(r"\+?\d[\d\s-]{7,}\d")
NAME = re.compile(r"\bmy name is ([A-Za-z' -]+)", re.IGNORECASE)
TERMINAL = {"mark_not_interested", "mark_do_not_call", "schedule_callback", "take_note", "transfer_to_human"}

GOODBYES: dict[str, tuple[str, str]] = {
    "qualified": ("bye_qualified", "qualified"),
    "not_interested": ("bye_not_interested", "not interested"),
    "do_not_call": ("bye_do_not_call", "do not call"),
    "completed": ("bye", "undecided"),
}
"""After recording a disposition: which goodbye to say and the reason to give end_call."""

TEXT = {
    "greet": (
        "Hello {name}, thanks for taking my call! I'm calling about {topic}. Do you have a minute?",
        "مرحباً {name}، شكراً لردك! أتصل بخصوص {topic}. هل لديك دقيقة؟",
    ),
    "pitch": (
        "I understand. Briefly, I'm calling about {topic}. Would that be useful for you?",
        "أفهم. باختصار، أتصل بخصوص {topic}. هل يفيدك ذلك؟",
    ),
    "when": ("Of course. When would be a good time to call you back?", "بالتأكيد. متى يناسبك أن نتصل بك؟"),
    "hostile": ("I'm sorry to have bothered you. I'll let you go now. Goodbye.", "أعتذر عن الإزعاج. مع السلامة."),
    "bye_callback": (
        "{result} Thank you, talk to you then. Goodbye!",
        "حجزت موعداً لمعاودة الاتصال في {result}. شكراً لك، نتحدث حينها. مع السلامة!",
    ),
    "bye": ("Thank you for your time, have a great day. Goodbye!", "شكراً لوقتك، يومك سعيد. مع السلامة!"),
    "bye_not_interested": ("I understand, thank you for your time. Goodbye!", "أتفهم ذلك، شكراً لوقتك. مع السلامة!"),
    "bye_do_not_call": (
        "I'm sorry for the trouble. We won't call you again. Goodbye.",
        "نعتذر عن الإزعاج. لن نتصل بك مرة أخرى. مع السلامة.",
    ),
    "bye_qualified": (
        "Wonderful, I've noted everything. A colleague will follow up with details. Goodbye!",
        "رائع، سجلت كل شيء. سيتواصل معك أحد زملائي بالتفاصيل. مع السلامة!",
    ),
    "transfer": ("I'm connecting you to a colleague now, please hold.", "سأحولك إلى أحد زملائي الآن، لحظة من فضلك."),
    "no_transfer": (
        "I'm afraid I can't transfer you, but I'm happy to help with anything you need.",
        "للأسف لا أستطيع تحويلك، لكن يسعدني مساعدتك.",
    ),
    "details_saved": (
        "Thank you, I've saved that. Is there anything else you'd like to know?",
        "شكراً، سجلت ذلك. هل هناك شيء آخر تود معرفته؟",
    ),
    "time": ("It's {result} where you are.", "الوقت الآن {result} عندك."),
    "recall": ("Here is what I have: {result}", "هذا ما لدي: {result}"),
    "offer": ("We're offering {result}. Would that interest you?", "نقدم لك {result}. هل يهمك ذلك؟"),
    "error": ("{result}", "عذراً: {result}"),
    "lookup": ("Here is what I found: {result}", "هذا ما وجدته: {result}"),
    "answer": ("According to {source}: {result}", "وفقاً لـ {source}: {result}"),
    "no_answer": (
        "I don't have that to hand, but a colleague can follow up with you on it.",
        "ليست لدي هذه المعلومة الآن، لكن يمكن لأحد زملائي متابعتها معك.",
    ),
    "error_callback": ("{result} What other time would suit you?", "عذراً: {result} ما هو الوقت الآخر المناسب لك؟"),
}


@dataclass
class ScriptedRequest:
    """What one ``chat()`` call offered the model: for assertions in tests."""

    tool_names: list[str]
    instructions: str
    tool_choice: Any = None


@dataclass
class ScriptedReply:
    text: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def tool_name(tool: Any) -> str | None:
    if isinstance(tool, FunctionTool | RawFunctionTool):
        return tool.info.name
    return None


def offered_dispositions(tools: list[Any]) -> list[str]:
    """The disposition names the ``record_disposition`` tool offers (its schema's enum), as a model reads them."""
    for tool in tools:
        if isinstance(tool, RawFunctionTool) and tool.info.name == "record_disposition":
            return list(tool.info.raw_schema["parameters"]["properties"]["disposition"].get("enum", []))
    return []


def offered_http_tools(tools: list[Any]) -> dict[str, dict[str, Any]]:
    """The HTTP tools offered (raw-schema tools that are not built in), by name, with their parameters."""
    return {
        tool.info.name: tool.info.raw_schema.get("parameters", {})
        for tool in tools
        if isinstance(tool, RawFunctionTool) and tool.info.name not in BUILT_IN_TOOL_NAMES
    }


ROUTE_STOPWORDS = frozenset({"about", "their", "there", "which", "where", "other", "things", "questions", "problems"})


def offered_departments(tools: list[Any]) -> dict[str, set[str]]:
    """The departments the ``route_tool`` offers, each with the words a callee may name it by: its name and the
    longer words of its description (the tool's description lists ``- name: what callers need it for``)."""
    for tool in tools:
        if isinstance(tool, RawFunctionTool) and tool.info.name == "route_to_department":
            schema = tool.info.raw_schema
            names = schema["parameters"]["properties"]["department"].get("enum", [])
            described = dict(re.findall(r"^- ([a-z0-9_-]+): (.+)$", schema.get("description", ""), re.MULTILINE))
            return {name: {name, *_stems(described.get(name, ""))} for name in names}
    return {}


def _stems(text: str) -> set[str]:
    """Words of five letters or more, lower case, without a plural ``s``: "Invoices" and "invoice" meet."""
    words = (word.lower() for word in re.findall(r"[^\W\d_]{5,}", text))
    return {word.removesuffix("s") for word in words if word not in ROUTE_STOPWORDS}


def extract_time_phrase(text: str) -> str | None:
    """The words in which the callee named a time, as they said them (a real model passes them on the same way).

    Nothing is translated: "اتصل بي بكرة الساعة عشرة" gives "بكرة الساعة عشرة", for resolve_when to read.
    """
    said = " ".join(text.replace(",", " ").replace("،", " ").split())
    for pattern in TIME_PATTERNS:
        if m := pattern.search(said):
            return m.group(0).strip()
    return None


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(w in text for w in words)


class Script:
    """One decision: reads a chat context and produces the next reply (text and/or tool calls)."""

    def __init__(
        self,
        chat_ctx: llm.ChatContext,
        tool_names: list[str],
        language: str | None,
        allow_tools: bool,
        dispositions: list[str] | None = None,
        http_tools: dict[str, dict[str, Any]] | None = None,
        departments: dict[str, set[str]] | None = None,
    ) -> None:
        self.items = list(chat_ctx.items)
        self.tools = set(tool_names) if allow_tools else set()
        self.dispositions = list(dispositions or [])
        self.http_tools = {name: schema for name, schema in (http_tools or {}).items() if name in self.tools}
        self.departments = dict(departments or {}) if "route_to_department" in self.tools else {}
        self.instructions = "\n".join(
            m.text_content or "" for m in self.items if m.type == "message" and m.role in ("system", "developer")
        )
        user_idx = [i for i, m in enumerate(self.items) if m.type == "message" and m.role == "user"]
        self.last_user_index = user_idx[-1] if user_idx else None
        self.user_text = (self.items[user_idx[-1]].text_content or "") if user_idx else ""
        self.user_turns = len(user_idx)
        arabic_prompt = "Always reply in Arabic" in self.instructions
        self.arabic = language == "ar" or arabic_prompt or bool(ARABIC_CHARS.search(self.user_text))

    # -- helpers ----------------------------------------------------------------------------------

    def say(self, key: str, **values: str) -> str:
        en, ar = TEXT[key]
        return (ar if self.arabic else en).format(**values)

    def context_value(self, key: str) -> str | None:
        if m := re.search(rf"^{key}: (.+)$", self.instructions, re.MULTILINE | re.IGNORECASE):
            return m.group(1).strip()
        return None

    def goodbye(self, key: str, reason: str, **values: str) -> ScriptedReply:
        calls = [("end_call", {"reason": reason})] if "end_call" in self.tools else []
        return ScriptedReply(self.say(key, **values), calls)

    def dispose(self, disposition: str, reason: str, bye_key: str, bye_reason: str) -> ScriptedReply:
        """Record what the call came to, if the tool offers that disposition; else just say goodbye."""
        if "record_disposition" in self.tools and disposition in self.dispositions:
            return ScriptedReply("", [("record_disposition", {"disposition": disposition, "reason": reason})])
        return self.goodbye(bye_key, bye_reason)

    def recorded_disposition(self) -> str:
        """The disposition named by the latest record_disposition call since the callee last spoke."""
        after = self.items[self.last_user_index + 1 :] if self.last_user_index is not None else self.items
        calls = [i for i in after if i.type == "function_call" and i.name == "record_disposition"]
        if not calls:
            return ""
        try:
            return str(json.loads(calls[-1].arguments or "{}").get("disposition", ""))
        except ValueError:
            return ""

    def call(self, name: str, args: dict[str, Any], fallback: ScriptedReply | None = None) -> ScriptedReply:
        if name in self.tools:
            return ScriptedReply("", [(name, args)])
        return fallback or ScriptedReply(self.say("pitch", topic=self.topic))

    def lookup(self, said: str) -> ScriptedReply | None:
        """Call the first HTTP tool whose required parameters the callee named ("order number is A-1234")."""
        for name, parameters in self.http_tools.items():
            required = parameters.get("required") or list(parameters.get("properties", {}))
            found = {
                parameter: re.search(rf"\b{re.escape(parameter.replace('_', ' '))} (?:is )?([\w@.:/+-]*\w)", said, re.I)
                for parameter in required
            }
            if required and all(found.values()):
                return ScriptedReply("", [(name, {p: m.group(1) for p, m in found.items() if m})])
        return None

    def route(self, said: str) -> ScriptedReply | None:
        """Route to the first department the callee named by its name or a word of what it is for."""
        heard = _stems(said) | {word.lower() for word in re.findall(r"[\w-]+", said)}
        for name, words in self.departments.items():
            if heard & words:
                return ScriptedReply("", [("route_to_department", {"department": name, "reason": said})])
        return None

    @property
    def topic(self) -> str:
        default = "خدماتنا" if self.arabic else "our service"
        return self.context_value("product") or self.context_value("topic") or default

    @property
    def asked_when(self) -> bool:
        """Whether our last words asked the callee for a callback time."""
        before = self.items[: self.last_user_index] if self.last_user_index is not None else self.items
        said = [m.text_content or "" for m in before if m.type == "message" and m.role == "assistant"]
        return bool(said) and said[-1] in TEXT["when"]

    # -- the script -------------------------------------------------------------------------------

    def decide(self) -> ScriptedReply:
        if self.last_user_index is None:
            return ScriptedReply(self.say("greet", name=self.context_value("name") or "there", topic=self.topic))
        after = self.items[self.last_user_index + 1 :]
        outputs = [i for i in after if i.type == "function_call_output"]
        if outputs:
            called = [i.name for i in after if i.type == "function_call"]
            return self.after_tools(outputs, called)
        return self.react(self.user_text)

    def after_tools(self, outputs: list[llm.FunctionCallOutput], called: list[str]) -> ScriptedReply:
        last = outputs[-1]
        if last.is_error:
            key = "error_callback" if last.name == "schedule_callback" and "?" not in last.output else "error"
            return ScriptedReply(self.say(key, result=last.output))
        if last.name in self.http_tools:
            return ScriptedReply(self.say("lookup", result=last.output))
        if last.name == "route_to_department":
            return ScriptedReply(last.output)
        if last.name == "search_knowledge":
            found = PASSAGE.match(last.output)
            if found is None:
                return ScriptedReply(self.say("no_answer"))
            return ScriptedReply(self.say("answer", source=found["source"], result=" ".join(found["text"].split())))
        if last.name == "record_disposition":
            disposition = self.recorded_disposition()
            if disposition == "callback_requested":
                return self.goodbye("bye", "callback requested")
            return self.goodbye(*GOODBYES.get(disposition, ("bye", disposition or "conversation over")))
        if last.name == "share_information" and "qualification" in last.output and "take_note" not in called:
            note = f"Qualified lead: {self.user_text}"
            if "take_note" in self.tools:
                return ScriptedReply("", [("take_note", {"note": note})])
            return self.dispose("qualified", self.user_text, "bye_qualified", "qualified")
        if last.name == "take_note" and "share_information" not in called:
            return self.dispose("completed", "callee will think about it", "bye", "undecided")
        if last.name == "take_note" or (last.name == "share_information" and "qualification" in last.output):
            return self.dispose("qualified", "qualified lead", "bye_qualified", "qualified")
        if last.name == "schedule_callback":
            when = ISO_TIME.search(last.output)
            result = when.group(0) if self.arabic and when else re.sub(r" \(\d{4}-[^)]*\)", "", last.output)
            return self.goodbye("bye_callback", "callback booked", result=result)
        if last.name == "mark_not_interested":
            return self.goodbye("bye_not_interested", "not interested")
        if last.name == "mark_do_not_call":
            return self.goodbye("bye_do_not_call", "do not call")
        if last.name == "detected_answering_machine":
            calls = [("end_call", {"reason": "voicemail"})] if "end_call" in self.tools else []
            return ScriptedReply(last.output or "", calls)
        if last.name == "transfer_to_human":
            return ScriptedReply(self.say("transfer"))
        if last.name == "get_current_time":
            return ScriptedReply(self.say("time", result=last.output))
        if last.name == "get_shared_information":
            return ScriptedReply(self.say("recall", result=last.output))
        if last.name == "share_information":
            return ScriptedReply(self.say("details_saved"))
        return ScriptedReply("")

    def react(self, said: str) -> ScriptedReply:
        text = said.lower().replace("’", "'")
        if _has(text, VOICEMAIL):
            return self.call("detected_answering_machine", {}, self.goodbye("bye", "voicemail"))
        if _has(text, DO_NOT_CALL):
            if "mark_do_not_call" in self.tools and "record_disposition" not in self.tools:
                return self.call("mark_do_not_call", {"reason": said})
            return self.dispose("do_not_call", said, "bye_do_not_call", "do not call")
        if _has(text, NOT_INTERESTED):
            if "mark_not_interested" in self.tools and "record_disposition" not in self.tools:
                return self.call("mark_not_interested", {"reason": said})
            return self.dispose("not_interested", said, "bye_not_interested", "not interested")
        if _has(text, HOSTILE):
            return self.goodbye("hostile", "hostile callee")
        if routed := self.route(said):
            return routed
        if looked_up := self.lookup(said):
            return looked_up
        if _has(text, TRANSFER):
            return self.call("transfer_to_human", {"reason": said}, ScriptedReply(self.say("no_transfer")))
        if _has(text, TIME_QUESTION):
            return self.call("get_current_time", {})
        if _has(text, RECALL):
            return self.call("get_shared_information", {})
        phrase = extract_time_phrase(said)
        if phrase and phrase.lower() in ("today", "tonight", "اليوم", "الليلة") and not _has(text, CALLBACK):
            phrase = None  # "is it going to rain today?" is not a callback request
        if _has(text, CALLBACK) or (phrase and self.asked_when):
            if phrase and "schedule_callback" in self.tools:
                return self.call("schedule_callback", {"when": phrase, "reason": "callee asked to be called back"})
            return ScriptedReply(self.say("when"))
        details = [m.group(0) for m in (EMAIL.search(said), PHONE.search(said)) if m]
        if name := NAME.search(said):
            details.insert(0, f"name: {name.group(1).strip()}")
        if details:
            return self.call(
                "share_information",
                {"information": "; ".join(details), "category": "contact_details"},
                ScriptedReply(self.say("details_saved")),
            )
        if _has(text, THINK_ABOUT_IT):
            return self.call(
                "take_note", {"note": f"Callee will think about it: {said}"}, self.goodbye("bye", "undecided")
            )
        if _has(text, QUALIFY):
            return self.call(
                "share_information",
                {"information": said, "category": "qualification"},
                self.goodbye("bye_qualified", "qualified"),
            )
        if "search_knowledge" in self.tools and QUESTION.search(said):
            return self.call("search_knowledge", {"query": said})
        if _has(text, OFFER) and (offer := self.context_value("offer")):
            return ScriptedReply(self.say("offer", result=offer.rstrip(".!")))
        if self.user_turns == 1:
            return ScriptedReply(self.say("greet", name=self.context_value("name") or "there", topic=self.topic))
        return ScriptedReply(self.say("pitch", topic=self.topic))


class ScriptedLLM(llm.LLM):
    """Deterministic offline model following the Ringflow sales script (see module docstring)."""

    def __init__(self, *, language: str | None = None) -> None:
        super().__init__()
        self.language = language
        self.requests: list[ScriptedRequest] = []

    @property
    def model(self) -> str:
        return "ringflow-scripted"

    @property
    def provider(self) -> str:
        return "ringflow"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> "ScriptedStream":
        names = [n for n in (tool_name(t) for t in tools or []) if n]
        script = Script(
            chat_ctx,
            names,
            self.language,
            allow_tools=tool_choice != "none",
            dispositions=offered_dispositions(list(tools or [])),
            http_tools=offered_http_tools(list(tools or [])),
            departments=offered_departments(list(tools or [])),
        )
        self.requests.append(ScriptedRequest(names, script.instructions, tool_choice or None))
        return ScriptedStream(
            self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options, reply=script.decide()
        )


class ScriptedStream(llm.LLMStream):
    """Emits the decided reply as a text chunk and a tool-call chunk, like a streaming model."""

    def __init__(
        self,
        llm_v: ScriptedLLM,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
        reply: ScriptedReply,
    ) -> None:
        super().__init__(llm_v, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._reply = reply

    async def _run(self) -> None:
        request_id = f"scripted-{uuid.uuid4().hex[:8]}"
        if self._reply.text:
            self._event_ch.send_nowait(
                llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", content=self._reply.text))
            )
        if self._reply.calls:
            calls = [
                llm.FunctionToolCall(
                    name=name, arguments=json.dumps(args, ensure_ascii=False), call_id=f"call_{uuid.uuid4().hex[:10]}"
                )
                for name, args in self._reply.calls
            ]
            self._event_ch.send_nowait(
                llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", tool_calls=calls))
            )
