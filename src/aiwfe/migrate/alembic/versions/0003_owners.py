"""Owners of memories and feedback: each user sees only their own (admins see all).

Existing rows get an owner: feedback about a run belongs to the run's owner; everything
else (memories, feedback without a run) to the oldest admin, so no user suddenly sees
another's data and nothing becomes unreachable. pgvector rows get the owner in their
payload too; Qdrant points written before this revision carry no owner and are found only
by admins' recall (re-ingest them to give them an owner).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OLDEST_ADMIN = "(SELECT id FROM users WHERE is_admin ORDER BY created_at, id LIMIT 1)"


def upgrade() -> None:
    for table in ("memories", "feedback"):
        op.add_column(
            table,
            sa.Column(
                "owner_id",
                UUID(as_uuid=True),
                sa.ForeignKey("users.id", ondelete="CASCADE"),
                nullable=True,
            ),
        )
        op.create_index(f"ix_{table}_owner_created", table, ["owner_id", "created_at"])
    op.execute(
        "UPDATE feedback f SET owner_id = r.owner_id FROM workflow_runs r WHERE r.id = f.run_id"
    )
    op.execute(f"UPDATE feedback SET owner_id = {OLDEST_ADMIN} WHERE owner_id IS NULL")  # noqa: S608
    op.execute(f"UPDATE memories SET owner_id = {OLDEST_ADMIN} WHERE owner_id IS NULL")  # noqa: S608
    op.execute(
        "UPDATE memory_vectors v SET payload = v.payload || "
        "jsonb_build_object('owner', m.owner_id::text) FROM memories m "
        "WHERE m.id = v.id AND m.owner_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("UPDATE memory_vectors SET payload = payload - 'owner'")
    for table in ("memories", "feedback"):
        op.drop_index(f"ix_{table}_owner_created", table_name=table)
        op.drop_column(table, "owner_id")
