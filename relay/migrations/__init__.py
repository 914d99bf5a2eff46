"""Alembic migrations of the relay's schema, applied in code when the relay starts.

No ``alembic.ini`` is needed: :func:`migrate` builds the configuration, pointing
``script_location`` at this package, and runs the revisions on the given engine.

An upgrade applies whole or not at all, and one process at a time:

- PostgreSQL has transactional DDL: the upgrade is one transaction, which first takes a
  transaction-scoped advisory lock (:data:`PG_MIGRATION_LOCK`), so several relays starting at
  once migrate one after the other (the later ones then find nothing to do);
- SQLite has transactional DDL too, but Python's sqlite3 module commits every ``CREATE`` on
  its own unless the transaction was begun explicitly. The upgrade's connection is therefore
  put in driver-level autocommit and issues ``BEGIN IMMEDIATE`` (which also takes the write
  lock, serialising concurrent migrators) and ``COMMIT`` itself.

tests/relay/test_migrations_crash.py stops the process after every DDL statement of every
upgrade path and checks that the next start succeeds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from relay.db.engine import create_engine

PG_MIGRATION_LOCK = 0x636C6F7365647365  # "closedse": pg_advisory_xact_lock key for migrations

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for this package; with ``connection``, env.py migrates on it."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def migrate(target: str | AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database at ``target`` (a URL or an engine) to ``revision``."""
    await _run(target, lambda config: command.upgrade(config, revision))


async def downgrade(target: str | AsyncEngine, revision: str) -> None:
    """Downgrade the database at ``target`` to ``revision`` (``"base"`` drops everything)."""
    await _run(target, lambda config: command.downgrade(config, revision))


def head_revision() -> str:
    """The newest revision shipped in this package."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("The relay ships no migrations.")
    return head


async def current_revision(target: str | AsyncEngine) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    engine, owned = _engine(target)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        if owned:
            await engine.dispose()


async def _run(target: str | AsyncEngine, action: object) -> None:
    engine, owned = _engine(target)

    def run(connection: Connection) -> None:
        action(alembic_config(connection))  # type: ignore[operator]

    try:
        if engine.dialect.name == "sqlite":
            await _run_sqlite(engine, run)
        else:
            async with engine.begin() as connection:
                await connection.exec_driver_sql(
                    f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"
                )
                await connection.run_sync(run)
    finally:
        if owned:
            await engine.dispose()


async def _run_sqlite(engine: AsyncEngine, run: Callable[[Connection], None]) -> None:
    async with engine.connect() as connection:
        # The driver begins nothing (and so commits no CREATE on its own); we begin and commit.
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            await connection.run_sync(run)
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.exec_driver_sql("ROLLBACK")
            raise
        await connection.exec_driver_sql("COMMIT")


def _engine(target: str | AsyncEngine) -> tuple[AsyncEngine, bool]:
    if isinstance(target, AsyncEngine):
        return target, False
    return create_engine(target), True
