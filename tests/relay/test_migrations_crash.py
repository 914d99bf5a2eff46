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
import subprocess
import sys
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


STARTER = """
import asyncio, sys
from relay.db import create_engine
from relay.migrations import migrate

async def main(url, schema):
    options = {}
    if schema != "-":
        options = {"connect_args": {"server_settings": {"search_path": schema}}}
    engine = create_engine(url, **options)
    async with engine.connect():
        pass  # connected: ready to migrate
    print("ready", flush=True)
    sys.stdin.readline()  # all at once, when the test says go
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    print("migrated", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _start_at_once(url: str, schema: str | None, count: int = 4) -> list[tuple[int, str]]:
    """``count`` processes migrate one database at the same moment; their exit codes and
    standard error."""
    root = Path(__file__).resolve().parents[2]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, url, schema or "-"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        return [(p.wait(timeout=60), p.communicate()[1]) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()


@pytest.mark.postgres
def test_relays_starting_at_once_on_postgresql_migrate_one_after_the_other() -> None:
    url = pg_url()
    _reach_pg_or_fail(url)
    schema = f"cs_mig_{uuid.uuid4().hex[:16]}"
    asyncio.run(_pg_admin(url, f'CREATE SCHEMA "{schema}"'))
    try:
        results = _start_at_once(url, schema)
        assert [code for code, _ in results] == [0] * len(results), results
        options = {"connect_args": {"server_settings": {"search_path": schema}}}

        async def revision() -> str | None:
            engine = create_engine(url, **options)
            try:
                return await current_revision(engine)
            finally:
                await engine.dispose()

        assert asyncio.run(revision()) == head_revision()
    finally:
        asyncio.run(_pg_admin(url, f'DROP SCHEMA "{schema}" CASCADE'))


def test_relays_starting_at_once_on_sqlite_migrate_one_after_the_other(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    results = _start_at_once(url, None)
    assert [code for code, _ in results] == [0] * len(results), results
    assert asyncio.run(current_revision(url)) == head_revision()
