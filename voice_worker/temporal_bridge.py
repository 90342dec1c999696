"""The agent's way into its call's workflow: Temporal updates, signals and queries, sent by method
reference to the handlers every call workflow shares (:class:`~workflows.call_records.CallRecordsMixin`)."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from infra.observability import traced_tool
from schemas.agent import (
    CallJob,
    InformationCategory,
    LiveContext,
    NoteInput,
    SharedInformation,
    TranscriptBatch,
    TranscriptSegment,
)
from schemas.calls import CallbackRequest
from schemas.departments import Department, RouteAnswer, RouteRequest, TransferReport
from schemas.dispositions import Disposition, DispositionInput
from schemas.knowledge import QUERY_MAX_LENGTH, KnowledgeAnswer, KnowledgeQuery
from schemas.settings import get_settings
from schemas.tools import HttpToolSpec, ToolCall, ToolResult
from schemas.workflow_io import CallbackConfirmation, ReasonInput
from voice_worker.bridge import BridgeError
from workflows.call_records import CallRecordsMixin

UNREACHABLE = "I can't reach the call's record right now"

A = TypeVar("A")
R = TypeVar("R")


class TemporalCallBridge:
    """One call's bridge: every tool effect becomes an update or signal on the contact workflow.

    Each tool's call is a span, current while it reaches the workflow, so the update's spans in the
    worker join the call's trace; its latency is ``ringflow_tool_latency_seconds{tool}``.
    """

    def __init__(self, client: Client, workflow_id: str, attempt: int) -> None:
        self._handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id)
        self._attempt = attempt

    @classmethod
    async def connect(cls, job: CallJob) -> "TemporalCallBridge":
        from infra.client import connect  # the live voice worker's own connection, made per process

        return cls(await connect(get_settings()), job.workflow_id, job.attempt)

    async def _update(self, update: Callable[..., Awaitable[R]] | Callable[..., R], *argument: A) -> R:
        """Run ``update`` (with its one argument, if it takes one); a refusal becomes a BridgeError sentence."""
        try:
            return await self._handle.execute_update(update, *argument)  # type: ignore[arg-type]
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            raise BridgeError(getattr(cause, "message", None) or str(cause or err)) from None
        except RPCError as err:
            raise BridgeError(f"{UNREACHABLE} ({err.message})") from None

    @traced_tool
    async def take_note(self, note: str) -> None:
        await self._update(CallRecordsMixin.take_note, NoteInput(note=note))

    @traced_tool
    async def share_information(self, category: InformationCategory, information: str) -> None:
        await self._update(
            CallRecordsMixin.share_information, SharedInformation(category=category, information=information)
        )

    @traced_tool
    async def get_shared_information(self, category: InformationCategory | None) -> list[SharedInformation]:
        try:
            shared = await self._handle.query(CallRecordsMixin.shared_information)
        except RPCError as err:
            raise BridgeError(f"{UNREACHABLE} ({err.message})") from None
        return [item for item in shared if category is None or item.category == category]

    @traced_tool
    async def schedule_callback(self, at: datetime, reason: str) -> CallbackConfirmation:
        return await self._update(CallRecordsMixin.schedule_callback, CallbackRequest(at=at, reason=reason))

    @traced_tool
    async def record_disposition(self, disposition: str, reason: str) -> Disposition:
        return await self._update(
            CallRecordsMixin.record_disposition, DispositionInput(disposition=disposition, reason=reason)
        )

    @traced_tool
    async def report_voicemail(self, reason: str) -> None:
        await self._update(CallRecordsMixin.report_voicemail, ReasonInput(reason=reason))

    @traced_tool
    async def end_call(self, reason: str) -> None:
        await self._update(CallRecordsMixin.end_call, ReasonInput(reason=reason))

    @traced_tool
    async def transfer_to_human(self, reason: str) -> None:
        await self._update(CallRecordsMixin.transfer_to_human, ReasonInput(reason=reason))

    async def http_tools(self) -> list[HttpToolSpec]:
        return await self._update(CallRecordsMixin.http_tool_specs)

    @traced_tool
    async def call_http_tool(self, name: str, arguments: dict[str, object]) -> ToolResult:
        return await self._update(CallRecordsMixin.invoke_http_tool, ToolCall(name=name, arguments=arguments))

    @traced_tool
    async def search_knowledge(self, query: str) -> KnowledgeAnswer:
        return await self._update(CallRecordsMixin.search_knowledge, KnowledgeQuery(query=query[:QUERY_MAX_LENGTH]))

    async def departments(self) -> list[Department]:
        return await self._update(CallRecordsMixin.department_specs)

    @traced_tool
    async def route_to_department(self, department: str, reason: str) -> RouteAnswer:
        return await self._update(
            CallRecordsMixin.route_to_department, RouteRequest(department=department, reason=reason)
        )

    async def report_department_transfer(self, report: TransferReport) -> RouteAnswer:
        return await self._update(CallRecordsMixin.department_transfer_result, report)

    async def append_transcript(self, segments: list[TranscriptSegment]) -> None:
        if not segments:
            return
        try:
            await self._handle.signal(
                CallRecordsMixin.transcript, TranscriptBatch(attempt=self._attempt, segments=segments)
            )
        except RPCError as err:
            raise BridgeError(f"{UNREACHABLE} ({err.message})") from None

    async def live_context(self) -> LiveContext:
        try:
            return await self._handle.query(CallRecordsMixin.live_context)
        except RPCError as err:
            raise BridgeError(f"{UNREACHABLE} ({err.message})") from None
