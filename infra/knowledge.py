"""Reading an agent's documents into passages, and ranking those passages for a question.

Text comes from TXT and Markdown as they are and from PDF through ``pypdf``; it is cut at headings and
paragraphs into chunks of about ``CHUNK_CHARS``, each knowing its section (a Markdown heading, a PDF page), so a
search can name its source. Ranking is BM25 (``bm25s``) over the agent's chunks, in process: an index is built
once per (organization, agent, documents version) and kept, so a search on a call does not rebuild it.

With an embedder (the deployment has an OpenAI key, ``infra/embeddings.py``), chunks embedded with its model are
also ranked by the cosine of their vector and the question's, and the two rankings are fused by reciprocal rank
(``RRF_K``): a passage that answers in other words is found, and one that shares the exact words still counts.
Without one, or when the question cannot be embedded, the ranking is BM25 alone.
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

from infra.embeddings import Embedder, from_bytes
from schemas.knowledge import KnowledgeAnswer, KnowledgePassage, SearchKnowledge
from store import knowledge

CHUNK_CHARS = 800
OVERLAP_CHARS = 200
"""A chunk starts with the previous chunk's last paragraph when it is at most this long: a little overlap, so
an answer split across a chunk boundary is still found whole in one of them."""

INDEXES_KEPT = 64

RRF_K = 60
"""Reciprocal-rank fusion's constant: a passage scores the sum of 1 / (RRF_K + its rank) in each ranking."""
MIN_COSINE = 0.2
"""Below this a passage's meaning is too far from the question's for the semantic ranking to put it forward."""

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
    embedding_model: str | None = None
    embedding: bytes | None = None


def passage_text(document: str, section: str, text: str) -> str:
    """What a passage is indexed and embedded as: its text with its document's name and section."""
    return f"{document} {section} {text}"


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
    """BM25 over one agent's chunks, each indexed with its document's name and section; and the chunks'
    embeddings, by model, for a semantic ranking."""

    def __init__(self, chunks: Sequence[IndexedChunk]) -> None:
        self._chunks = list(chunks)
        self._retriever = bm25s.BM25()
        corpus = [tokens(passage_text(c.document, c.section, c.text)) or ["_"] for c in self._chunks]
        if corpus:
            self._retriever.index(corpus, show_progress=False)
        by_model: dict[str, list[int]] = {}
        for i, chunk in enumerate(self._chunks):
            if chunk.embedding_model and chunk.embedding:
                by_model.setdefault(chunk.embedding_model, []).append(i)
        self._vectors = {
            model: (np.array(rows), np.stack([from_bytes(self._chunks[i].embedding or b"") for i in rows]))
            for model, rows in by_model.items()
        }

    def embedded_with(self, model: str) -> bool:
        """Whether any chunk has an embedding from ``model`` (else a question's embedding would be of no use)."""
        return model in self._vectors

    def _bm25_ranking(self, query: str) -> tuple[list[int], np.ndarray]:
        """Chunks sharing a word with ``query``, best first, and every chunk's BM25 score."""
        known = [token for token in tokens(query) if token in self._retriever.vocab_dict]
        if not known:
            return [], np.zeros(len(self._chunks))
        scores = self._retriever.get_scores(known)
        return [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > 0], scores

    def _semantic_ranking(self, model: str, question: np.ndarray) -> list[int]:
        """Chunks embedded with ``model`` close enough in meaning to the question, best first."""
        if model not in self._vectors:
            return []
        rows, matrix = self._vectors[model]
        if matrix.shape[1] != question.shape[0]:
            return []
        cosines = matrix @ question
        return [int(rows[j]) for j in np.argsort(-cosines, kind="stable") if cosines[j] >= MIN_COSINE]

    def search(
        self, query: str, limit: int, *, model: str | None = None, question: np.ndarray | None = None
    ) -> list[KnowledgePassage]:
        """The best ``limit`` passages for ``query``, best first. By BM25 alone (none that share no word with it),
        or, given the question's embedding from ``model``, by BM25 and meaning fused by reciprocal rank."""
        if not self._chunks:
            return []
        bm25, scores = self._bm25_ranking(query)
        if model is None or question is None:
            return [self._passage(i, float(scores[i])) for i in bm25[:limit]]
        fused: dict[int, float] = {}
        for ranking in (bm25, self._semantic_ranking(model, question)):
            for rank, i in enumerate(ranking, start=1):
                fused[i] = fused.get(i, 0.0) + 1 / (RRF_K + rank)
        best = sorted(fused, key=lambda i: -fused[i])[:limit]
        return [self._passage(i, fused[i]) for i in best]

    def _passage(self, i: int, score: float) -> KnowledgePassage:
        chunk = self._chunks[i]
        return KnowledgePassage(document=chunk.document, section=chunk.section, text=chunk.text, score=round(score, 4))


_indexes: OrderedDict[tuple[str, str, str], KnowledgeIndex] = OrderedDict()


async def search_knowledge(
    session: AsyncSession, request: SearchKnowledge, embedder: Embedder | None = None
) -> KnowledgeAnswer:
    """The agent's best passages for the query; with ``embedder``, by words and meaning (see the module). The
    index is kept per (organization, agent, documents version): built on the first search after a document is
    added or removed, reused after; the least recently used of more than ``INDEXES_KEPT`` is dropped."""
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
    if embedder is not None and index.embedded_with(embedder.model):
        question = await embedder.try_embed([request.query])
        if question is not None:
            passages = index.search(request.query, request.limit, model=embedder.model, question=question[0])
            return KnowledgeAnswer(passages=passages)
    return KnowledgeAnswer(passages=index.search(request.query, request.limit))
