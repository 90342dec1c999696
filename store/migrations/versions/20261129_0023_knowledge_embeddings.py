"""Knowledge embeddings (issue 17, item 4): a document's embedding model and each chunk's vector.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("knowledge_documents") as batch:
        batch.add_column(sa.Column("embedding_model", sa.String(100), nullable=True))
    with op.batch_alter_table("knowledge_chunks") as batch:
        batch.add_column(sa.Column("embedding", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("knowledge_chunks") as batch:
        batch.drop_column("embedding")
    with op.batch_alter_table("knowledge_documents") as batch:
        batch.drop_column("embedding_model")
