"""The `ringflow` command."""

from cli.app import main

__all__ = ["main"]
