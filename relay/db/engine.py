"""The async engine factory for SQLite (aiosqlite, the default) and PostgreSQL (asyncpg).

SQLite connections get the pragmas that make a committed transaction durable; PostgreSQL
is durable on commit by default (``synchronous_commit = on``), and we do not change that.

Pools are fixed-size by default (no overflow): an overflow connection is closed when it is
returned, so a burst of requests would open and close connections (on SQLite each a thread
and four pragmas) over and over. :func:`sequencer_engine` makes a sibling engine with one
connection of its own for the log sequencer, so that its rounds never queue behind requests.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

# Milliseconds a SQLite writer waits for another writer's lock before failing with
# "database is locked"; several relay processes may share one file.
SQLITE_BUSY_TIMEOUT_MS = 10_000

DEFAULT_POOL_SIZE = 8
"""Connections for request handlers (the envelope hot path needs none in the common case)."""

_MADE_WITH: weakref.WeakKeyDictionary[Engine, tuple[URL, dict[str, Any]]] = (
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


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """Create an async engine for ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://`` URLs.

    ``options`` go to :func:`sqlalchemy.ext.asyncio.create_async_engine` unchanged
    (for example ``connect_args`` with a PostgreSQL ``search_path``).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"The database URL must be SQLite or PostgreSQL, not {backend!r}.")
    if backend == "postgresql":
        # Drop connections the server closed while idle instead of failing a round on them.
        options.setdefault("pool_pre_ping", True)
    if "poolclass" not in options and "pool" not in options and not _in_memory(parsed):
        options.setdefault("pool_size", DEFAULT_POOL_SIZE)
        options.setdefault("max_overflow", 0)
    if backend == "sqlite" and not _in_memory(parsed) and parsed.database:
        private_sqlite_file(Path(parsed.database))
    engine = _create_async_engine(parsed, **options)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", set_sqlite_pragmas)
    _MADE_WITH[engine.sync_engine] = (parsed, dict(options))
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


def sequencer_engine(engine: AsyncEngine) -> AsyncEngine | None:
    """An engine on the same database with the same options and a single connection, for the
    log sequencer alone; None if ``engine`` was not made by :func:`create_engine`."""
    made = _MADE_WITH.get(engine.sync_engine)
    if made is None or _in_memory(made[0]):
        return None
    url, options = made
    options = {k: v for k, v in options.items() if k not in ("poolclass", "pool")}
    if url.get_backend_name() == "postgresql" and "prepared_statement_cache_size" not in url.query:
        # A round's statements vary with its size (multi-row VALUES, IN lists): keep them all
        # prepared instead of re-preparing (one more round trip) once 100 were seen.
        url = url.update_query_dict({"prepared_statement_cache_size": "1000"})
    return create_engine(
        url.render_as_string(hide_password=False),
        **{**options, "pool_size": 1, "max_overflow": 0},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (nothing is lazily reloaded)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _in_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Make a new SQLite connection durable on commit (a ``connect`` event listener)."""
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()
