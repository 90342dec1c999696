"""Uvicorn inside a process that owns the event loop and its signals: the worker's probes, the dev
stack's API and the tests' servers all run this way.

The listening socket is bound before uvicorn starts, so a port in use is one clear ``OSError`` rather
than uvicorn's ``SystemExit``; Ctrl-C stops the owning process, which then stops the server.
"""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn


class _EmbeddedServer(uvicorn.Server):
    """Uvicorn as one task of a process that handles its own signals (Ctrl-C stops the process, not only this)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: Any, host: str, port: int, *, purpose: str = "HTTP") -> AsyncIterator[uvicorn.Server]:
    """Serve ``app`` while the block runs; the port is bound when the block starts (0 picks a free one)."""
    listener = _listen(host, port, purpose)
    # A short graceful shutdown: an open event stream (SSE) never ends by itself.
    config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=1)
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[listener]), name="ringflow.http")
    while not server.started:
        if task.done():
            task.result()  # it failed to start: raise why
            raise RuntimeError(f"the HTTP server on {host}:{port} stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        await task


def _listen(host: str, port: int, purpose: str) -> socket.socket:
    """The listening socket, bound here so that a port in use is one clear OSError (uvicorn would exit)."""
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle off (TCP_NODELAY) only on connections whose
    # socket says TCP, and with Nagle on every reply on a kept-alive connection waits ~40 ms for an ACK.
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as err:
        listener.close()
        raise OSError(err.errno, f"cannot listen on {host}:{port} for {purpose}: {err.strerror}") from None
    listener.listen()
    return listener


def bound_port(server: uvicorn.Server) -> int:
    """The port a started server listens on (the one picked when asked for 0)."""
    return server.servers[0].sockets[0].getsockname()[1]
