"""The API served from inside a process that owns the event loop (``ringflow dev``, the demo, tests).

Uvicorn runs as a task of the running loop, so the app shares the process's Temporal client and
database pool. It leaves the signals alone: whoever owns the process stops it (Ctrl-C stops the dev
stack, which stops the API in its turn).
"""

import asyncio
import contextlib
from collections.abc import Generator
from typing import Any

import uvicorn

START_TIMEOUT_SECONDS = 10.0


class ApiServerError(RuntimeError):
    """The API could not start; the message says why."""


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class EmbeddedApiServer:
    """``await server.start()`` … ``await server.stop()``; ``port=0`` lets the OS pick a free port."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = _QuietServer(config)
        self._task: asyncio.Task[None] | None = None
        self._where = f"{host}:{port}"

    @property
    def url(self) -> str:
        """Where it listens, e.g. ``http://127.0.0.1:8000``."""
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def _serve(self) -> None:
        # Uvicorn ends a failed start with SystemExit, which a task would pass up through the loop.
        with contextlib.suppress(SystemExit):
            await self._server.serve()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if self._task.done() or loop.time() > deadline:
                await self.stop()
                raise ApiServerError(f"the API could not listen on {self._where} (is the port taken?)")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._server.should_exit = True
        await task
