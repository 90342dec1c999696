"""An agent's knowledge base: the documents it answers from, and the passages a search finds in them.

The documents and their chunks live in the store (``store/knowledge.py``); the agent reaches them through the
``search_knowledge`` tool, an update on the call's workflow that runs the ``search_knowledge`` activity.
"""

from datetime import datetime

from pydantic import BaseModel, Field

SEARCH_KNOWLEDGE_ACTIVITY = "search_knowledge"

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
"""An upload larger than this is refused (413): a knowledge base is policies and FAQs, not archives."""

MEDIA_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown", ".pdf": "application/pdf"}
"""The document types an agent can learn from, by file extension; the one place a new type is added."""

PASSAGES_PER_ANSWER = 3
PASSAGE_MAX_CHARS = 1000
"""What the model is told per search: the best few passages, each capped, so a reply stays small."""

QUERY_MAX_LENGTH = 500


class KnowledgeQuery(BaseModel):
    query: str = Field(min_length=1, max_length=QUERY_MAX_LENGTH, description="A question, in the caller's words")


class SearchKnowledge(BaseModel):
    """The ``search_knowledge`` activity's input: whose documents, and what to look for."""

    org_id: str
    agent: str
    query: str
    limit: int = PASSAGES_PER_ANSWER


class KnowledgePassage(BaseModel):
    document: str = Field(description="The document's name, as uploaded")
    section: str = Field(description="Where in it: a Markdown heading, a PDF page ('page 2'), or a part number")
    text: str
    score: float

    @property
    def source(self) -> str:
        return f"{self.document}, {self.section}" if self.section else self.document


class KnowledgeAnswer(BaseModel):
    passages: list[KnowledgePassage] = Field(default_factory=list)

    def reply(self) -> str:
        """What the model is told: each passage prefixed by its source, so it can say where an answer is from."""
        if not self.passages:
            return "Nothing in the knowledge base answers that. Say you don't know and offer to find out."
        return "\n\n".join(f"[{passage.source}] {passage.text[:PASSAGE_MAX_CHARS]}" for passage in self.passages)


class KnowledgeDocumentOut(BaseModel):
    id: int
    agent: str
    name: str
    media_type: str
    size: int
    sha256: str
    chunks: int
    created_at: datetime


class KnowledgeDocumentList(BaseModel):
    items: list[KnowledgeDocumentOut]
