"""A local stand-in for OpenAI's embeddings endpoint (``POST /v1/embeddings``), for the knowledge tests: point an
``Embedder`` (``base_url``) at ``standin.base_url``; nothing leaves the machine.

Its vectors are a fixed function of the words: one dimension per concept below (a word of a concept adds one), so
"reimbursement" and "refund" are near in meaning while sharing no word, as a real model would have them. It
answers in ``float`` or ``base64`` as asked, records each request, and with ``failing`` set answers 500.
"""

import base64
import re
from types import TracebackType

import numpy as np
from aiohttp import web
from aiohttp.test_utils import TestServer

CONCEPTS: list[frozenset[str]] = [
    frozenset({"refund", "refunds", "refunded", "reimburse", "reimbursed", "reimbursement", "money", "payment"}),
    frozenset({"delivery", "deliver", "shipping", "ship", "express", "parcel", "arrive", "arrives", "post"}),
    frozenset({"warranty", "guarantee", "defects", "broken", "faulty", "claim"}),
    frozenset({"return", "returns", "returning", "unworn"}),
    frozenset({"exchange", "exchanges", "swap", "size", "colour"}),
]


def meaning(text: str) -> list[float]:
    vector = [0.0] * len(CONCEPTS) + [0.05]
    for word in re.findall(r"[a-z]+", text.lower()):
        for dimension, concept in enumerate(CONCEPTS):
            if word in concept:
                vector[dimension] += 1.0
    return vector


class EmbeddingsStandin:
    """``async with EmbeddingsStandin() as standin:`` serves ``POST /v1/embeddings`` on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[dict] = []
        self.failing = False
        self._server: TestServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({**body, "authorization": request.headers.get("Authorization", "")})
        if self.failing:
            return web.json_response({"error": {"message": "overloaded", "type": "server_error"}}, status=500)
        texts = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
        data = []
        for index, text in enumerate(texts):
            vector = meaning(text)
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
                data.append({"object": "embedding", "index": index, "embedding": encoded})
            else:
                data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(len(text.split()) for text in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def __aenter__(self) -> "EmbeddingsStandin":
        app = web.Application()
        app.router.add_post("/v1/embeddings", self._embeddings)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self.port = int(self._server.port or 0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None
