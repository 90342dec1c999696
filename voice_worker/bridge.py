"""How the agent reaches its call's workflow. Every effect of a tool goes through here.

The agent never writes to the store itself: it sends updates and signals to the contact workflow,
which records them through activities, so nothing a caller says is lost if a process dies.
"""

from datetime import datetime
from typing import Protocol

from schemas.agent import InformationCategory, LiveContext, SharedInformation, TranscriptSegment
from schemas.departments import Department, RouteAnswer, TransferReport
from schemas.dispositions import Disposition
from schemas.knowledge import KnowledgeAnswer
from schemas.tools import HttpToolSpec, ToolResult
from schemas.workflow_io import CallbackConfirmation


class BridgeError(Exception):
    """The workflow could not be reached or refused; ``str()`` is a sentence the agent can act on."""


class CallBridge(Protocol):
    async def take_note(self, note: str) -> None: ...

    async def share_information(self, category: InformationCategory, information: str) -> None: ...

    async def get_shared_information(self, category: InformationCategory | None) -> list[SharedInformation]: ...

    async def schedule_callback(self, at: datetime, reason: str) -> CallbackConfirmation:
        """Raises BridgeError with the validator's refusal (past, too far ahead, no zone...)."""
        ...

    async def record_disposition(self, disposition: str, reason: str) -> Disposition:
        """What the call came to, by the name of one of the agent's dispositions; the workflow derives the
        outcome from it. Raises BridgeError with the validator's refusal (an unknown name, no call on)."""
        ...

    async def end_call(self, reason: str) -> None: ...

    async def report_voicemail(self, reason: str) -> None: ...

    async def transfer_to_human(self, reason: str) -> None: ...

    async def http_tools(self) -> list[HttpToolSpec]:
        """What the model sees of the HTTP tools the call's agent may use."""
        ...

    async def call_http_tool(self, name: str, arguments: dict[str, object]) -> ToolResult:
        """Run an HTTP tool through the call's workflow; a failed request is a result whose reply the agent can
        say. Raises BridgeError when the workflow refuses (a tool the agent may not use) or is unreachable."""
        ...

    async def search_knowledge(self, query: str) -> KnowledgeAnswer:
        """The best passages of the agent's documents for ``query``, each naming its source. Raises BridgeError
        when the workflow refuses (the tool is switched off) or is unreachable."""
        ...

    async def departments(self) -> list[Department]:
        """The departments the call's agent routes to, with what callers need each for."""
        ...

    async def route_to_department(self, department: str, reason: str) -> RouteAnswer:
        """Route the caller to one of the agent's departments: a transfer to perform, or the fallback taken.
        Raises BridgeError with the workflow's refusal (a department this agent does not route to)."""
        ...

    async def report_department_transfer(self, report: TransferReport) -> RouteAnswer:
        """How a department transfer went; not answered or failed, the answer is the fallback taken."""
        ...

    async def append_transcript(self, segments: list[TranscriptSegment]) -> None: ...

    async def live_context(self) -> LiveContext: ...
