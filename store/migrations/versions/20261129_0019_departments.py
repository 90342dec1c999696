"""Departments (issue 17): an organization's departments, and each route taken on a call.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("definition", _JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "name", name=op.f("pk_departments")),
    )
    op.create_table(
        "call_routes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("route_id", sa.String(255), nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("was_open", sa.Boolean(), nullable=False),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("callback_at", _TIME, nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_routes")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_call_routes_idempotency_key")),
    )
    op.create_index("ix_call_routes_call", "call_routes", ["campaign_id", "external_id", "attempt"])


def downgrade() -> None:
    op.drop_index("ix_call_routes_call", table_name="call_routes")
    op.drop_table("call_routes")
    op.drop_table("departments")
