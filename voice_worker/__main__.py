"""``python -m voice_worker start|dev|console``: the live LiveKit voice worker."""

from livekit.agents import cli

from voice_worker.entry import worker_options

if __name__ == "__main__":
    cli.run_app(worker_options())
