"""An in-memory CallBridge for voice-agent tests: records every call, can refuse or fail on demand."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas.agent import InformationCategory, LiveContext, SharedInformation, TranscriptSegment
from schemas.departments import Department, RouteAnswer, TransferReport
from schemas.dispositions import DEFAULT_DISPOSITIONS, Disposition, by_name, refusal_for
from schemas.knowledge import KnowledgeAnswer
from schemas.tools import HttpToolSpec, ToolResult
from schemas.workflow_io import CallbackConfirmation
from voice_worker.bridge import BridgeError


def spoken(result: Any) -> list[str]:
    """What the agent said in one ``AgentSession.run``, line by line."""
    return [e.item.text_content for e in result.events if e.type == "message" and e.item.role == "assistant"]


@dataclass
class FakeBridge:
    """Implements ``CallBridge``.

    ``refuse_callback`` is a sentence schedule_callback refuses with (as the workflow's validator
    would); ``fail`` makes every effectful call raise BridgeError (workflow unreachable).
    """

    refuse_callback: str | None = None
    fail: str | None = None
    live: LiveContext = field(default_factory=LiveContext)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shared: list[SharedInformation] = field(default_factory=list)
    callbacks: list[tuple[datetime, str]] = field(default_factory=list)
    dispositions: list[Disposition] = field(default_factory=lambda: list(DEFAULT_DISPOSITIONS))
    recorded: list[tuple[str, str]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    voicemails: list[str] = field(default_factory=list)
    transfers: list[str] = field(default_factory=list)
    transcript_batches: list[list[TranscriptSegment]] = field(default_factory=list)
    live_polls: int = 0
    http_specs: list[HttpToolSpec] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    knowledge: KnowledgeAnswer = field(default_factory=KnowledgeAnswer)
    routed_to: list[Department] = field(default_factory=list)
    route_answers: list[RouteAnswer] = field(default_factory=list)
    transfer_reports: list[TransferReport] = field(default_factory=list)

    def _check(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if self.fail:
            raise BridgeError(self.fail)

    @property
    def call_names(self) -> list[str]:
        return [name for name, _ in self.calls]

    @property
    def transcript(self) -> list[TranscriptSegment]:
        return [segment for batch in self.transcript_batches for segment in batch]

    async def take_note(self, note: str) -> None:
        self._check("take_note", note)
        self.notes.append(note)

    async def share_information(self, category: InformationCategory, information: str) -> None:
        self._check("share_information", category, information)
        self.shared.append(SharedInformation(category=category, information=information, shared_at=datetime.now(UTC)))

    async def get_shared_information(self, category: InformationCategory | None) -> list[SharedInformation]:
        self._check("get_shared_information", category)
        return [item for item in self.shared if category is None or item.category == category]

    async def schedule_callback(self, at: datetime, reason: str) -> CallbackConfirmation:
        self._check("schedule_callback", at, reason)
        if self.refuse_callback:
            raise BridgeError(self.refuse_callback)
        self.callbacks.append((at, reason))
        return CallbackConfirmation(scheduled_for=at, requested_for=at, moved_into_window=False, replaced_earlier=False)

    async def search_knowledge(self, query: str) -> KnowledgeAnswer:
        self._check("search_knowledge", query)
        return self.knowledge

    async def record_disposition(self, disposition: str, reason: str) -> Disposition:
        """Refuses a name the agent does not have with the workflow validator's sentence."""
        self._check("record_disposition", disposition, reason)
        if refusal := refusal_for(self.dispositions, disposition):
            raise BridgeError(refusal)
        self.recorded.append((disposition, reason))
        found = by_name(self.dispositions, disposition)
        assert found is not None
        return found

    async def report_voicemail(self, reason: str) -> None:
        self._check("report_voicemail", reason)
        self.voicemails.append(reason)

    async def end_call(self, reason: str) -> None:
        self._check("end_call", reason)
        self.ended.append(reason)

    async def transfer_to_human(self, reason: str) -> None:
        self._check("transfer_to_human", reason)
        self.transfers.append(reason)

    async def http_tools(self) -> list[HttpToolSpec]:
        self._check("http_tools")
        return list(self.http_specs)

    async def call_http_tool(self, name: str, arguments: dict[str, object]) -> ToolResult:
        """Answers with the next of ``tool_results``, as the workflow would after the request."""
        self._check("call_http_tool", name, arguments)
        return self.tool_results.pop(0)

    async def departments(self) -> list[Department]:
        self._check("departments")
        return list(self.routed_to)

    async def route_to_department(self, department: str, reason: str) -> RouteAnswer:
        """Answers with the next of ``route_answers``, as the workflow would decide."""
        self._check("route_to_department", department, reason)
        return self.route_answers.pop(0)

    async def report_department_transfer(self, report: TransferReport) -> RouteAnswer:
        """Answers with the next of ``route_answers`` (the fallback the workflow applied)."""
        self._check("report_department_transfer", report)
        self.transfer_reports.append(report)
        return self.route_answers.pop(0)

    async def append_transcript(self, segments: list[TranscriptSegment]) -> None:
        self.calls.append(("append_transcript", (len(segments),)))
        self.transcript_batches.append(list(segments))

    async def live_context(self) -> LiveContext:
        self.live_polls += 1
        return self.live
