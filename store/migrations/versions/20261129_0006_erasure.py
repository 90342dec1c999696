"""Erasure of one person (issue 11): the per-workflow data keys that seal a person's payloads in
Temporal, destroyed when the person is erased (crypto-shredding).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payload_data_keys",
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("wrapping_key_id", sa.String(64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_payload_data_keys")),
        sa.UniqueConstraint("workflow_id", name=op.f("uq_payload_data_keys_workflow_id")),
    )


def downgrade() -> None:
    op.drop_table("payload_data_keys")
