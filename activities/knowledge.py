"""The knowledge activity: search an agent's documents for a question asked on a call."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from infra.embeddings import Embedder
from infra.knowledge import search_knowledge
from schemas.knowledge import SEARCH_KNOWLEDGE_ACTIVITY, KnowledgeAnswer, SearchKnowledge


class KnowledgeActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], embedder: Embedder | None = None) -> None:
        self._sessions = sessions
        self._embedder = embedder

    @activity.defn(name=SEARCH_KNOWLEDGE_ACTIVITY)
    async def search_knowledge(self, request: SearchKnowledge) -> KnowledgeAnswer:
        """The best passages of the agent's documents, each naming its source; none when it has no documents. By
        words and meaning when the deployment embeds (it has an OpenAI key), by words alone otherwise."""
        async with self._sessions() as session:
            return await search_knowledge(session, request, self._embedder)
