"""Deterministic orchestration only: no I/O here, every side effect is an activity."""
