"""HTTP tools per organization, and the invocations recorded on calls."""

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.tools import HttpTool, InvocationStatus, StoredHttpTool, ToolInvocationOut, ToolInvocationRecord
from store.models import HttpToolRow, ToolInvocationRow, utcnow
from store.queries import dialect_insert, rowcount, save_named_definition


async def get_tool_row(session: AsyncSession, org_id: str, name: str) -> HttpToolRow | None:
    return await session.get(HttpToolRow, (org_id, name))


async def get_tool(session: AsyncSession, org_id: str, name: str) -> StoredHttpTool | None:
    """The tool as stored: its secret sealed (or, saved before secrets were sealed, plain)."""
    row = await get_tool_row(session, org_id, name)
    return StoredHttpTool.model_validate(row.definition) if row is not None else None


async def list_tool_rows(session: AsyncSession, org_id: str) -> list[HttpToolRow]:
    query = select(HttpToolRow).where(HttpToolRow.org_id == org_id).order_by(HttpToolRow.name)
    return list((await session.scalars(query)).all())


async def tool_names(session: AsyncSession, org_id: str) -> set[str]:
    return set((await session.scalars(select(HttpToolRow.name).where(HttpToolRow.org_id == org_id))).all())


async def save_tool(session: AsyncSession, org_id: str, tool: HttpTool) -> HttpToolRow:
    """Create the tool, or replace the definition of the one with its name. Its secret is sealed first
    (``infra/http_tools.sealed_tool``): a plain one is never stored."""
    if tool.auth.secret:
        raise ValueError(f"the tool {tool.name!r} has a plain secret: seal it before storing it")
    return await save_named_definition(session, HttpToolRow, org_id, tool.name, tool.model_dump(mode="json"))


async def delete_tool(session: AsyncSession, org_id: str, name: str) -> bool:
    result = await session.execute(delete(HttpToolRow).where(HttpToolRow.org_id == org_id, HttpToolRow.name == name))
    return rowcount(result) > 0


async def record_invocation(session: AsyncSession, record: ToolInvocationRecord) -> None:
    """Store one invocation. Idempotent on its key: a retried write changes nothing."""
    result = record.result
    await session.execute(
        dialect_insert(session, ToolInvocationRow)
        .values(
            idempotency_key=record.idempotency_key,
            org_id=record.org_id,
            campaign_id=record.campaign_id,
            external_id=record.external_id,
            attempt=record.attempt,
            tool=record.tool,
            arguments=record.arguments,
            status=result.status.value,
            http_status=result.http_status,
            latency_ms=result.latency_ms,
            response=result.response,
            error=result.error,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


async def invocations_for(
    session: AsyncSession, campaign_id: str, external_id: str, attempt: int | None = None
) -> list[ToolInvocationOut]:
    """A call's invocations (one attempt's, or all the contact's), in the order they ran."""
    query = select(ToolInvocationRow).where(
        ToolInvocationRow.campaign_id == campaign_id, ToolInvocationRow.external_id == external_id
    )
    if attempt is not None:
        query = query.where(ToolInvocationRow.attempt == attempt)
    return [
        ToolInvocationOut(
            tool=row.tool,
            attempt=row.attempt,
            arguments=row.arguments,
            status=InvocationStatus(row.status),
            http_status=row.http_status,
            latency_ms=row.latency_ms,
            response=row.response,
            error=row.error,
            created_at=row.created_at,
        )
        for row in (await session.scalars(query.order_by(ToolInvocationRow.id))).all()
    ]
