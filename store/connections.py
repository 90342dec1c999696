"""OAuth connections per organization (``schemas.connections``); the sealing of their secrets is infra/oauth.py's."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import OAuthConnectionRow


async def get_connection_row(
    session: AsyncSession, org_id: str, name: str, *, for_update: bool = False
) -> OAuthConnectionRow | None:
    """The connection; ``for_update`` locks its row (Postgres) until the transaction ends, so two racing
    refreshes of one connection run one after the other and the second finds the token fresh."""
    query = select(OAuthConnectionRow).where(OAuthConnectionRow.org_id == org_id, OAuthConnectionRow.name == name)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(query)).one_or_none()


async def connection_row_by_state(session: AsyncSession, state: str) -> OAuthConnectionRow | None:
    query = select(OAuthConnectionRow).where(OAuthConnectionRow.pending_state == state).with_for_update()
    return (await session.scalars(query)).one_or_none()


async def list_connection_rows(session: AsyncSession, org_id: str) -> list[OAuthConnectionRow]:
    query = select(OAuthConnectionRow).where(OAuthConnectionRow.org_id == org_id).order_by(OAuthConnectionRow.name)
    return list((await session.scalars(query)).all())
