"""Retries by cause and the circuit breaker (issue 15): each attempt keeps Twilio's error code and its
result's class; a campaign that paused itself keeps why, and the attempts that tripped it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.add_column(sa.Column("error_code", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cause", sa.String(16), nullable=True))
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("pause_reason", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("tripped_by", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("tripped_by")
        batch.drop_column("pause_reason")
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_column("cause")
        batch.drop_column("error_code")
