"""The voice agent's contracts: its configuration, the call job it receives, and what it records."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from schemas.analysis import AnalysisConfig
from schemas.contact import Contact, split_extension
from schemas.dispositions import DEFAULT_DISPOSITIONS, Disposition, with_defaults
from schemas.providers import (
    DEFAULT_VOICES,
    LLMChoice,
    RealtimeChoice,
    Role,
    STTChoice,
    TTSChoice,
    voice_problem,
)


class ModelMode(StrEnum):
    REALTIME = "realtime"
    PIPELINE = "pipeline"


class Language(StrEnum):
    ENGLISH = "en"
    ARABIC = "ar"


class AgentTool(StrEnum):
    """Every function tool the agent has; an agent config switches each on or off."""

    TAKE_NOTE = "take_note"
    SHARE_INFORMATION = "share_information"
    GET_SHARED_INFORMATION = "get_shared_information"
    SCHEDULE_CALLBACK = "schedule_callback"
    MARK_NOT_INTERESTED = "mark_not_interested"
    END_CALL = "end_call"
    GET_CURRENT_TIME = "get_current_time"
    TRANSFER_TO_HUMAN = "transfer_to_human"
    DETECTED_ANSWERING_MACHINE = "detected_answering_machine"
    RECORD_DISPOSITION = "record_disposition"
    ROUTE_TO_DEPARTMENT = "route_to_department"
    SEARCH_KNOWLEDGE = "search_knowledge"


OFF_UNTIL_SWITCHED_ON = frozenset({AgentTool.SEARCH_KNOWLEDGE})
"""Tools an agent gets only when its config switches them on: searching a knowledge base is worth offering
once the agent has documents, and a config written before the tool existed keeps the tools it had."""


class InformationCategory(StrEnum):
    CONTACT_DETAILS = "contact_details"
    DEBT_INFO = "debt_info"
    PERSONAL_INFO = "personal_info"
    QUALIFICATION = "qualification"
    CONVERSATION_FLOW = "conversation_flow"
    OTHER = "other"


DISCLOSURE_MAX_LENGTH = 500
"""A disclosure is a sentence or two; it is read out in full before the callee can speak."""


class AgentConfig(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    instructions: str = Field(min_length=1, description="The system prompt")
    greeting: str = Field(default="", description="Said first when the callee picks up")
    disclosure: str = Field(
        default="",
        max_length=DISCLOSURE_MAX_LENGTH,
        description="An opening disclosure, e.g. that the caller is an AI and the call is recorded: said word for "
        "word before the greeting and before anything else, never interrupted, and kept in the transcript. "
        "Empty: none",
    )
    language: Language = Language.ENGLISH
    model_mode: ModelMode = ModelMode.PIPELINE
    stt: STTChoice = Field(default_factory=STTChoice, description="Pipeline: who transcribes the callee")
    llm: LLMChoice = Field(default_factory=LLMChoice, description="Pipeline: the language model")
    tts: TTSChoice = Field(default_factory=TTSChoice, description="Pipeline: who speaks, in ``voice``")
    realtime: RealtimeChoice = Field(
        default_factory=RealtimeChoice, description="Realtime: the speech-to-speech model, speaking in ``voice``"
    )
    voice: str = Field(
        default="alloy",
        validate_default=True,
        description="The voice of whichever model speaks (the TTS, or the realtime model), in its vendor's terms",
    )
    context: dict[str, Any] = Field(default_factory=dict, description="Rendered into the instructions")
    tools: dict[AgentTool, bool] = Field(
        default_factory=lambda: {tool: tool not in OFF_UNTIL_SWITCHED_ON for tool in AgentTool},
        description="Per-function toggles; tools not named are on, but for ``search_knowledge``",
    )
    http_tools: list[str] = Field(
        default_factory=list,
        description="The organization's HTTP tools (/v1/tools) this agent may call, by name: each one's toggle",
    )
    departments: list[str] = Field(
        default_factory=list,
        description="The organization's departments (/v1/departments) this agent may route callers to, by name",
    )
    recording: bool = Field(
        default=False,
        description="Record the call's audio (LiveKit Egress), from the end of the disclosure (docs/recordings.md)",
    )
    transfer_number: str | None = None
    voicemail_message: str = ""
    active: bool = True
    dispositions: list[Disposition] = Field(
        default_factory=lambda: list(DEFAULT_DISPOSITIONS),
        description="What a conversation can come to (schemas.dispositions): the defaults, plus or overriding "
        "by name the ones given here",
    )
    analysis: AnalysisConfig = Field(
        default_factory=AnalysisConfig,
        description="What to learn from each connected call: a summary, fields to extract, a success rubric, tags",
    )

    @field_validator("tools")
    @classmethod
    def _all_tools(cls, value: dict[AgentTool, bool]) -> dict[AgentTool, bool]:
        """Tools not mentioned stay on (a config written before a tool existed still gets it), but for the ones
        that are off until switched on."""
        return {tool: value.get(tool, tool not in OFF_UNTIL_SWITCHED_ON) for tool in AgentTool}

    @field_validator("http_tools", "departments")
    @classmethod
    def _distinct_tool_names(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("voice")
    @classmethod
    def _voice_of_the_speaker(cls, voice: str, info: ValidationInfo) -> str:
        """Checked against the model that speaks in this mode; skipped when that choice was refused itself."""
        mode = info.data.get("model_mode")
        role: Role = "realtime" if mode == ModelMode.REALTIME else "tts"
        speaker = info.data.get(role)
        if mode is not None and speaker is not None:
            # An agent stored before voices were checked may have none: it speaks in the vendor's default.
            voice = voice.strip() or DEFAULT_VOICES[(role, speaker.provider)]
            problem = voice_problem(role, speaker.provider, voice)
            if problem:
                raise ValueError(problem)
        return voice

    @field_validator("transfer_number")
    @classmethod
    def _no_extension(cls, value: str | None) -> str | None:
        """A transfer is a SIP REFER to a number: nothing could key an extension in after it answers."""
        if value is not None and split_extension(value)[1] is not None:
            raise ValueError("a transfer number cannot have an extension: give a direct line")
        return value

    @field_validator("dispositions")
    @classmethod
    def _with_defaults(cls, value: list[Disposition]) -> list[Disposition]:
        return with_defaults(value)

    def enabled_tools(self) -> set[AgentTool]:
        enabled = {tool for tool, on in self.tools.items() if on}
        if not self.transfer_number:
            enabled.discard(AgentTool.TRANSFER_TO_HUMAN)
        if not self.departments:
            enabled.discard(AgentTool.ROUTE_TO_DEPARTMENT)
        return enabled


class CallJob(BaseModel):
    """What a call hands the agent (LiveKit job metadata): a snapshot, so editing an agent never
    changes a call in progress; only the live-context update does."""

    workflow_id: str
    campaign_id: str
    attempt: int
    contact: Contact
    agent: AgentConfig
    context: dict[str, Any] = Field(default_factory=dict)
    trace_context: dict[str, str] = Field(
        default_factory=dict,
        description="W3C trace context (traceparent) of the activity that placed the call: the agent's spans join it",
    )


class SharedInformation(BaseModel):
    category: InformationCategory
    information: str = Field(min_length=1, max_length=2000)
    shared_at: datetime | None = None


class NoteInput(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


class TranscriptSegment(BaseModel):
    speaker: str = Field(description="agent | callee")
    text: str
    started_at: datetime
    ended_at: datetime | None = None


class TranscriptBatch(BaseModel):
    attempt: int
    segments: list[TranscriptSegment]


class LiveContext(BaseModel):
    version: int = 0
    data: dict[str, Any] = Field(default_factory=dict)
