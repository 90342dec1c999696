"""Compliance-grade dialling (issue 11): a contact's candidate zones and policy region, who listed a
do-not-call number, the number and organization of every dial (attempt caps count them), each
organization's calling policy and its changes, and the audit trail of dial decisions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("zones", _JSON, nullable=True))
        batch.add_column(sa.Column("region", sa.String(8), server_default="", nullable=False))
    with op.batch_alter_table("do_not_call") as batch:
        batch.add_column(sa.Column("source", sa.String(32), server_default="api", nullable=False))
        batch.add_column(sa.Column("source_ref", sa.String(255), server_default="", nullable=False))
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("calling_policy", _JSON, nullable=True))
    with op.batch_alter_table("call_attempts") as batch:
        batch.add_column(sa.Column("org_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(32), nullable=True))
        batch.create_index("ix_call_attempts_number", ["org_id", "phone", "started_at"])
    _number_earlier_attempts()
    op.create_table(
        "dial_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("org_id", sa.String(64), nullable=True),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("decided_at", _TIME, nullable=False),
        sa.Column("not_before", _TIME, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decision", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dial_decisions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_dial_decisions_idempotency_key")),
    )
    op.create_index("ix_dial_decisions_contact", "dial_decisions", ["campaign_id", "external_id", "decided_at"])
    op.create_table(
        "calling_policy_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("changed_at", _TIME, nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("policy", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calling_policy_changes")),
    )
    op.create_index("ix_calling_policy_changes_org_id", "calling_policy_changes", ["org_id"])


def _number_earlier_attempts() -> None:
    """Earlier dials count against the caps too: give each the number and organization of its contact."""
    contacts = sa.table("contacts", sa.column("campaign_id"), sa.column("external_id"), sa.column("phone"))
    campaigns = sa.table("campaigns", sa.column("id"), sa.column("org_id"))
    attempts = sa.table(
        "call_attempts", sa.column("campaign_id"), sa.column("external_id"), sa.column("phone"), sa.column("org_id")
    )
    same_contact = (contacts.c.campaign_id == attempts.c.campaign_id) & (
        contacts.c.external_id == attempts.c.external_id
    )
    op.execute(
        attempts.update().values(
            phone=sa.select(contacts.c.phone).where(same_contact).scalar_subquery(),
            org_id=sa.select(campaigns.c.org_id).where(campaigns.c.id == attempts.c.campaign_id).scalar_subquery(),
        )
    )


def downgrade() -> None:
    op.drop_index("ix_calling_policy_changes_org_id", table_name="calling_policy_changes")
    op.drop_table("calling_policy_changes")
    op.drop_index("ix_dial_decisions_contact", table_name="dial_decisions")
    op.drop_table("dial_decisions")
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_index("ix_call_attempts_number")
        batch.drop_column("phone")
        batch.drop_column("org_id")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("calling_policy")
    with op.batch_alter_table("do_not_call") as batch:
        batch.drop_column("source_ref")
        batch.drop_column("source")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("region")
        batch.drop_column("zones")
