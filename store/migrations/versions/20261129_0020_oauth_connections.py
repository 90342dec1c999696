"""OAuth connections (issue 16, item 2): an organization's authorized access to a provider's API.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oauth_connections",
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("authorize_url", sa.String(2048), nullable=False),
        sa.Column("token_url", sa.String(2048), nullable=False),
        sa.Column("revoke_url", sa.String(2048), nullable=True),
        sa.Column("authorize_params", _JSON, nullable=False),
        sa.Column("client_id", sa.String(512), nullable=False),
        sa.Column("sealed_client_secret", sa.Text(), nullable=False),
        sa.Column("scopes", _JSON, nullable=False),
        sa.Column("sealed_access_token", sa.Text(), nullable=True),
        sa.Column("sealed_refresh_token", sa.Text(), nullable=True),
        sa.Column("expires_at", _TIME, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("pending_state", sa.String(128), nullable=True),
        sa.Column("sealed_code_verifier", sa.Text(), nullable=True),
        sa.Column("pending_until", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "name", name=op.f("pk_oauth_connections")),
        sa.UniqueConstraint("pending_state", name=op.f("uq_oauth_connections_pending_state")),
    )


def downgrade() -> None:
    op.drop_table("oauth_connections")
