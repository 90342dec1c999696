"""An organization's HTTP tools: create, list, get, replace, delete, and a test run with sample arguments.
The REST API (``/v1/tools``), the dashboard and the CLI (``ringflow tool``) go through here. docs/tools.md."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.services import audit
from infra.http_tools import ALLOWED_BY, call_tool_on_behalf, render_url, sealed_tool
from infra.sealing import SealingKeyError
from infra.webhooks import UnsafeWebhookUrlError, check_url
from schemas.agent import AgentConfig
from schemas.settings import Settings
from schemas.tools import AuthKind, HttpTool, HttpToolOut, StoredHttpTool, ToolAuthOut, ToolResult
from store import connections, queries, tools
from store.models import HttpToolRow


class ToolServiceError(Exception):
    """A tool request the service refuses; its sentence is the answer."""


class ToolNotFoundError(ToolServiceError, LookupError):
    pass


class ToolConflictError(ToolServiceError):
    pass


class InvalidToolError(ToolServiceError, ValueError):
    pass


def tool_view(row: HttpToolRow) -> HttpToolOut:
    """The tool as the API shows it: the secret only as a hint of its last characters, kept when it was sealed."""
    tool = StoredHttpTool.model_validate(row.definition)
    return HttpToolOut(
        **tool.model_dump(exclude={"auth"}),
        auth=ToolAuthOut(
            kind=tool.auth.kind, header=tool.auth.header, connection=tool.auth.connection, secret_hint=tool.auth.hint
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _checked(
    session: AsyncSession, settings: Settings, org_id: str, tool: HttpTool, stored: StoredHttpTool | None
) -> StoredHttpTool:
    """``tool`` ready to store: its host allowed (SSRF), an empty secret keeping the stored one, and a plain secret
    (a new one, or a stored one saved before secrets were sealed) sealed; no sealing key is needed without one."""
    try:
        await check_url(render_url(tool, {}), allow_private=settings.tool_allow_private_urls, allowed_by=ALLOWED_BY)
    except UnsafeWebhookUrlError as err:
        raise InvalidToolError(str(err)) from None
    auth = tool.auth
    if auth.kind == AuthKind.OAUTH and await connections.get_connection_row(session, org_id, auth.connection) is None:
        raise InvalidToolError(f"auth.connection: the organization has no connection named {auth.connection!r}")
    if auth.kind in (AuthKind.API_KEY, AuthKind.BEARER) and not auth.secret:
        if stored is None or stored.auth.kind != auth.kind or not stored.auth.has_secret:
            raise InvalidToolError(f"auth.secret: a {auth.kind.value} auth needs its secret")
        kept = stored.auth.model_dump(include={"secret", "sealed_secret", "secret_hint"})
        tool = StoredHttpTool.model_validate({**tool.model_dump(), "auth": {**auth.model_dump(), **kept}})
    try:
        return sealed_tool(settings, tool)
    except SealingKeyError as err:
        raise InvalidToolError(f"auth.secret: cannot be sealed: {err}") from None


async def list_tools(session: AsyncSession, *, org_id: str) -> list[HttpToolOut]:
    return [tool_view(row) for row in await tools.list_tool_rows(session, org_id)]


async def _owned(session: AsyncSession, org_id: str, name: str) -> HttpToolRow:
    row = await tools.get_tool_row(session, org_id, name)
    if row is None:
        raise ToolNotFoundError(f"no tool named {name!r}")
    return row


async def get(session: AsyncSession, *, org_id: str, name: str) -> HttpToolOut:
    return tool_view(await _owned(session, org_id, name))


async def create(
    session: AsyncSession, settings: Settings, *, org_id: str, tool: HttpTool, actor: str = audit.CLI_ACTOR
) -> HttpToolOut:
    if await tools.get_tool_row(session, org_id, tool.name) is not None:
        raise ToolConflictError(f"a tool named {tool.name!r} already exists: PUT /v1/tools/{tool.name} changes it")
    row = await tools.save_tool(session, org_id, await _checked(session, settings, org_id, tool, None))
    await audit.record(
        session, org_id=org_id, actor=actor, action="tool.create", target=tool.name, details={"url": tool.url}
    )
    await session.commit()
    return tool_view(row)


async def replace(
    session: AsyncSession, settings: Settings, *, org_id: str, name: str, tool: HttpTool, actor: str = audit.CLI_ACTOR
) -> HttpToolOut:
    """Replace the tool's definition; an auth of the same kind given without its secret keeps the stored one."""
    if tool.name != name:
        raise InvalidToolError(f"name: a tool keeps its name ({name!r}); create another to rename it")
    stored = StoredHttpTool.model_validate((await _owned(session, org_id, name)).definition)
    row = await tools.save_tool(session, org_id, await _checked(session, settings, org_id, tool, stored))
    await audit.record(
        session, org_id=org_id, actor=actor, action="tool.update", target=name, details={"url": tool.url}
    )
    await session.commit()
    return tool_view(row)


async def delete(session: AsyncSession, *, org_id: str, name: str, actor: str = audit.CLI_ACTOR) -> None:
    """Delete the tool, unless an agent may still call it (switch it off there first)."""
    await _owned(session, org_id, name)
    users = sorted(agent.name for agent in await queries.list_agents(session, org_id) if name in agent.http_tools)
    if users:
        raise ToolConflictError(f"the tool {name!r} is switched on for agents {', '.join(users)}: switch it off first")
    await tools.delete_tool(session, org_id, name)
    await audit.record(session, org_id=org_id, actor=actor, action="tool.delete", target=name)
    await session.commit()


async def test(
    session: AsyncSession, settings: Settings, *, org_id: str, name: str, arguments: dict[str, object]
) -> ToolResult:
    """Run the tool once with sample arguments, as a call would (same request, guard and mapping), unrecorded."""
    tool = StoredHttpTool.model_validate((await _owned(session, org_id, name)).definition)
    return await call_tool_on_behalf(
        session, settings, org_id, tool, arguments, idempotency_key=f"test-{uuid.uuid4().hex}"
    )


async def refuse_unknown_tools(session: AsyncSession, *, org_id: str, agent: AgentConfig) -> None:
    """An agent may switch on only tools its organization has."""
    unknown = sorted(set(agent.http_tools) - await tools.tool_names(session, org_id))
    if unknown:
        raise InvalidToolError(f"http_tools: the organization has no tool named {', '.join(map(repr, unknown))}")
