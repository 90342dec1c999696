"""Reading an agent's documents into passages, and ranking those passages for a question.

Text comes from TXT and Markdown as they are and from PDF through ``pypdf``; it is cut at headings and
paragraphs into chunks of about ``CHUNK_CHARS``, each knowing its section (a Markdown heading, a PDF page), so a
search can name its source. Ranking is BM25 (``bm25s``) over the agent's chunks, in process: an index is built
once per (organization, agent, documents version) and kept, so a search on a call does not rebuild it.
"""

import asyncio
import io
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.knowledge import KnowledgeAnswer, KnowledgePassage, SearchKnowledge
from store import knowledge

CHUNK_CHARS = 800
OVERLAP_CHARS = 200
"""A chunk starts with the previous chunk's last paragraph when it is at most this long: a little overlap, so
an answer split across a chunk boundary is still found whole in one of them."""

INDEXES_KEPT = 64

HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(STOPWORDS_EN)


class UnreadableDocumentError(ValueError):
    """The file is not what its type says, or holds no text; ``str()`` is a sentence for a 4xx."""


@dataclass(frozen=True)
class Chunk:
    section: str
    text: str


@dataclass(frozen=True)
class IndexedChunk:
    document: str
    section: str
    text: str


def extract_sections(data: bytes, media_type: str) -> list[tuple[str, str]]:
    """The document's text as (section, text) pairs: one per PDF page, the whole text otherwise. NUL characters
    are dropped (Postgres stores no NUL in text)."""
    if media_type == "application/pdf":
        try:
            pages = PdfReader(io.BytesIO(data)).pages
            texts = [(f"page {number}", page.extract_text() or "") for number, page in enumerate(pages, start=1)]
        except (PyPdfError, ValueError, OSError) as err:
            raise UnreadableDocumentError(f"the PDF could not be read: {err}") from None
        return [(section, text.replace("\x00", "")) for section, text in texts]
    try:
        return [("", data.decode("utf-8-sig").replace("\x00", ""))]
    except UnicodeDecodeError:
        raise UnreadableDocumentError("the file is not UTF-8 text") from None


def _paragraphs(text: str, markdown: bool, section: str) -> list[tuple[str, str]]:
    """(section, paragraph) pairs; in Markdown a heading starts a section named after it."""
    found: list[tuple[str, str]] = []
    lines: list[str] = []

    def close() -> None:
        paragraph = " ".join(line.strip() for line in lines if line.strip())
        if paragraph:
            found.append((section, paragraph))
        lines.clear()

    for line in text.splitlines():
        heading = HEADING.match(line) if markdown else None
        if heading:
            close()
            section = heading.group(2)
        elif not line.strip():
            close()
        else:
            lines.append(line)
    close()
    return found


def _pieces(paragraph: str) -> list[str]:
    """A paragraph longer than a chunk, cut at sentence ends (and a sentence longer than that, by length)."""
    if len(paragraph) <= CHUNK_CHARS:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for sentence in SENTENCE_END.split(paragraph):
        while len(sentence) > CHUNK_CHARS:
            pieces.append(sentence[:CHUNK_CHARS])
            sentence = sentence[CHUNK_CHARS:]
        if current and len(current) + 1 + len(sentence) > CHUNK_CHARS:
            pieces.append(current)
            current = ""
        current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


def chunk_document(data: bytes, media_type: str) -> list[Chunk]:
    """The document in chunks of up to about ``CHUNK_CHARS``, never across a section, in reading order."""
    markdown = media_type == "text/markdown"
    chunks: list[Chunk] = []
    for page_section, text in extract_sections(data, media_type):
        current: list[str] = []
        current_section = page_section
        for section, paragraph in _paragraphs(text, markdown, page_section):
            for piece in _pieces(paragraph):
                size = sum(len(part) + 1 for part in current)
                if current and (section != current_section or size + len(piece) > CHUNK_CHARS):
                    chunks.append(Chunk(current_section, "\n".join(current)))
                    carried = current[-1] if section == current_section and len(current[-1]) <= OVERLAP_CHARS else None
                    current = [carried] if carried and len(carried) + len(piece) < CHUNK_CHARS else []
                current_section = section
                current.append(piece)
        if current:
            chunks.append(Chunk(current_section, "\n".join(current)))
    if not chunks:
        raise UnreadableDocumentError("the document holds no text to learn from")
    return chunks


def _stem(word: str) -> str:
    """A light English stemmer, so 'returns', 'returned' and 'returning' meet, as do 'damage' and 'damaged' or
    'ship' and 'shipping': common endings and a final 'e' go, then a doubled last consonant is halved."""
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    return word


def tokens(text: str) -> list[str]:
    return [_stem(word) for word in WORD.findall(text.lower()) if word not in STOPWORDS]


class KnowledgeIndex:
    """BM25 over one agent's chunks; each chunk is indexed with its document's name and section."""

    def __init__(self, chunks: Sequence[IndexedChunk]) -> None:
        self._chunks = list(chunks)
        self._retriever = bm25s.BM25()
        corpus = [tokens(f"{c.document} {c.section} {c.text}") or ["_"] for c in self._chunks]
        if corpus:
            self._retriever.index(corpus, show_progress=False)

    def search(self, query: str, limit: int) -> list[KnowledgePassage]:
        """The best ``limit`` passages for ``query``, best first; none that share no word with it."""
        if not self._chunks:
            return []
        known = [token for token in tokens(query) if token in self._retriever.vocab_dict]
        if not known:
            return []
        scores = self._retriever.get_scores(known)
        best = np.argsort(-scores, kind="stable")[:limit]
        return [
            KnowledgePassage(
                document=self._chunks[i].document,
                section=self._chunks[i].section,
                text=self._chunks[i].text,
                score=round(float(scores[i]), 4),
            )
            for i in best
            if scores[i] > 0
        ]


_indexes: OrderedDict[tuple[str, str, str], KnowledgeIndex] = OrderedDict()


async def search_knowledge(session: AsyncSession, request: SearchKnowledge) -> KnowledgeAnswer:
    """The agent's best passages for the query. The index is kept per (organization, agent, documents version):
    built on the first search after a document is added or removed, reused after; the least recently used of
    more than ``INDEXES_KEPT`` is dropped."""
    version = await knowledge.documents_version(session, request.org_id, request.agent)
    key = (request.org_id, request.agent, version)
    index = _indexes.get(key)
    if index is None:
        chunks = await knowledge.chunks_of(session, request.org_id, request.agent)
        # Indexing a large knowledge base takes a moment the event loop must not spend.
        index = _indexes[key] = await asyncio.to_thread(KnowledgeIndex, [IndexedChunk(*chunk) for chunk in chunks])
        while len(_indexes) > INDEXES_KEPT:
            _indexes.popitem(last=False)
    _indexes.move_to_end(key)
    return KnowledgeAnswer(passages=index.search(request.query, request.limit))
