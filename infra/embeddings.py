"""Embeddings of knowledge passages and questions, through OpenAI's embeddings endpoint (the official ``openai``
SDK), when the deployment has an OpenAI key (``RINGFLOW_OPENAI_API_KEY``; ``RINGFLOW_OPENAI_BASE_URL`` for another
OpenAI-compatible endpoint). Without one there is no embedder, and knowledge search is BM25 alone.

Vectors are L2-normalised float32, so a dot product is the cosine; the store keeps them as little-endian bytes.
An endpoint that fails is logged and answered with None: a document is still stored and searchable by its words.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from openai import AsyncOpenAI, OpenAIError

from schemas.settings import Settings

log = logging.getLogger(__name__)

EMBED_BATCH = 128
"""Passages per request: well inside the endpoint's limit of inputs and tokens for chunks of ~800 characters."""
EMBED_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class Embedder:
    """One deployment's embeddings: its key, endpoint and model. A client is opened per use, so an embedder may be
    shared across event loops (the API's, an activity's, a test's)."""

    api_key: str
    model: str
    base_url: str | None = None

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised row per text, in order. Raises ``openai.OpenAIError`` when the endpoint fails."""
        rows: list[list[float]] = []
        async with AsyncOpenAI(
            api_key=self.api_key, base_url=self.base_url, max_retries=1, timeout=EMBED_TIMEOUT_SECONDS
        ) as client:
            for start in range(0, len(texts), EMBED_BATCH):
                batch = list(texts[start : start + EMBED_BATCH])
                response = await client.embeddings.create(model=self.model, input=batch, encoding_format="float")
                rows.extend(item.embedding for item in sorted(response.data, key=lambda item: item.index))
        matrix = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms)

    async def try_embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """:meth:`embed`, or None (logged) when the endpoint fails: the caller carries on with words alone."""
        try:
            return await self.embed(texts)
        except (OpenAIError, ValueError) as err:
            log.warning("embeddings unavailable (%s, model %s): %s", self.base_url or "OpenAI", self.model, err)
            return None


def embedder_for(settings: Settings) -> Embedder | None:
    """The deployment's embedder when it has an OpenAI key, else None (BM25 only)."""
    if not settings.openai_api_key:
        return None
    return Embedder(
        api_key=settings.openai_api_key, model=settings.knowledge_embedding_model, base_url=settings.openai_base_url
    )


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")
