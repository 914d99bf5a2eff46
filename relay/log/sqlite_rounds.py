"""Log rounds on SQLite without the async driver's hand-offs.

Through the async driver every statement costs three to five hand-offs between the event loop
and the driver's thread (cursor, execute, fetch, close), and a round has about ten statements:
under load a round waited on the event loop far longer than SQLite worked (each statement
takes tens of microseconds). Here the sequencer keeps one synchronous connection of its own
(same file, same pragmas: WAL, ``synchronous=FULL``, busy timeout, foreign keys):

1. ``BEGIN IMMEDIATE`` is tried on the event loop without waiting; if another connection holds
   the write lock (another relay process, or this one's membership changes), the wait happens
   on a worker thread instead, with the usual busy timeout;
2. holding the write lock, the round's statements run at once on the event loop (in WAL mode
   nothing else can make them wait);
3. ``COMMIT`` (the fsync that makes the round durable) runs on the worker thread, so the event
   loop serves requests meanwhile. Only after it returns are the submitters answered.

The round's body is the sequencer's ordinary coroutine (entries, callers' ``extra``, hooks,
round writers, nodes, checkpoint), given a session whose ``execute`` runs the statement at
once; the coroutine is driven to its end synchronously. So callbacks running in a round must
await nothing but the session's ``execute`` and ``flush`` (anything else raises).
PostgreSQL keeps the SQLAlchemy async path.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, Result
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

from relay.db.engine import (
    DEFAULT_TIMEOUT,
    engine_timeout,
    sqlite_pragmas,
    watch_sqlite_statements,
)

RoundBody = Callable[[Any], Coroutine[Any, Any, None]]


class RoundSuspendedError(RuntimeError):
    """A callback inside a SQLite round awaited something other than the round's session."""


class InlineSession:
    """The round's session: the subset of ``AsyncSession`` rounds use, run synchronously."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def execute(self, statement: Any, params: Any = None) -> Result[Any]:
        return self._conn.execute(statement, params)

    async def flush(self) -> None:
        """Statements run as they are executed; there is nothing to flush."""


def drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends to its end, synchronously."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RoundSuspendedError(
        "A log round callback awaited something other than the round's session; callbacks "
        "in a round may only execute statements."
    )


class SqliteRounds:
    """The sequencer's own SQLite connection, and the worker thread that commits on it."""

    def __init__(self, path: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._busy_ms = int(timeout * 1000)
        self._engine: Engine = create_engine(
            f"sqlite+pysqlite:///{path}",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
        event.listen(self._engine, "connect", sqlite_pragmas(timeout))
        watch_sqlite_statements(self._engine)
        self._conn: Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="closedset-rounds")

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> SqliteRounds | None:
        """Rounds for the SQLite file behind ``engine``; None for PostgreSQL or memory."""
        url = engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return cls(Path(url.database).resolve(), engine_timeout(engine))

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            # SQLAlchemy never begins or commits here: the transaction is ours (below).
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    async def run(self, body: RoundBody) -> None:
        """Run ``body(session)`` in one write transaction and commit it durably."""
        loop = asyncio.get_running_loop()
        conn = self._connection()
        raw: sqlite3.Connection = conn.connection.dbapi_connection  # type: ignore[assignment]
        try:
            raw.execute("PRAGMA busy_timeout=0")
            try:
                raw.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                # Another connection is writing: wait for its lock off the event loop.
                raw.execute(f"PRAGMA busy_timeout={self._busy_ms}")
                await loop.run_in_executor(self._executor, raw.execute, "BEGIN IMMEDIATE")
            finally:
                raw.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            drive(body(InlineSession(conn)))
            await loop.run_in_executor(self._executor, raw.execute, "COMMIT")
        except BaseException:
            # Through the worker: it runs jobs in order, so a BEGIN or COMMIT still running
            # there (if this task was cancelled while awaiting it) has finished first.
            self._executor.submit(_rollback, raw).result()
            raise

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._conn is not None:
            self._conn.close()
        self._engine.dispose()


def _rollback(raw: sqlite3.Connection) -> None:
    if raw.in_transaction:
        raw.execute("ROLLBACK")
