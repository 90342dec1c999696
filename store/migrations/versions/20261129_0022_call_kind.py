"""A call's kind (issue 17, item 2): a phone call through Twilio, or the dashboard's web call or text chat.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_calls") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="phone"))


def downgrade() -> None:
    with op.batch_alter_table("inbound_calls") as batch:
        batch.drop_column("kind")
