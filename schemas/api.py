"""Bodies of the REST API (``/v1``): what a request may carry and what every response looks like.

Request models forbid unknown fields, so a typo in a field name is a 422 that names it instead of
a setting silently left at its default. Response models are what the dashboard reads too.

Conventions: every list is ``{items, total, limit, offset}``; times are ISO 8601 in UTC; a call id
is an opaque string (``GET /v1/calls`` hands them out); errors are ``{"detail": ...}`` with a 4xx.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, computed_field, field_validator

from schemas.agent import (
    DISCLOSURE_MAX_LENGTH,
    AgentConfig,
    AgentTool,
    InformationCategory,
    Language,
    ModelMode,
    SharedInformation,
    TranscriptSegment,
)
from schemas.analysis import AnalysisConfig, CallAnalysis
from schemas.campaign import CampaignSettings
from schemas.compliance import CallingPolicy, DialDecision, DialVerdict, HoursRule
from schemas.departments import CallRouteOut
from schemas.dispositions import Disposition
from schemas.imports import RowError
from schemas.providers import LLMChoice, RealtimeChoice, STTChoice, TTSChoice
from schemas.recordings import RecordingOut
from schemas.tools import ToolInvocationOut
from schemas.workflow_io import CampaignProgress

MAX_CONTACTS_PER_REQUEST = 1_000_000
"""The most contacts a JSON list can hold at all; the configured ``max_import_rows`` is the working limit
(a 413 above it, like a CSV upload's)."""

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
TOTAL_DOC = "How many items match; null on a page fetched with cursor, which does not count them again"
NEXT_CURSOR_DOC = "Pass as cursor for the next page; null on the last page"

CAMPAIGN_DRAFT = "draft"
"""The status of a campaign created with ``start: false``: stored, not yet started (no workflow)."""

CampaignState = Literal["draft", "running", "paused", "cancelling", "cancelled", "completed"]
CallDirection = Literal["outbound", "inbound"]


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every 4xx: ``detail`` says what is wrong in one line, naming the field when a field is."""

    detail: str


# ---- the caller -----------------------------------------------------------------------------------


class OrgOut(BaseModel):
    id: str
    name: str


# ---- campaigns ------------------------------------------------------------------------------------


class ContactIn(RequestBody):
    """A contact as a client sends it. Each one is checked on its own (see ``ImportReport``): one bad
    row does not refuse the others."""

    external_id: str | None = Field(
        default=None, max_length=128, description="Your id for the contact; default: row-<position in the list>"
    )
    name: str = Field(default="", max_length=256)
    phone: str = Field(max_length=64, description="E.164 (+14155550123), or any format with a country code")
    extension: str = Field(
        default="", max_length=16, description="Digits sent as DTMF once answered ('+14155550106 ext. 12' gives 12)"
    )
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone; derived from the number")
    region: str = Field(
        default="", max_length=8, description="Calling-hours region (US-FL, AU); derived from the number's area code"
    )
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000, description="Higher is dialled first")
    persona: str | None = Field(default=None, max_length=32, description="Sim callee; kept as attributes.persona")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Anything else; the agent sees it")


class ImportReport(BaseModel):
    """What happened to each submitted contact. ``line`` is the CSV line (the header is line 1), or,
    for a JSON list, the contact's 1-based position in it."""

    imported: int = Field(description="Contacts added to the campaign")
    rejected: int = Field(default=0, description="Rows left out; `errors` lists the first 1,000 of them by line")
    errors: list[RowError] = Field(default_factory=list, description="One entry per rejected row (the first 1,000)")
    uncertain_zones: int = Field(
        default=0,
        description="Imported contacts whose number may ring in several time zones: each is dialled only while "
        "every one of them allows it; give a timezone column to be sure",
    )
    uncertain_zone_ids: list[str] = Field(
        default_factory=list,
        description="The first 100 of them, by external id; give a timezone column to be sure",
    )


class ImportRefusal(ErrorBody):
    """A 422 of an import in which no row was good: the report says, row by row, why."""

    import_report: ImportReport | None = Field(default=None, description="Present when no row was good")


class CampaignCreate(RequestBody):
    name: str = Field(min_length=1, max_length=256)
    settings: CampaignSettings = Field(default_factory=CampaignSettings, description="Every field is optional")
    agent_name: str | None = Field(default=None, max_length=100, description="A stored agent of your organisation")
    contacts: list[ContactIn] = Field(default_factory=list, max_length=MAX_CONTACTS_PER_REQUEST)
    start: bool = Field(default=True, description="false: create a draft, started later with POST .../start")


class ContactsAdd(RequestBody):
    contacts: list[ContactIn] = Field(min_length=1, max_length=MAX_CONTACTS_PER_REQUEST)


class CampaignPreviewRequest(RequestBody):
    """A list to preview: nothing is created; see ``CampaignPreview``."""

    settings: CampaignSettings = Field(default_factory=CampaignSettings, description="Every field is optional")
    contacts: list[ContactIn] = Field(default_factory=list, max_length=MAX_CONTACTS_PER_REQUEST)
    now: datetime | None = Field(
        default=None, description="Preview as of this moment (ISO 8601; naive is UTC), so it is reproducible"
    )


class ContactPreview(BaseModel):
    """When one good contact of a previewed list may first be dialled, and why (the check every dial passes)."""

    external_id: str
    phone: str = Field(description="E.164")
    zones: list[str] = Field(description="Every IANA zone the number may ring in; a dial must be allowed in all")
    zone_confident: bool = Field(description="False when there are several zones: give a timezone to be sure")
    region: str = Field(description="The calling-hours policy's region (US-FL, AU); empty if unknown")
    verdict: DialVerdict = Field(description="dial (at once), wait (until first_dial_at) or skip (never)")
    first_dial_at: datetime | None = Field(description="UTC: the first moment it may be dialled; null: never")
    reason: str
    rule: str = Field(description="The hours rule that applies, e.g. 'US-FL 08:00-20:00 (...)'")
    local_times: dict[str, str] = Field(description="Zone -> the local wall time at `now`")


class CampaignPreview(BaseModel):
    """What a campaign of this list would do, with nothing created: each good contact's first dial and the
    rejected rows, as an import would reject them (do-not-call list included)."""

    contacts: list[ContactPreview] = Field(description="The good contacts, in the list's order")
    now: datetime = Field(description="The moment previewed (UTC)")
    valid: int = Field(description="Contacts an import would add")
    rejected: int = Field(description="Rows an import would leave out; `errors` lists the first 1,000 by line")
    errors: list[RowError] = Field(description="One entry per rejected row (the first 1,000)")
    uncertain_zones: int = Field(
        description="Good contacts whose number may ring in several time zones; give a timezone column to be sure"
    )
    uncertain_zone_ids: list[str] = Field(description="The first 100 of them, by external id")


class CancelRequest(RequestBody):
    reason: str = Field(default="", max_length=500, description="Recorded with every contact cancelled")


class ContactCounts(BaseModel):
    """The campaign's contacts by their state in the store."""

    total: int = 0
    pending: int = Field(default=0, description="Not yet dispatched")
    active: int = Field(default=0, description="Dispatched, not finished: in a call or waiting")
    finished: int = 0
    cancelled: int = 0

    @property
    def done(self) -> int:
        return self.finished + self.cancelled


class CampaignOut(BaseModel):
    id: str
    name: str
    status: CampaignState
    agent_name: str | None = None
    settings: CampaignSettings
    created_at: datetime
    updated_at: datetime
    contacts: ContactCounts
    percent_complete: float = Field(description="Contacts with a final outcome, of all, 0-100")
    pause_reason: str = Field(
        default="", description="Why a paused campaign paused itself (its circuit breaker); empty for a pause by hand"
    )
    tripped_by: list[str] = Field(
        default_factory=list, description="The calls (`/v1/calls/{id}`) whose results tripped the circuit breaker"
    )
    outcomes: dict[str, int] = Field(default_factory=dict, description="Final outcome -> contacts")
    web_ui_url: str | None = Field(description="The campaign workflow in the Temporal Web UI; none for a draft")
    progress: CampaignProgress | None = Field(
        default=None,
        description="Live counters from the campaign workflow (detail, its event stream and actions only)",
    )


class CampaignCreated(BaseModel):
    campaign: CampaignOut
    import_report: ImportReport


class ContactsAdded(BaseModel):
    campaign: CampaignOut
    import_report: ImportReport


class CampaignList(BaseModel):
    items: list[CampaignOut]
    total: int
    limit: int
    offset: int


class CampaignsSnapshot(BaseModel):
    """One event of ``GET /v1/campaigns/events``: every campaign of the organisation, newest first."""

    campaigns: list[CampaignOut]


class Stats(BaseModel):
    """Calls of a campaign or an agent. ``calls`` counts finished dials (inbound calls count as answered
    when they connected); the cost is an estimate from the configured per-minute and per-dial prices."""

    calls: int = 0
    answered: int = 0
    answer_rate: float = Field(default=0.0, description="answered / calls, 0-1")
    outcomes: dict[str, int] = Field(default_factory=dict, description="Call outcome -> calls")
    final_outcomes: dict[str, int] = Field(default_factory=dict, description="Final outcome -> contacts")
    average_duration_seconds: float = Field(default=0.0, description="Over answered calls")
    connected_minutes: float = 0.0
    estimated_cost_usd: float = 0.0


# ---- contacts and calls ---------------------------------------------------------------------------


class ContactOut(BaseModel):
    campaign_id: str
    external_id: str
    name: str
    phone: str
    extension: str = Field(default="", description="Digits sent as DTMF once the call is answered")
    timezone: str = Field(description="The zone times are spoken in: the given one, or the first of `zones`")
    zones: list[str] = Field(
        description="Every IANA zone the number may ring in; a dial must be allowed in all of them"
    )
    region: str = Field(description="The calling-hours policy's region (US-FL, AU); empty if unknown")
    priority: int
    attributes: dict[str, Any] = Field(description="Including the simulator's persona, if one was given")
    status: str = Field(description="pending | active | finished | cancelled")
    final_outcome: str | None
    attempts: int
    agent_name: str | None
    updated_at: datetime
    last_call_id: str | None = Field(description="The contact's latest finished call (GET /v1/calls/{call_id})")
    web_ui_url: str = Field(description="The contact's workflow in the Temporal Web UI")

    @field_validator("zones", mode="before")
    @classmethod
    def _one_zone_before_zones_were_kept(cls, value: Any, info: ValidationInfo) -> Any:
        """A contact stored before zones were kept has none (None): its one zone is its timezone."""
        return [info.data["timezone"]] if value is None and "timezone" in info.data else value

    @computed_field(description="False when the number may ring in several zones: give a timezone to be sure")
    @property
    def zone_confident(self) -> bool:
        return len(self.zones) == 1


class ContactList(BaseModel):
    items: list[ContactOut]
    total: int | None = Field(description=TOTAL_DOC)
    limit: int
    offset: int
    next_cursor: str | None = Field(default=None, description=NEXT_CURSOR_DOC)


class CallOut(BaseModel):
    id: str = Field(description="Opaque: pass it back to GET /v1/calls/{call_id}")
    direction: CallDirection
    campaign_id: str = Field(description="'inbound' for incoming calls")
    external_id: str = Field(description="The contact's id; an incoming call's CallSid")
    attempt: int
    phone: str = Field(description="The number called, or the caller's number for an incoming call")
    contact_name: str
    agent_name: str | None
    started_at: datetime
    ended_at: datetime | None
    state: str = Field(description="dialling | finished (outbound); Twilio's call status (inbound)")
    outcome: str | None = Field(
        description="What the call came to: decided from the agent's disposition and the network's facts; an "
        "inbound call the agent never had shows Twilio's final status"
    )
    disposition: str | None = Field(description="What the agent recorded the call came to, if it recorded one")
    network_status: str = Field(description="The network's status for the call (Twilio's or the SIP one's)")
    status_code: int | None = Field(default=None, description="The SIP response code the network gave, if any")
    error_code: int | None = Field(default=None, description="Twilio's error code, if Twilio gave one")
    cause: str | None = Field(
        default=None,
        description="What the result meant for the next dial: final, person_retry, network_retry or answered",
    )
    answered_by: str = Field(description="Answering-machine detection: human, machine_start, ... or empty")
    answered: bool
    duration_seconds: float
    carrier: str
    caller_id: str | None = Field(
        description="The number an outbound call showed, from its campaign's caller-ID pool; null: the carrier's own "
        "(and for incoming calls)"
    )
    kind: Literal["phone", "web", "test"] = Field(
        default="phone",
        description="phone: a call through a carrier; web: a web call from the dashboard; test: a text chat with the "
        "agent on the dashboard (both inbound, with the agent's records like any call's)",
    )


class CallList(BaseModel):
    items: list[CallOut]
    total: int | None = Field(description=TOTAL_DOC)
    limit: int
    offset: int
    next_cursor: str | None = Field(default=None, description=NEXT_CURSOR_DOC)


class NoteOut(BaseModel):
    note: str
    attempt: int
    created_at: datetime


class CallbackOut(BaseModel):
    requested_for: datetime
    scheduled_for: datetime
    reason: str
    status: str = Field(description="scheduled | replaced | done | cancelled")
    created_at: datetime


class CallDetail(CallOut):
    transcript: list[TranscriptSegment] = Field(description="This call's utterances, in order")
    notes: list[NoteOut] = Field(description="Notes the agent took on this call")
    information: dict[InformationCategory, list[SharedInformation]] = Field(
        description="What the callee shared on this call, by category"
    )
    callbacks: list[CallbackOut] = Field(description="The contact's callbacks, in booking order")
    web_ui_url: str = Field(description="The call's workflow in the Temporal Web UI")
    decision: DialDecision | None = Field(
        description="Why this dial was allowed: zones, local times, the rule, the do-not-call check, attempt counts "
        "(outbound calls; none for calls dialled before decisions were recorded)"
    )
    contact_decisions: list[DialDecision] = Field(
        description="Every decision about the contact's dials, oldest first: dials, waits and skips with reasons"
    )
    analysis: CallAnalysis | None = Field(
        default=None, description="The post-call analysis (summary, extracted fields, success, tags); none yet: null"
    )
    recordings: list[RecordingOut] = Field(
        default_factory=list,
        description="The call's recordings, each with its length check (``length_mismatch``); download one through "
        "GET /v1/calls/{id}/recording",
    )
    tool_invocations: list[ToolInvocationOut] = Field(
        default_factory=list,
        description="The HTTP tools the agent called on this call, in order: arguments, status, latency, answer",
    )
    routes: list[CallRouteOut] = Field(
        default_factory=list,
        description="Each department route on this call, step by step: the decision (transfer, callback, message) "
        "and a transfer's result",
    )


class DecisionList(BaseModel):
    """The audit trail of one contact: every dial, wait and skip, oldest first."""

    campaign_id: str
    external_id: str
    items: list[DialDecision]


class PolicyOut(BaseModel):
    """The organization's calling policy and the legal floor under it."""

    policy: CallingPolicy = Field(description="The organization's own rules and attempt caps")
    floor: list[HoursRule] = Field(description="The legal floor by region; the organization's rules narrow it")
    overrides: list[HoursRule] = Field(description="The organization's rules that widen the floor, with their basis")
    changes: list["PolicyChange"] = Field(description="The latest policies set, newest first: when and by whom")


class PolicyChange(BaseModel):
    changed_at: datetime
    changed_by: str = Field(description="'API key rf_abc…', 'cli', 'demo'")
    policy: CallingPolicy


class ContextEdit(RequestBody):
    """Live context of a call in progress: the agent reads it on its next turn."""

    data: dict[str, Any]
    replace: bool = Field(default=False, description="Replace the whole context instead of merging keys")


class InformationOut(BaseModel):
    call_id: str
    campaign_id: str
    external_id: str
    caller: str = Field(description="The contact's (or incoming caller's) phone number")
    contact_name: str
    category: InformationCategory
    information: str
    shared_at: datetime


class InformationList(BaseModel):
    items: list[InformationOut]


# ---- agents ---------------------------------------------------------------------------------------


# The dashboard's address of its new-agent form is /agents/new, so no agent may be called that.
RESERVED_AGENT_NAMES = frozenset({"new"})


class AgentCreate(AgentConfig):
    """``POST /v1/agents``: an agent's whole configuration; an unknown field is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name.lower() in RESERVED_AGENT_NAMES:
            raise ValueError(f"the name {name!r} is reserved: choose another")
        return name


class AgentUpdate(RequestBody):
    """``PUT /v1/agents/{name}``: the fields given replace the agent's; those left out keep their value.
    ``tools`` is merged per function, so ``{"tools": {"take_note": false}}`` turns off just that one."""

    instructions: str | None = Field(default=None, min_length=1)
    greeting: str | None = None
    disclosure: str | None = Field(
        default=None,
        max_length=DISCLOSURE_MAX_LENGTH,
        description="Said before the greeting; an empty string removes it",
    )
    language: Language | None = None
    voice: str | None = Field(default=None, min_length=1, max_length=64)
    model_mode: ModelMode | None = None
    stt: STTChoice | None = Field(default=None, description="Replaces the agent's speech-to-text choice")
    llm: LLMChoice | None = Field(default=None, description="Replaces the agent's language model choice")
    tts: TTSChoice | None = Field(default=None, description="Replaces the agent's text-to-speech choice")
    realtime: RealtimeChoice | None = Field(default=None, description="Replaces the agent's realtime model choice")
    context: dict[str, Any] | None = None
    tools: dict[AgentTool, bool] | None = None
    http_tools: list[str] | None = Field(default=None, description="Replaces the HTTP tools the agent may call")
    departments: list[str] | None = Field(default=None, description="Replaces the departments it routes callers to")
    transfer_number: str | None = Field(default=None, description="E.164; null removes it")
    voicemail_message: str | None = None
    recording: bool | None = Field(default=None, description="Record its calls from the end of the disclosure")
    active: bool | None = None
    dispositions: list[Disposition] | None = Field(
        default=None,
        description="Replaces the agent's own dispositions; the defaults stay unless one is named here to reword it",
    )
    analysis: AnalysisConfig | None = Field(default=None, description="Replaces the agent's post-call analysis config")


class AgentList(BaseModel):
    items: list["AgentOut"]


class AgentOut(BaseModel):
    """An agent's configuration (as ``AgentConfig``) and the tools it actually has on a call."""

    name: str
    instructions: str
    greeting: str
    disclosure: str = Field(description="Said word for word before the greeting; empty: none")
    language: Language
    voice: str
    model_mode: ModelMode
    stt: STTChoice
    llm: LLMChoice
    tts: TTSChoice
    realtime: RealtimeChoice
    context: dict[str, Any]
    tools: dict[AgentTool, bool]
    enabled_tools: list[AgentTool] = Field(description="Switched on, and usable (transfer needs a number)")
    http_tools: list[str] = Field(description="The organization's HTTP tools it may call (/v1/tools)")
    departments: list[str] = Field(description="The organization's departments it routes callers to (/v1/departments)")
    transfer_number: str | None
    voicemail_message: str
    recording: bool = Field(default=False, description="Its calls are recorded, from the end of the disclosure")
    active: bool
    dispositions: list[Disposition] = Field(description="What its calls can come to: name, description, outcome, then")
    analysis: AnalysisConfig = Field(
        description="What is learnt from each connected call: summary, fields, rubric, tags"
    )


class OutboundCallRequest(RequestBody):
    """One call by an agent, now: a one-contact campaign whose agent gets ``context`` (when given)
    instead of its stored context."""

    phone: str = Field(max_length=64)
    extension: str = Field(
        default="", max_length=16, description="Digits sent as DTMF once answered ('+14155550106 ext. 12' gives 12)"
    )
    name: str = Field(default="", max_length=256)
    timezone: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=128, description="Default: call-<random>")
    context: dict[str, Any] | None = Field(default=None, description="Replaces the agent's context for this call")
    attributes: dict[str, Any] = Field(default_factory=dict, description="The contact's attributes")
    persona: str | None = Field(default=None, max_length=32, description="Sim callee; kept as attributes.persona")
    settings: CampaignSettings | None = Field(default=None, description="Default: one attempt, any hour of any day")


class OutboundCallStarted(BaseModel):
    campaign: CampaignOut
    external_id: str
    contact_web_ui_url: str


# ---- numbers --------------------------------------------------------------------------------------


class NumberOut(BaseModel):
    number: str
    friendly_name: str
    agent_name: str | None
    updated_at: datetime


class NumberList(BaseModel):
    items: list[NumberOut]


class NumberAssignment(RequestBody):
    agent_name: str | None = Field(description="An active agent of your organisation; null unbinds the number")


# ---- caller-ID pools ------------------------------------------------------------------------------


class CallerIdPoolIn(RequestBody):
    """A new pool, and the test that quarantines a number whose calls stop being answered."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    quarantine_min_dials: int = Field(default=50, ge=1, le=100_000, description="Dials before a number is judged")
    quarantine_fraction: float = Field(
        default=0.5, gt=0, le=1, description="Quarantined under this fraction of the pool's median answer rate"
    )
    quarantine_hours: float = Field(default=24.0, gt=0, le=24 * 366, description="How long a quarantine lasts")


class CallerIdIn(RequestBody):
    """One of the organization's numbers (`GET /v1/numbers`) for the pool, with its own limits."""

    number: str = Field(max_length=64, description="E.164")
    daily_cap: int = Field(default=100, ge=1, le=100_000, description="Dials per UTC day at most")
    calls_per_second: float = Field(default=1.0, gt=0, le=100, description="Its own pacing")


class CallerIdOut(BaseModel):
    number: str
    country: str = Field(description="ISO country, for local presence")
    area_code: str = Field(description="Geographic area code, for local presence ('' if none)")
    daily_cap: int
    calls_per_second: float
    dials_today: int = Field(description="Dials this UTC day")
    dials: int = Field(description="Finished dials since it was added or last released from quarantine")
    answered: int = Field(description="Of those, answered by a person")
    quarantined_until: datetime | None
    status: Literal["active", "capped today", "possible spam label"] = Field(
        description="'possible spam label': quarantined after its answer rate collapsed (see quarantine_reason)"
    )
    quarantine_reason: str


class CallerIdPoolOut(BaseModel):
    name: str
    quarantine_min_dials: int
    quarantine_fraction: float
    quarantine_hours: float
    created_at: datetime
    numbers: list[CallerIdOut]


class CallerIdPoolList(BaseModel):
    items: list[CallerIdPoolOut]


# ---- do-not-call ----------------------------------------------------------------------------------


class DncIn(RequestBody):
    phone: str = Field(max_length=64)
    reason: str = Field(default="", max_length=500)


class DncOut(BaseModel):
    phone: str
    reason: str
    created_at: datetime
    source: str = Field(description="Who listed the number: api, import, or agent (said on a call)")
    source_ref: str = Field(description="For the agent: the call it was said on (the attempt's key)")


class DncAdded(BaseModel):
    entry: DncOut
    added: bool = Field(description="false when the number was already on the list")


class DncList(BaseModel):
    items: list[DncOut]
    total: int
    limit: int
    offset: int


class DncImportReport(BaseModel):
    added: int
    already_listed: int
    errors: list[RowError] = Field(default_factory=list)


# ---- reports ---------------------------------------------------------------------------------------


class ReportFormat(StrEnum):
    """A campaign report's formats: ``GET /v1/campaigns/{id}/report.<format>``, ``ringflow campaign report``."""

    XLSX = "xlsx"
    PDF = "pdf"

    @property
    def media_type(self) -> str:
        if self is ReportFormat.XLSX:
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return "application/pdf"


AgentList.model_rebuild()
PolicyOut.model_rebuild()
