"""Caller-ID pools: an organization's numbers grouped for its campaigns' calls, with daily caps, calls per
second and quarantine; each attempt records the number it showed (issue 15, item 3).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "caller_id_pools",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(64), server_default="default", nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("quarantine_min_dials", sa.Integer(), nullable=False),
        sa.Column("quarantine_fraction", sa.Float(), nullable=False),
        sa.Column("quarantine_hours", sa.Float(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caller_id_pools")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_caller_id_pools_org_id_name")),
    )
    op.create_index(op.f("ix_caller_id_pools_org_id"), "caller_id_pools", ["org_id"])
    op.create_table(
        "caller_ids",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("pool_id", _ID, nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("area_code", sa.String(8), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=False),
        sa.Column("calls_per_second", sa.Float(), nullable=False),
        sa.Column("usage_day", sa.Date(), nullable=True),
        sa.Column("dials_today", sa.Integer(), nullable=False),
        sa.Column("last_dial_at", _TIME, nullable=True),
        sa.Column("next_dial_at", _TIME, nullable=True),
        sa.Column("dials", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("quarantined_until", _TIME, nullable=True),
        sa.Column("quarantine_reason", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["caller_id_pools.id"], name=op.f("fk_caller_ids_pool_id_caller_id_pools"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["number"], ["phone_numbers.number"], name=op.f("fk_caller_ids_number_phone_numbers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caller_ids")),
        sa.UniqueConstraint("number", name=op.f("uq_caller_ids_number")),
    )
    op.create_index("ix_caller_ids_pool", "caller_ids", ["pool_id", "last_dial_at"])
    with op.batch_alter_table("call_attempts") as batch:
        batch.add_column(sa.Column("caller_id", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_column("caller_id")
    op.drop_index("ix_caller_ids_pool", table_name="caller_ids")
    op.drop_table("caller_ids")
    op.drop_index(op.f("ix_caller_id_pools_org_id"), table_name="caller_id_pools")
    op.drop_table("caller_id_pools")
