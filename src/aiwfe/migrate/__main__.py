"""aiwfe-migrate [upgrade|check|create-admin|downgrade REV|current]

upgrade (default)  alembic upgrade head, then create the admin user if
                   AIWFE_ADMIN_PASSWORD is set (idempotent: an existing admin is kept).
check              exit 0 only when the database is at head (init containers wait on it);
                   1 when behind or empty, 2 when the database is unreachable.
create-admin       only the admin user (AIWFE_ADMIN_USERNAME / AIWFE_ADMIN_PASSWORD), with
                   the role `admin`; more users are created through the API (/api/v1/users).
downgrade REV      alembic downgrade to REV (e.g. 0001, or -1): the rollback path.
current            print the database's revision.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from aiwfe.core.auth import Role, hash_password
from aiwfe.core.db import create_engine, is_unavailable, session_factory
from aiwfe.core.logging import configure_logging
from aiwfe.core.models import User
from aiwfe.core.settings import Settings, get_settings

log = structlog.get_logger("aiwfe.migrate")
SCRIPTS = Path(__file__).parent / "alembic"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    return config


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


async def current_revision(settings: Settings) -> str | None:
    engine = create_engine(settings, null_pool=True)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def create_admin(settings: Settings) -> bool:
    """Create the admin user when missing; returns True when created."""
    if settings.admin_password is None:
        log.info("AIWFE_ADMIN_PASSWORD not set: no admin user created")
        return False
    engine = create_engine(settings, null_pool=True)
    try:
        async with session_factory(engine)() as session, session.begin():
            existing = await session.scalar(
                select(User).where(User.username == settings.admin_username)
            )
            if existing is not None:
                log.info("admin user exists", username=settings.admin_username)
                return False
            session.add(
                User(
                    username=settings.admin_username,
                    password_hash=hash_password(settings.admin_password.get_secret_value()),
                    role=Role.ADMIN.value,
                )
            )
        log.info("admin user created", username=settings.admin_username)
        return True
    except IntegrityError:  # a concurrent migrator created it first: same outcome
        log.info("admin user exists", username=settings.admin_username)
        return False
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="aiwfe-migrate", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="upgrade",
        choices=["upgrade", "check", "create-admin", "downgrade", "current"],
    )
    parser.add_argument("revision", nargs="?", help="target revision for downgrade")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, "migrate")
    try:
        if args.command == "upgrade":
            command.upgrade(alembic_config(), "head")
            log.info("schema at head", revision=head())
            asyncio.run(create_admin(settings))
        elif args.command == "create-admin":
            asyncio.run(create_admin(settings))
        elif args.command == "downgrade":
            if not args.revision:
                parser.error("downgrade needs a revision, e.g. `aiwfe-migrate downgrade 0001`")
            command.downgrade(alembic_config(), args.revision)
            log.info("downgraded", revision=args.revision)
        elif args.command in ("check", "current"):
            current = asyncio.run(current_revision(settings))
            target = head()
            log.info("revision", current=current, head=target)
            if args.command == "current":
                print(current or "")
                return 0
            if current != target:
                log.warning("database not at head", current=current, head=target)
                return 1
    except Exception as exc:
        if is_unavailable(exc):
            log.error("database unreachable", error=str(exc)[:300])
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
