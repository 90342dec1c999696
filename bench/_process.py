"""Child processes of the benchmarks: the deployed worker in a process of its own, and its memory.

A bench that reports a process's memory runs it as a child, so the bench's own memory (the client,
the contact lists it seeds, the dev server's handle) is not counted. ``/proc`` is Linux only.
"""

import asyncio
import os
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
READY_SECONDS = 180.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status: memory figures need Linux")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (``VmHWM``), in MiB."""
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """The process's resident memory now (``VmRSS``), in MiB."""
    return _status_mb(pid, "VmRSS")


@asynccontextmanager
async def worker_process(
    *, temporal_address: str, database_url: str, codec_keys: str, task_queue: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m worker`` (what ``ringflow worker`` and the compose stack run) on the sim carrier with
    instant calls, until it answers ``/readyz``; terminated on exit. Its log goes to a temporary file,
    shown if it fails to start.

    It runs from a temporary directory, which is also its data dir, so no ``.env`` or ``.ringflow/``
    of the checkout changes what is measured.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ringflow-bench-worker-") as folder:
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "DATABASE_URL": database_url,
            "RINGFLOW_DATA_DIR": folder,
            "RINGFLOW_TEMPORAL_ADDRESS": temporal_address,
            "RINGFLOW_TASK_QUEUE": task_queue,
            "RINGFLOW_CODEC_KEYS": codec_keys,
            "RINGFLOW_CARRIER": "sim",
            "RINGFLOW_SIM_TIME_SCALE": "0",
            "RINGFLOW_WORKER_HTTP_PORT": str(port),
        }
        log_path = Path(folder) / "worker.log"
        with log_path.open("wb") as log:
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "worker", cwd=folder, env=environment, stdout=log, stderr=log
            )
        try:
            await _until_ready(worker, port, log_path)
            yield worker
        finally:
            if worker.returncode is None:
                worker.terminate()
                await worker.wait()


async def _until_ready(worker: asyncio.subprocess.Process, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        while time.monotonic() < deadline and worker.returncode is None:
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the worker never became ready (exit code {worker.returncode}):\n{_tail(log_path)}")


def _tail(log_path: Path, characters: int = 3000) -> str:
    return log_path.read_text(errors="replace")[-characters:]
