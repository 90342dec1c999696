"""Inbound calls: the account's phone numbers (with the agent that answers each) and incoming calls.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "phone_numbers",
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("twilio_sid", sa.String(64), nullable=False),
        sa.Column("friendly_name", sa.String(256), nullable=False),
        sa.Column("agent_name", sa.String(100), nullable=True),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("number", name="pk_phone_numbers"),
    )
    op.create_table(
        "inbound_calls",
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("to_number", sa.String(32), nullable=False),
        sa.Column("from_number", sa.String(32), nullable=False),
        sa.Column("agent_name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _timestamp("started_at"),
        _timestamp("ended_at", nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("call_sid", name="pk_inbound_calls"),
    )
    op.create_index("ix_inbound_calls_to_number", "inbound_calls", ["to_number", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_calls_to_number", table_name="inbound_calls")
    op.drop_table("inbound_calls")
    op.drop_table("phone_numbers")
