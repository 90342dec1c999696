"""``python -m worker``: run the Temporal worker against the configured server and database."""

import asyncio

from infra.codec import CodecConfigError
from infra.observability import setup_observability
from schemas.settings import get_settings
from worker.main import run_worker

if __name__ == "__main__":
    setup_observability(get_settings(), "ringflow-worker")
    try:
        asyncio.run(run_worker())
    except CodecConfigError as err:  # no key: refuse in one line rather than run with PII in clear
        raise SystemExit(f"ringflow worker: {err}") from None
