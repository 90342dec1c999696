"""An agent's knowledge base: its documents and their chunks (schemas/knowledge.py)."""

import hashlib
from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.knowledge import KnowledgeDocumentOut
from store.models import KnowledgeChunkRow, KnowledgeDocumentRow


def _view(row: KnowledgeDocumentRow, chunks: int) -> KnowledgeDocumentOut:
    return KnowledgeDocumentOut(
        id=row.id,
        agent=row.agent,
        name=row.name,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        chunks=chunks,
        created_at=row.created_at,
    )


async def document_named(session: AsyncSession, org_id: str, agent: str, name: str) -> KnowledgeDocumentRow | None:
    query = select(KnowledgeDocumentRow).where(
        KnowledgeDocumentRow.org_id == org_id, KnowledgeDocumentRow.agent == agent, KnowledgeDocumentRow.name == name
    )
    return (await session.scalars(query)).first()


async def add_document(
    session: AsyncSession,
    *,
    org_id: str,
    agent: str,
    name: str,
    media_type: str,
    size: int,
    sha256: str,
    chunks: Sequence[tuple[str, str]],
    embeddings: Sequence[bytes] | None = None,
    embedding_model: str | None = None,
) -> KnowledgeDocumentOut:
    """Store a document and its (section, text) chunks, in reading order, with each chunk's embedding when
    ``embeddings`` (one per chunk, from ``embedding_model``) is given."""
    row = KnowledgeDocumentRow(
        org_id=org_id,
        agent=agent,
        name=name,
        media_type=media_type,
        size=size,
        sha256=sha256,
        embedding_model=embedding_model if embeddings is not None else None,
    )
    session.add(row)
    await session.flush()
    vectors = list(embeddings) if embeddings is not None else [None] * len(chunks)
    session.add_all(
        KnowledgeChunkRow(document_id=row.id, seq=seq, section=section[:255], text=text, embedding=vector)
        for seq, ((section, text), vector) in enumerate(zip(chunks, vectors, strict=True))
    )
    await session.flush()
    return _view(row, len(chunks))


async def list_documents(session: AsyncSession, org_id: str, agent: str) -> list[KnowledgeDocumentOut]:
    counts = (
        select(KnowledgeChunkRow.document_id, func.count().label("chunks"))
        .group_by(KnowledgeChunkRow.document_id)
        .subquery()
    )
    query = (
        select(KnowledgeDocumentRow, func.coalesce(counts.c.chunks, 0))
        .outerjoin(counts, counts.c.document_id == KnowledgeDocumentRow.id)
        .where(KnowledgeDocumentRow.org_id == org_id, KnowledgeDocumentRow.agent == agent)
        .order_by(KnowledgeDocumentRow.name)
    )
    return [_view(row, chunks) for row, chunks in (await session.execute(query)).all()]


async def _delete(session: AsyncSession, *conditions: ColumnElement[bool]) -> int:
    """Delete the documents matching ``conditions`` and their chunks (not left to a cascade SQLite may not
    enforce); how many documents went."""
    ids = list((await session.scalars(select(KnowledgeDocumentRow.id).where(*conditions))).all())
    if ids:
        await session.execute(delete(KnowledgeChunkRow).where(KnowledgeChunkRow.document_id.in_(ids)))
        await session.execute(delete(KnowledgeDocumentRow).where(KnowledgeDocumentRow.id.in_(ids)))
    return len(ids)


async def delete_document(session: AsyncSession, org_id: str, agent: str, document_id: int) -> bool:
    return (
        await _delete(
            session,
            KnowledgeDocumentRow.org_id == org_id,
            KnowledgeDocumentRow.agent == agent,
            KnowledgeDocumentRow.id == document_id,
        )
        > 0
    )


async def delete_agent_documents(session: AsyncSession, org_id: str, agent: str) -> int:
    return await _delete(session, KnowledgeDocumentRow.org_id == org_id, KnowledgeDocumentRow.agent == agent)


async def documents_version(session: AsyncSession, org_id: str, agent: str) -> str:
    """Which documents the agent has now, as a short key. Documents are never edited, only added and removed, and
    a removed document's id may be given again (SQLite reuses the highest), so each is named by id, name and
    content hash, and by the model its passages were embedded with (the same file may come back embedded): the key
    changes whenever what a search would read does."""
    query = (
        select(
            KnowledgeDocumentRow.id,
            KnowledgeDocumentRow.name,
            KnowledgeDocumentRow.sha256,
            KnowledgeDocumentRow.embedding_model,
        )
        .where(KnowledgeDocumentRow.org_id == org_id, KnowledgeDocumentRow.agent == agent)
        .order_by(KnowledgeDocumentRow.id)
    )
    rows = (await session.execute(query)).all()
    described = "\n".join(f"{row.id}\t{row.name}\t{row.sha256}\t{row.embedding_model or ''}" for row in rows)
    return hashlib.sha256(described.encode()).hexdigest()


async def chunks_of(
    session: AsyncSession, org_id: str, agent: str
) -> list[tuple[str, str, str, str | None, bytes | None]]:
    """Every chunk of the agent's documents as (document name, section, text, embedding model, embedding)."""
    query = (
        select(
            KnowledgeDocumentRow.name,
            KnowledgeChunkRow.section,
            KnowledgeChunkRow.text,
            KnowledgeDocumentRow.embedding_model,
            KnowledgeChunkRow.embedding,
        )
        .join(KnowledgeChunkRow, KnowledgeChunkRow.document_id == KnowledgeDocumentRow.id)
        .where(KnowledgeDocumentRow.org_id == org_id, KnowledgeDocumentRow.agent == agent)
        .order_by(KnowledgeDocumentRow.id, KnowledgeChunkRow.seq)
    )
    rows = (await session.execute(query)).all()
    return [(name, section, text, model, embedding) for name, section, text, model, embedding in rows]
