"""The async engine factory for SQLite (aiosqlite, the default) and PostgreSQL (asyncpg).

SQLite connections get the pragmas that make a committed transaction durable; PostgreSQL
is durable on commit by default (``synchronous_commit = on``), and we do not change that.

Pools are fixed-size by default (no overflow): an overflow connection is closed when it is
returned, so a burst of requests would open and close connections (on SQLite each a thread
and four pragmas) over and over. :func:`sequencer_engine` makes a sibling engine with one
connection of its own for the log sequencer, so that its rounds never queue behind requests.

Every engine has a ``timeout`` (seconds, the relay's ``database_timeout``): waiting for a pooled
connection, connecting, and each statement fail after it instead of hanging while a database
is frozen or unreachable. PostgreSQL: asyncpg's connect ``timeout`` and ``command_timeout``
(client side, which also covers a server that answers nothing) and the server's own
``statement_timeout`` and ``lock_timeout``. SQLite: ``busy_timeout`` (waiting for another
writer's lock) and a progress handler that interrupts a statement running past the timeout.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

# Milliseconds a SQLite writer waits for another writer's lock before failing with
# "database is locked"; several relay processes may share one file.
SQLITE_BUSY_TIMEOUT_MS = 10_000
DEFAULT_TIMEOUT = SQLITE_BUSY_TIMEOUT_MS / 1000

DEFAULT_POOL_SIZE = 8
"""Connections for request handlers (the envelope hot path needs none in the common case)."""

_MADE_WITH: weakref.WeakKeyDictionary[Engine, tuple[URL, dict[str, Any], float]] = (
    weakref.WeakKeyDictionary()
)

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # FULL, not NORMAL: in WAL mode NORMAL syncs the WAL only at checkpoints, so a commit
    # survives a process crash but not a power cut or kernel panic. We acknowledge a
    # submission only after its commit, and "acknowledged" must mean "on disk". FULL costs
    # one fsync per commit, and the sequencer commits once per round of many submissions.
    "PRAGMA synchronous=FULL",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
)


def create_engine(url: str, *, timeout: float = DEFAULT_TIMEOUT, **options: Any) -> AsyncEngine:
    """Create an async engine for ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://`` URLs.

    ``options`` go to :func:`sqlalchemy.ext.asyncio.create_async_engine` (for example
    ``connect_args`` with a PostgreSQL ``search_path``); the timeouts are added to them.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"The database URL must be SQLite or PostgreSQL, not {backend!r}.")
    made_with = dict(options)
    options = dict(options)
    # Error messages and SQLAlchemy's own logging never quote a statement's parameters (they
    # hold envelopes, keys and thread ids).
    options.setdefault("hide_parameters", True)
    if backend == "postgresql":
        # Drop connections the server closed while idle instead of failing a round on them.
        options.setdefault("pool_pre_ping", True)
        connect_args = dict(options.get("connect_args", {}))
        connect_args.setdefault("timeout", timeout)
        connect_args.setdefault("command_timeout", timeout)
        settings = dict(connect_args.get("server_settings", {}))
        settings.setdefault("statement_timeout", str(int(timeout * 1000)))
        settings.setdefault("lock_timeout", str(int(timeout * 1000)))
        connect_args["server_settings"] = settings
        options["connect_args"] = connect_args
    if "poolclass" not in options and "pool" not in options and not _in_memory(parsed):
        options.setdefault("pool_size", DEFAULT_POOL_SIZE)
        options.setdefault("max_overflow", 0)
        options.setdefault("pool_timeout", timeout)
    if backend == "sqlite" and not _in_memory(parsed) and parsed.database:
        private_sqlite_file(Path(parsed.database))
    engine = _create_async_engine(parsed, **options)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", sqlite_pragmas(timeout))
        watch_sqlite_statements(engine.sync_engine)
    _MADE_WITH[engine.sync_engine] = (parsed, made_with, timeout)
    return engine


def private_sqlite_file(path: Path) -> None:
    """Make the database file (and any WAL and shared-memory files) mode 0600 before SQLite
    opens it: SQLite creates its -wal and -shm files with the database file's own mode, and
    otherwise the process umask (commonly 0644) would let every local user read the relay."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(name, 0o600)


def engine_timeout(engine: AsyncEngine) -> float:
    """The ``timeout`` ``engine`` was made with (the default if not by :func:`create_engine`)."""
    made = _MADE_WITH.get(engine.sync_engine)
    return DEFAULT_TIMEOUT if made is None else made[2]


def sequencer_engine(engine: AsyncEngine) -> AsyncEngine | None:
    """An engine on the same database with the same options and a single connection, for the
    log sequencer alone; None if ``engine`` was not made by :func:`create_engine`."""
    made = _MADE_WITH.get(engine.sync_engine)
    if made is None or _in_memory(made[0]):
        return None
    url, options, timeout = made
    options = {k: v for k, v in options.items() if k not in ("poolclass", "pool")}
    if url.get_backend_name() == "postgresql" and "prepared_statement_cache_size" not in url.query:
        # A round's statements vary with its size (multi-row VALUES, IN lists): keep them all
        # prepared instead of re-preparing (one more round trip) once 100 were seen.
        url = url.update_query_dict({"prepared_statement_cache_size": "1000"})
    return create_engine(
        url.render_as_string(hide_password=False),
        timeout=timeout,
        **{**options, "pool_size": 1, "max_overflow": 0},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (nothing is lazily reloaded)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _in_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Make a new SQLite connection durable on commit (a ``connect`` event listener)."""
    sqlite_pragmas(DEFAULT_TIMEOUT)(dbapi_connection, _record)


def sqlite_pragmas(timeout: float) -> Callable[[Any, Any], None]:
    """A ``connect`` listener: durable commits, a busy timeout of ``timeout`` seconds, and a
    progress handler that interrupts a statement running longer than ``timeout`` (armed by
    :func:`watch_sqlite_statements` around each statement SQLAlchemy executes)."""

    def listener(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                if pragma.startswith("PRAGMA busy_timeout"):
                    pragma = f"PRAGMA busy_timeout={int(timeout * 1000)}"
                cursor.execute(pragma)
        finally:
            cursor.close()
        raw = getattr(dbapi_connection, "_connection", dbapi_connection)  # aiosqlite's adapter
        raw = getattr(raw, "_conn", raw)  # aiosqlite.Connection -> sqlite3.Connection
        if isinstance(raw, sqlite3.Connection) and record is not None:
            clock = _StatementClock(timeout)
            record.info[_CLOCK] = clock
            raw.set_progress_handler(clock, _PROGRESS_STEPS)

    return listener


def watch_sqlite_statements(engine: Engine) -> None:
    """Arm each connection's statement clock while SQLAlchemy executes a statement on it."""

    def before(conn: Any, *_args: Any) -> None:
        clock = conn.info.get(_CLOCK)
        if clock is not None:
            clock.started = time.monotonic()

    def after(conn: Any, *_args: Any) -> None:
        clock = conn.info.get(_CLOCK)
        if clock is not None:
            clock.started = None

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)

    def failed(context: Any) -> None:
        if context.connection is not None:
            after(context.connection)

    event.listen(engine, "handle_error", failed)


_CLOCK = "closedset.statement_clock"
_PROGRESS_STEPS = 100_000
"""SQLite virtual-machine steps between two looks at the clock (well under a millisecond)."""


class _StatementClock:
    """SQLite progress handler: a nonzero answer interrupts the running statement."""

    __slots__ = ("started", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.started: float | None = None

    def __call__(self) -> int:
        started = self.started
        return int(started is not None and time.monotonic() - started > self.timeout)
