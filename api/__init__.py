"""Ringflow's HTTP API: Twilio's voice webhooks for inbound calls."""

from api.main import create_app

__all__ = ["create_app"]
