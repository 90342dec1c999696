"""Persistence of campaigns, contacts, dials, callbacks and outcomes (SQLAlchemy, SQLite or Postgres)."""
