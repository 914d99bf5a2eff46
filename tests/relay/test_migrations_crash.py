"""Migrations survive a crash: stopped after every DDL statement, the next start succeeds.

For a first start and for the upgrade from every earlier revision, on SQLite and PostgreSQL:
a child process (forked, so that each of the many runs costs milliseconds) runs the upgrade
and SIGKILLs itself right after its k-th schema or version statement, for k = 1, 2, ... until
an upgrade gets to its end; after every kill a normal start (upgrade to head) must succeed and
leave exactly the schema that an uninterrupted upgrade leaves.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect

from relay.db import create_engine
from relay.migrations import alembic_config, current_revision, head_revision, migrate
from tests.relay.conftest import _pg_admin, _reach_pg_or_fail, pg_url

COUNTED = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE")
REVISIONS = [
    s.revision
    for s in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))
]


class Database:
    """A fresh database per run: a SQLite file, or a PostgreSQL schema."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend, self.tmp_path, self.runs = backend, tmp_path, 0
        self.schema: str | None = None
        if backend == "postgresql":
            _reach_pg_or_fail(pg_url())

    def fresh(self) -> None:
        self.drop()
        self.runs += 1
        if self.backend == "sqlite":
            self.url = f"sqlite+aiosqlite:///{self.tmp_path / f'run{self.runs}.db'}"
            self.options: dict[str, Any] = {}
        else:
            self.url = pg_url()
            self.schema = f"cs_mig_{uuid.uuid4().hex[:16]}"
            asyncio.run(_pg_admin(self.url, f'CREATE SCHEMA "{self.schema}"'))
            self.options = {"connect_args": {"server_settings": {"search_path": self.schema}}}

    def drop(self) -> None:
        if self.schema is not None:
            asyncio.run(_pg_admin(pg_url(), f'DROP SCHEMA "{self.schema}" CASCADE'))
            self.schema = None

    def engine(self) -> Any:
        return create_engine(self.url, **self.options)


async def _upgrade(db: Database, revision: str, kill_after: int = 0) -> None:
    engine = db.engine()
    seen = 0

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal seen
        if statement.lstrip().upper().startswith(COUNTED):
            seen += 1
            if seen == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    event.listen(engine.sync_engine, "after_cursor_execute", after)
    try:
        await migrate(engine, revision)
    finally:
        await engine.dispose()


def _killed_upgrade(db: Database, revision: str, kill_after: int) -> bool:
    """Upgrade in a child stopped after statement ``kill_after``; True if it was stopped."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            asyncio.run(_upgrade(db, revision, kill_after))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, "the upgrade failed on its own"
    return False


async def _schema(db: Database) -> tuple[str | None, dict[str, Any]]:
    engine = db.engine()
    try:
        async with engine.connect() as conn:

            def read(sync: Any) -> dict[str, Any]:
                found = inspect(sync)
                return {
                    table: (
                        sorted(c["name"] for c in found.get_columns(table)),
                        sorted(str(i["name"]) for i in found.get_indexes(table)),
                    )
                    for table in sorted(found.get_table_names())
                }

            return await current_revision(engine), await conn.run_sync(read)
    finally:
        await engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_migration_stopped_after_any_ddl_statement_is_redone_by_the_next_start(
    backend: str, tmp_path: Path
) -> None:
    db = Database(backend, tmp_path)
    try:
        db.fresh()
        asyncio.run(_upgrade(db, "head"))
        expected = asyncio.run(_schema(db))
        assert expected[0] == head_revision()
        # None: a first start on an empty database; then an upgrade from every revision.
        for start in [None, *REVISIONS[:-1]]:
            kills = 0
            for k in range(1, 200):
                db.fresh()
                if start is not None:
                    asyncio.run(_upgrade(db, start))
                stopped = _killed_upgrade(db, "head", k)
                if stopped:
                    kills += 1
                    # What the crash left: the revision it started from, nothing half-done.
                    assert asyncio.run(current_revision(db.engine())) == start, (start, k)
                asyncio.run(_upgrade(db, "head"))  # the normal start after the crash
                assert asyncio.run(_schema(db)) == expected, (start, k)
                if not stopped:
                    break
            assert kills >= 2, f"the upgrade from {start} was never stopped"
    finally:
        db.drop()


@pytest.mark.postgres
def test_relays_starting_at_once_on_postgresql_migrate_one_after_the_other() -> None:
    url = pg_url()
    _reach_pg_or_fail(url)
    schema = f"cs_mig_{uuid.uuid4().hex[:16]}"
    asyncio.run(_pg_admin(url, f'CREATE SCHEMA "{schema}"'))
    options = {"connect_args": {"server_settings": {"search_path": schema}}}

    async def run() -> tuple[list[Any], str | None]:
        engines = [create_engine(url, **options) for _ in range(6)]
        try:
            results = await asyncio.gather(*(migrate(e) for e in engines), return_exceptions=True)
            return results, await current_revision(engines[0])
        finally:
            for engine in engines:
                await engine.dispose()

    try:
        results, revision = asyncio.run(run())
        assert [r for r in results if r is not None] == []
        assert revision == head_revision()
    finally:
        asyncio.run(_pg_admin(url, f'DROP SCHEMA "{schema}" CASCADE'))


def test_relays_starting_at_once_on_sqlite_migrate_one_after_the_other(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"

    async def run() -> list[Any]:
        engines = [create_engine(url) for _ in range(6)]
        try:
            return await asyncio.gather(*(migrate(e) for e in engines), return_exceptions=True)
        finally:
            for engine in engines:
                await engine.dispose()

    assert [r for r in asyncio.run(run()) if r is not None] == []
    assert asyncio.run(current_revision(url)) == head_revision()
