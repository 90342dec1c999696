"""The HTTP tool activities: load the tools an agent may call, invoke one, record an invocation on its call."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from infra.http_tools import call_tool_on_behalf
from schemas.settings import Settings
from schemas.tools import (
    IDEMPOTENT_METHODS,
    INVOKE_HTTP_TOOL_ACTIVITY,
    LOAD_HTTP_TOOLS_ACTIVITY,
    RECORD_TOOL_INVOCATION_ACTIVITY,
    TOOL_ATTEMPTS,
    TOOL_NETWORK_ERROR,
    HttpToolSpec,
    InvocationStatus,
    InvokeHttpTool,
    LoadHttpTools,
    ToolInvocationRecord,
    ToolResult,
    failure_sentence,
)
from store import tools


class ToolActivities:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient | None = None
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._http = http

    @activity.defn(name=LOAD_HTTP_TOOLS_ACTIVITY)
    async def load_http_tools(self, request: LoadHttpTools) -> list[HttpToolSpec]:
        """What the model sees of the named tools; a name the organization no longer has is left out."""
        async with self._sessions() as session:
            found = [await tools.get_tool(session, request.org_id, name) for name in request.names]
        return [tool.spec for tool in found if tool is not None]

    @activity.defn(name=INVOKE_HTTP_TOOL_ACTIVITY)
    async def invoke_http_tool(self, request: InvokeHttpTool) -> ToolResult:
        """Send one invocation. A network error of an idempotent method (GET, HEAD, PUT, DELETE) is raised, so
        Temporal tries again (with the same idempotency key), until the last try; anything else is answered."""
        async with self._sessions() as session:
            tool = await tools.get_tool(session, request.org_id, request.name)
            if tool is None:
                return ToolResult(
                    status=InvocationStatus.REFUSED,
                    reply=failure_sentence(request.name),
                    error=f"the organization has no tool named {request.name!r}",
                )
            result = await call_tool_on_behalf(
                session,
                self._settings,
                request.org_id,
                tool,
                request.arguments,
                idempotency_key=request.idempotency_key,
                http=self._http,
            )
        retryable = result.status == InvocationStatus.UNREACHABLE and tool.method in IDEMPOTENT_METHODS
        if retryable and activity.info().attempt < TOOL_ATTEMPTS:
            raise ApplicationError(result.error, type=TOOL_NETWORK_ERROR)
        return result

    @activity.defn(name=RECORD_TOOL_INVOCATION_ACTIVITY)
    async def record_tool_invocation(self, record: ToolInvocationRecord) -> None:
        async with self._sessions() as session:
            await tools.record_invocation(session, record)
            await session.commit()
