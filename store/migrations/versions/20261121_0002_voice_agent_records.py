"""The voice agent's records: agents, notes, shared information, transcript segments.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("name", name="pk_agents"),
    )
    op.create_table(
        "notes",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_notes"),
        sa.UniqueConstraint("idempotency_key", name="uq_notes_idempotency_key"),
    )
    op.create_index("ix_notes_contact", "notes", ["campaign_id", "external_id"])
    op.create_table(
        "shared_information",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("information", sa.Text(), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_shared_information"),
        sa.UniqueConstraint("idempotency_key", name="uq_shared_information_idempotency_key"),
    )
    op.create_index("ix_shared_information_contact", "shared_information", ["campaign_id", "external_id", "category"])
    op.create_table(
        "transcript_segments",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _timestamp("started_at"),
        _timestamp("ended_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_transcript_segments"),
        sa.UniqueConstraint(
            "campaign_id",
            "external_id",
            "attempt",
            "seq",
            name="uq_transcript_segments_campaign_id_external_id_attempt_seq",
        ),
    )


def downgrade() -> None:
    op.drop_table("transcript_segments")
    op.drop_index("ix_shared_information_contact", table_name="shared_information")
    op.drop_table("shared_information")
    op.drop_index("ix_notes_contact", table_name="notes")
    op.drop_table("notes")
    op.drop_table("agents")
