"""One truth for every contact (issue 10): dispositions and network facts on attempts, idempotent
claims, one home for each outcome, and bulk-added contacts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

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


_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _contacts_attributes_table() -> sa.Table:
    return sa.table(
        "contacts", sa.column("id", sa.Integer()), sa.column("persona", sa.String()), sa.column("attributes", _JSON)
    )


def _dispositions_upgrade() -> None:
    """Attempts keep the network's facts (status, SIP code, machine detection) and the agent's disposition;
    they no longer carry a callback (the agent books callbacks through the workflow). A contact's
    ``persona`` (the simulator's) moves into its attributes, out of the domain's columns."""
    with op.batch_alter_table("call_attempts") as batch:
        batch.add_column(sa.Column("network_outcome", sa.String(32), nullable=True))
        batch.add_column(sa.Column("network_status", sa.String(32), server_default="", nullable=False))
        batch.add_column(sa.Column("status_code", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("answered_by", sa.String(32), server_default="", nullable=False))
        batch.add_column(sa.Column("disposition", sa.String(48), nullable=True))
        batch.add_column(sa.Column("disposition_reason", sa.Text(), server_default="", nullable=False))
        batch.drop_column("callback_at")
        batch.drop_column("callback_reason")
    # The outcome recorded so far was the carrier's verdict: it is the network outcome of those calls.
    op.execute("UPDATE call_attempts SET network_outcome = outcome")
    with op.batch_alter_table("inbound_calls") as batch:
        batch.add_column(sa.Column("outcome", sa.String(32), nullable=True))
        batch.add_column(sa.Column("disposition", sa.String(48), nullable=True))
    contacts = _contacts_attributes_table()
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(contacts.c.id, contacts.c.persona, contacts.c.attributes).where(contacts.c.persona.is_not(None))
    ).all()
    for row in rows:
        attributes = {**(row.attributes or {}), "persona": row.persona}
        bind.execute(sa.update(contacts).where(contacts.c.id == row.id).values(attributes=attributes))
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("persona")


def _dispositions_downgrade() -> None:
    with op.batch_alter_table("inbound_calls") as batch:
        batch.drop_column("disposition")
        batch.drop_column("outcome")
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("persona", sa.String(32), nullable=True))
    contacts = _contacts_attributes_table()
    bind = op.get_bind()
    for row in bind.execute(sa.select(contacts.c.id, contacts.c.attributes)).all():
        persona = (row.attributes or {}).get("persona")
        if persona is not None:
            bind.execute(sa.update(contacts).where(contacts.c.id == row.id).values(persona=str(persona)[:32]))
    with op.batch_alter_table("call_attempts") as batch:
        batch.add_column(sa.Column("callback_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("callback_reason", sa.Text(), server_default="", nullable=False))
        batch.drop_column("disposition_reason")
        batch.drop_column("disposition")
        batch.drop_column("answered_by")
        batch.drop_column("status_code")
        batch.drop_column("network_status")
    op.execute("UPDATE call_attempts SET outcome = COALESCE(outcome, network_outcome)")
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_column("network_outcome")


# ---- the ledger: claim keys, one home per outcome ------------------------------------------------


def _ledger_upgrade() -> None:
    """Contacts get the claim key that took them; the ``outcomes`` table folds into ``contacts``.

    ``contacts.final_outcome`` was already the outcome's home: the reason and the time it was
    decided move beside it, copied from ``outcomes`` before that table goes.
    """
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("claim_key", sa.String(255), nullable=True))
        batch.add_column(sa.Column("final_reason", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_contacts_claim_key", ["claim_key"])
    op.execute(
        """
        UPDATE contacts SET
            final_reason = COALESCE((SELECT o.reason FROM outcomes o
                WHERE o.campaign_id = contacts.campaign_id AND o.external_id = contacts.external_id), ''),
            finished_at = (SELECT o.decided_at FROM outcomes o
                WHERE o.campaign_id = contacts.campaign_id AND o.external_id = contacts.external_id)
        WHERE final_outcome IS NOT NULL
        """
    )
    op.drop_table("outcomes")


def _ledger_downgrade() -> None:
    op.create_table(
        "outcomes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("final_outcome", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outcomes"),
        sa.UniqueConstraint("campaign_id", "external_id", name="uq_outcomes_campaign_id_external_id"),
    )
    op.execute(
        """
        INSERT INTO outcomes (campaign_id, external_id, final_outcome, reason, attempts, decided_at)
        SELECT campaign_id, external_id, final_outcome, final_reason, attempts, COALESCE(finished_at, updated_at)
        FROM contacts WHERE final_outcome IS NOT NULL
        """
    )
    with op.batch_alter_table("contacts") as batch:
        batch.drop_index("ix_contacts_claim_key")
        batch.drop_column("finished_at")
        batch.drop_column("final_reason")
        batch.drop_column("claim_key")


# ---- contacts added in bulk ---------------------------------------------------------------------


def _bulk_upgrade() -> None:
    """Contacts remember the bulk import that wrote them, so an import the campaign refuses (it is
    ending) deletes exactly its own rows."""
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("import_batch", sa.String(32), nullable=True))
        batch.create_index("ix_contacts_import_batch", ["import_batch"])


def _bulk_downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_index("ix_contacts_import_batch")
        batch.drop_column("import_batch")
