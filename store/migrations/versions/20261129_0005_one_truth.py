"""One truth for every contact (issue 10): dispositions and network facts on attempts, idempotent
claims, one home for each outcome, and bulk-added contacts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401  (used by the sections below)
from alembic import op  # noqa: F401

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _dispositions_upgrade()
    _ledger_upgrade()
    _bulk_upgrade()


def downgrade() -> None:
    _bulk_downgrade()
    _ledger_downgrade()
    _dispositions_downgrade()


# ---- dispositions and network facts on attempts; persona into attributes -------------------------


def _dispositions_upgrade() -> None:
    pass


def _dispositions_downgrade() -> None:
    pass


# ---- the ledger: claim keys, one home per outcome ------------------------------------------------


def _ledger_upgrade() -> None:
    pass


def _ledger_downgrade() -> None:
    pass


# ---- contacts added in bulk ---------------------------------------------------------------------


def _bulk_upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_index("ix_contacts_import_batch")
        batch.drop_column("import_batch")


def _bulk_downgrade() -> None:
    """Contacts remember the bulk import that wrote them, so an import the campaign refuses (it is
    ending) deletes exactly its own rows."""
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("import_batch", sa.String(32), nullable=True))
        batch.create_index("ix_contacts_import_batch", ["import_batch"])
