"""``python -m worker``: run the Temporal worker against the configured server and database."""

import asyncio

from schemas.settings import get_settings
from worker.main import run_worker
from worker.observability import setup_observability

if __name__ == "__main__":
    setup_observability(get_settings(), "ringflow-worker")
    asyncio.run(run_worker())
