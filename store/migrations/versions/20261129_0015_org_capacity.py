"""Organization capacity (issue 15, item 4): an organization's cap on calls at once and its inbound reserve,
the lease of each line in use, and the campaigns lately refused a line (the fair share's waiting ones).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("max_concurrent_calls", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("inbound_reserve", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "line_leases",
        sa.Column("lease_key", sa.String(255), nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=True),
        sa.Column("acquired_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("lease_key", name=op.f("pk_line_leases")),
    )
    op.create_index("ix_line_leases_org_expires", "line_leases", ["org_id", "expires_at"])
    op.create_table(
        "line_asks",
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "campaign_id", name=op.f("pk_line_asks")),
    )


def downgrade() -> None:
    op.drop_table("line_asks")
    op.drop_index("ix_line_leases_org_expires", table_name="line_leases")
    op.drop_table("line_leases")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("inbound_reserve")
        batch.drop_column("max_concurrent_calls")
