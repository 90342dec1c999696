"""An agent's knowledge base: add a document (TXT, Markdown, PDF), list, remove, and search as a call would.
The REST API (``/v1/agents/{name}/documents``, ``/knowledge/search``) and the CLI (``ringflow agent docs``) go
through here; the call's ``search_knowledge`` activity searches through the same ``infra.knowledge``. Given the
deployment's embedder (``infra.embeddings.embedder_for``: it has an OpenAI key), a document's passages are embedded
as it is added, and a search ranks by words and meaning together."""

import hashlib
from pathlib import PurePath

from sqlalchemy.ext.asyncio import AsyncSession

from api.services import audit
from infra.embeddings import Embedder, to_bytes
from infra.knowledge import UnreadableDocumentError, chunk_document, passage_text, search_knowledge
from schemas.knowledge import (
    MAX_DOCUMENT_BYTES,
    MEDIA_TYPES,
    KnowledgeAnswer,
    KnowledgeDocumentOut,
    SearchKnowledge,
)
from store import knowledge, queries

DOCUMENT_NAME_MAX_LENGTH = 255


class KnowledgeServiceError(Exception):
    """A request the service refuses; its sentence is the answer."""


class AgentNotFoundError(KnowledgeServiceError, LookupError):
    pass


class DocumentNotFoundError(KnowledgeServiceError, LookupError):
    pass


class DocumentConflictError(KnowledgeServiceError):
    pass


class UnsupportedDocumentError(KnowledgeServiceError):
    """Not a type the agent can learn from (415)."""


class DocumentTooLargeError(KnowledgeServiceError):
    """Larger than ``MAX_DOCUMENT_BYTES`` (413)."""


class InvalidDocumentError(KnowledgeServiceError, ValueError):
    """A file of a supported type that cannot be read, or with no text (422)."""


async def _require_agent(session: AsyncSession, org_id: str, agent: str) -> None:
    if await queries.get_agent(session, agent, org_id) is None:
        raise AgentNotFoundError(f"no agent named {agent!r}")


def media_type_of(name: str) -> str:
    """The document's type, by its extension; refused when it is not one an agent can learn from."""
    media_type = MEDIA_TYPES.get(PurePath(name).suffix.lower())
    if media_type is None:
        kinds = ", ".join(sorted(MEDIA_TYPES))
        raise UnsupportedDocumentError(f"{name}: an agent can learn from {kinds} files only")
    return media_type


async def add_document(
    session: AsyncSession,
    *,
    org_id: str,
    agent: str,
    name: str,
    data: bytes,
    actor: str,
    embedder: Embedder | None = None,
) -> KnowledgeDocumentOut:
    """Read, chunk and store one document of the agent's; it is searchable from the next search on. With an
    embedder its passages are embedded too; an embeddings endpoint that fails leaves them searchable by words."""
    await _require_agent(session, org_id, agent)
    name = PurePath(name.strip()).name
    if not name or len(name) > DOCUMENT_NAME_MAX_LENGTH:
        raise InvalidDocumentError(f"a document needs a file name of 1 to {DOCUMENT_NAME_MAX_LENGTH} characters")
    media_type = media_type_of(name)
    if len(data) > MAX_DOCUMENT_BYTES:
        limit_mb = MAX_DOCUMENT_BYTES // (1024 * 1024)
        raise DocumentTooLargeError(f"{name}: larger than the {limit_mb} MB a document may be")
    if await knowledge.document_named(session, org_id, agent, name) is not None:
        raise DocumentConflictError(f"agent {agent!r} already has a document named {name!r}: remove it first")
    try:
        chunks = chunk_document(data, media_type)
    except UnreadableDocumentError as err:
        raise InvalidDocumentError(f"{name}: {err}") from None
    vectors = None
    if embedder is not None:
        vectors = await embedder.try_embed([passage_text(name, chunk.section, chunk.text) for chunk in chunks])
    document = await knowledge.add_document(
        session,
        org_id=org_id,
        agent=agent,
        name=name,
        media_type=media_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        chunks=[(chunk.section, chunk.text) for chunk in chunks],
        embeddings=[to_bytes(vector) for vector in vectors] if vectors is not None else None,
        embedding_model=embedder.model if embedder is not None else None,
    )
    await audit.record(
        session, org_id=org_id, actor=actor, action="agent.document.add", target=agent, details={"document": name}
    )
    await session.commit()
    return document


async def list_documents(session: AsyncSession, *, org_id: str, agent: str) -> list[KnowledgeDocumentOut]:
    await _require_agent(session, org_id, agent)
    return await knowledge.list_documents(session, org_id, agent)


async def remove_document(session: AsyncSession, *, org_id: str, agent: str, document_id: int, actor: str) -> None:
    await _require_agent(session, org_id, agent)
    if not await knowledge.delete_document(session, org_id, agent, document_id):
        raise DocumentNotFoundError(f"agent {agent!r} has no document {document_id}")
    await audit.record(
        session,
        org_id=org_id,
        actor=actor,
        action="agent.document.remove",
        target=agent,
        details={"document_id": document_id},
    )
    await session.commit()


async def search(
    session: AsyncSession, *, org_id: str, agent: str, query: str, embedder: Embedder | None = None
) -> KnowledgeAnswer:
    """What the agent's ``search_knowledge`` tool would find for ``query`` on a call."""
    await _require_agent(session, org_id, agent)
    return await search_knowledge(session, SearchKnowledge(org_id=org_id, agent=agent, query=query), embedder)
