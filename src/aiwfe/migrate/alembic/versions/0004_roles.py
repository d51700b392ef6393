"""Roles instead of the admin flag: `users.role` (viewer, member, admin), plus the forced
password change an admin's reset sets, and `updated_at`.

`session_version`: tokens carry it; a password change or reset bumps it, refusing the
tokens issued before (the other sessions end).

Upgrade: is_admin -> role 'admin', everyone else 'member' (what they could do before: write
their own data). Downgrade: role 'admin' -> is_admin, viewers and members lose the
difference (a viewer becomes an ordinary user again: the old schema has no read-only role).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("role", sa.String(16), nullable=False, server_default="member")
    )
    op.execute("UPDATE users SET role = CASE WHEN is_admin THEN 'admin' ELSE 'member' END")
    op.create_check_constraint("ck_users_role", "users", "role IN ('viewer', 'member', 'admin')")
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "users",
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.add_column(
        "users",
        sa.Column("session_version", sa.Integer, nullable=False, server_default="0"),
    )
    op.drop_column("users", "is_admin")


def downgrade() -> None:
    op.add_column(
        "users", sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.execute("UPDATE users SET is_admin = (role = 'admin')")
    op.drop_column("users", "session_version")
    op.drop_column("users", "updated_at")
    op.drop_column("users", "must_change_password")
    op.drop_constraint("ck_users_role", "users", type_="check")
    op.drop_column("users", "role")
