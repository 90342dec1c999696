"""Ringflow's HTTP API: REST /v1, Twilio webhooks, the codec server and the dashboard (``api.main``).

Importing this package loads nothing else, so the CLI can use :mod:`api.services` without FastAPI.
"""
