"""An index covering a campaign's contacts by state and final outcome, so the campaign's counts (its detail,
the campaign list, the event streams) are read from the index rather than the table; and shared information
in the order its list shows it, so a page of it stops after its rows instead of sorting them all (issue 14).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_contacts_campaign_tally", "contacts", ["campaign_id", "status", "final_outcome"])
    op.create_index("ix_shared_information_recent", "shared_information", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_shared_information_recent", table_name="shared_information")
    op.drop_index("ix_contacts_campaign_tally", table_name="contacts")
