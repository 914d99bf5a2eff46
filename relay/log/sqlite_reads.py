"""Proof reads on SQLite in one hop: a worker thread with its own read-only connection.

Through the async driver a proof costs about five hand-offs to its worker thread (take a
pooled connection, execute, fetch, close the cursor, roll back on return), several times the
cost of the one indexed SELECT itself. Here a proof's node lookup is one call to a small
shared thread pool whose threads each keep read-only ``sqlite3`` connections (WAL lets them
read beside the writer; each statement sees the last committed round). PostgreSQL keeps the
SQLAlchemy path.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncEngine

NodeKey = tuple[int, int]

# Shared by every store in the process: proofs are short, and two threads match two cores.
_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="closedset-log-reads")
_CONNECTIONS_PER_THREAD = 8  # a process may hold several logs (tests); keep the newest few
_local = threading.local()


def sqlite_path(engine: AsyncEngine) -> Path | None:
    """The database file behind ``engine`` if it is a SQLite file, else None."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).resolve()


def _connection(path: Path) -> sqlite3.Connection:
    cache: OrderedDict[Path, sqlite3.Connection] | None = getattr(_local, "connections", None)
    if cache is None:
        cache = _local.connections = OrderedDict()
    conn = cache.get(path)
    if conn is None:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
        cache[path] = conn
        while len(cache) > _CONNECTIONS_PER_THREAD:
            _, old = cache.popitem(last=False)
            old.close()
    else:
        cache.move_to_end(path)
    return conn


def _statement(count: int) -> str:
    # An OR of key lookups, as in the SQLAlchemy path: SQLite plans a row-value IN as a scan.
    return "SELECT level, idx, hash FROM log_nodes WHERE " + " OR ".join(
        ["(level = ? AND idx = ?)"] * count
    )


def _read(path: Path, wanted: list[NodeKey], need_size: int) -> tuple[dict[NodeKey, bytes], int]:
    conn = _connection(path)
    committed = -1
    if need_size:
        row = conn.execute("SELECT MAX(size) FROM log_checkpoints").fetchone()
        committed = 0 if row is None or row[0] is None else int(row[0])
        if need_size > committed:
            return {}, committed
    found: dict[NodeKey, bytes] = {}
    if wanted:
        params = [v for key in wanted for v in key]
        for level, idx, digest in conn.execute(_statement(len(wanted)), params):
            found[(int(level), int(idx))] = bytes(digest)
    return found, committed


async def read_nodes(
    path: Path, keys: Iterable[NodeKey], *, need_size: int = 0
) -> tuple[dict[NodeKey, bytes], int]:
    """Fetch nodes in one worker call; with ``need_size``, first check that a checkpoint of at
    least that size is committed (returns the committed size, and no nodes if it is not)."""
    wanted = sorted(set(keys))
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_EXECUTOR, _read, path, wanted, need_size)
