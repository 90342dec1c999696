"""Indexes for the contact and call lists' keyset (cursor) pages, so a page is an index range at any size
(issue 14).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_contacts_recent", "contacts", ["updated_at", "id"])
    op.create_index("ix_contacts_campaign_recent", "contacts", ["campaign_id", "updated_at", "id"])
    op.create_index("ix_call_attempts_started", "call_attempts", ["started_at"])
    op.create_index("ix_inbound_calls_org_started", "inbound_calls", ["org_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_calls_org_started", table_name="inbound_calls")
    op.drop_index("ix_call_attempts_started", table_name="call_attempts")
    op.drop_index("ix_contacts_campaign_recent", table_name="contacts")
    op.drop_index("ix_contacts_recent", table_name="contacts")
