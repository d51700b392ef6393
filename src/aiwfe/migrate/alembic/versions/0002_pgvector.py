"""pgvector store: memory_vectors(embedding vector(AIWFE_EMBEDDING_DIM)) with an HNSW index.

The dimension is read from AIWFE_EMBEDDING_DIM when this revision runs; changing the
embedding model to another dimension means re-embedding (downgrade to 0001, upgrade again).
The `vector` extension is created when missing; on a managed database without the
privilege, create it once as superuser first (the bundled data-platform does).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from aiwfe.core.settings import get_settings

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dim = int(get_settings().embedding_dim)
    op.execute(
        "DO $$ BEGIN "
        "IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN "
        "CREATE EXTENSION vector; END IF; END $$"
    )
    op.execute(
        f"""
        CREATE TABLE memory_vectors (
            id uuid PRIMARY KEY,
            namespace varchar(100) NOT NULL,
            embedding vector({dim}) NOT NULL,
            payload jsonb NOT NULL DEFAULT '{{}}'
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_memory_vectors_embedding ON memory_vectors "
        "USING hnsw (embedding vector_cosine_ops)"
    )
    op.execute("CREATE INDEX ix_memory_vectors_namespace ON memory_vectors (namespace)")


def downgrade() -> None:
    op.execute("DROP TABLE memory_vectors")
