"""Initial schema: campaigns, contacts, call attempts, callbacks, outcomes.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("persona", sa.String(32), nullable=True),
        sa.Column("attributes", JSON, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        _timestamp("dispatched_at", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("final_outcome", sa.String(32), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_contacts_campaign_id_campaigns", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.UniqueConstraint("campaign_id", "external_id", name="uq_contacts_campaign_id_external_id"),
    )
    op.create_index("ix_contacts_claim", "contacts", ["campaign_id", "dispatched_at", "priority", "seq"])
    op.create_table(
        "call_attempts",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _timestamp("started_at"),
        _timestamp("ended_at", nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("carrier_call_id", sa.String(128), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        _timestamp("dialled_at", nullable=True),
        _timestamp("callback_at", nullable=True),
        sa.Column("callback_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_attempts"),
        sa.UniqueConstraint("idempotency_key", name="uq_call_attempts_idempotency_key"),
    )
    op.create_index("ix_call_attempts_contact", "call_attempts", ["campaign_id", "external_id"])
    op.create_table(
        "callbacks",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        _timestamp("requested_for"),
        _timestamp("scheduled_for"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_callbacks"),
    )
    op.create_index("ix_callbacks_contact", "callbacks", ["campaign_id", "external_id", "status"])
    op.create_index(
        "uq_callbacks_one_scheduled",
        "callbacks",
        ["campaign_id", "external_id"],
        unique=True,
        sqlite_where=sa.text("status = 'scheduled'"),
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    op.create_table(
        "outcomes",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("final_outcome", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _timestamp("decided_at"),
        sa.PrimaryKeyConstraint("id", name="pk_outcomes"),
        sa.UniqueConstraint("campaign_id", "external_id", name="uq_outcomes_campaign_id_external_id"),
    )


def downgrade() -> None:
    op.drop_table("outcomes")
    op.drop_index("uq_callbacks_one_scheduled", table_name="callbacks")
    op.drop_index("ix_callbacks_contact", table_name="callbacks")
    op.drop_table("callbacks")
    op.drop_index("ix_call_attempts_contact", table_name="call_attempts")
    op.drop_table("call_attempts")
    op.drop_index("ix_contacts_claim", table_name="contacts")
    op.drop_table("contacts")
    op.drop_table("campaigns")
