"""Number hygiene (issue 13, item 4): a contact's extension, kept to be sent as DTMF once the call is answered.

The organization's number rules need no column: they live in its calling policy (``CallingPolicy.numbers``),
whose JSON a policy stored before them reads with the defaults.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("extension", sa.String(16), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("extension")
