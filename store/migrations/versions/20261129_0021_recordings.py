"""Call recordings (issue 17, item 1): one row per file a call's egress wrote, with its length check.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("egress_id", sa.String(128), nullable=False),
        sa.Column("org_id", sa.String(64), nullable=True),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("storage", sa.String(16), nullable=False),
        sa.Column("location", sa.String(1024), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("call_seconds", sa.Float(), nullable=False),
        sa.Column("length_mismatch", sa.Boolean(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("egress_id", name=op.f("uq_recordings_egress_id")),
    )
    op.create_index("ix_recordings_call", "recordings", ["campaign_id", "external_id", "attempt"])


def downgrade() -> None:
    op.drop_index("ix_recordings_call", table_name="recordings")
    op.drop_table("recordings")
