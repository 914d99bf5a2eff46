"""The async engine factory for SQLite (aiosqlite, the default) and PostgreSQL (asyncpg).

SQLite connections get the pragmas that make a committed transaction durable; PostgreSQL
is durable on commit by default (``synchronous_commit = on``), and we do not change that.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

# Milliseconds a SQLite writer waits for another writer's lock before failing with
# "database is locked"; several relay processes may share one file.
SQLITE_BUSY_TIMEOUT_MS = 10_000

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
    engine = _create_async_engine(parsed, **options)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (nothing is lazily reloaded)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()
