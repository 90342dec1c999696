"""Organizations: API keys, the do-not-call list, and an owning organization on campaigns, agents,
phone numbers and inbound calls. Existing rows go to the ``default`` organization, which the CLI uses.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_ORG_ID = "default"
OWNED_TABLES = ("campaigns", "phone_numbers", "inbound_calls")


def _timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _org_id(primary_key: bool = False) -> sa.Column[object]:
    return sa.Column("org_id", sa.String(64), nullable=False, server_default=DEFAULT_ORG_ID, primary_key=primary_key)


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_organizations"),
    )
    # The owner of every row made before organizations existed, and of everything the CLI makes.
    organizations = sa.table(
        "organizations", sa.column("id", sa.String), sa.column("name", sa.String), sa.column("created_at", sa.DateTime)
    )
    op.bulk_insert(organizations, [{"id": DEFAULT_ORG_ID, "name": "Default", "created_at": datetime.now(UTC)}])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("label", sa.String(256), nullable=False),
        _timestamp("created_at"),
        _timestamp("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_org_id", "api_keys", ["org_id"])
    op.create_table(
        "do_not_call",
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("org_id", "phone", name="pk_do_not_call"),
    )
    for table in OWNED_TABLES:
        op.add_column(table, _org_id())
        op.create_index(f"ix_{table}_org_id", table, ["org_id"])
    op.add_column("campaigns", sa.Column("agent_name", sa.String(100), nullable=True))
    # Agent names become unique per organization rather than globally.
    with op.batch_alter_table("agents", recreate="always") as batch:
        batch.add_column(_org_id())
        batch.drop_constraint("pk_agents", type_="primary")
        batch.create_primary_key("pk_agents", ["org_id", "name"])


def downgrade() -> None:
    with op.batch_alter_table("agents", recreate="always") as batch:
        batch.drop_constraint("pk_agents", type_="primary")
        batch.drop_column("org_id")
        batch.create_primary_key("pk_agents", ["name"])
    op.drop_column("campaigns", "agent_name")
    for table in OWNED_TABLES:
        op.drop_index(f"ix_{table}_org_id", table_name=table)
        op.drop_column(table, "org_id")
    op.drop_table("do_not_call")
    op.drop_index("ix_api_keys_org_id", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("organizations")
