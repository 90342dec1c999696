"""``python -m worker``: run the Temporal worker against the configured server and database."""

import asyncio
import logging

from worker.main import run_worker

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_worker())
