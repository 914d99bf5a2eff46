"""The replay cache of signed requests, in the database (table ``request_nonces``).

A (key, nonce) pair is claimed once: the claim is committed before the request is answered,
so a captured request cannot be replayed after a restart, nor (later) to another relay process
on the same database. Rows expire when the request's ``created`` time leaves the clock window;
they are purged as claims are written.

Claims that arrive together are written together (one transaction, so on SQLite one fsync, for
all the requests in flight): a request waits at most for the write in progress and its own.
A small in-process cache in front answers the commonest replay (same process, recent) without
a write, and dedups a batch.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from relay.db.api_models import RequestNonce

MAX_RECENT = 100_000
PURGE_EVERY = 60
"""Seconds between deletes of expired rows."""
_BATCH = 500

_Claim = tuple[bytes, bytes, int, "asyncio.Future[bool]"]
_SQLITE_INSERT = (
    "INSERT INTO request_nonces (identity_key, nonce, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)


class _SomeSeen(Exception):
    """A batch held a pair already in the table: roll back and sort it out row by row."""


class RecentNonces:
    """Pairs seen by this process, until they expire or ``limit`` newer ones push them out."""

    def __init__(self, limit: int = MAX_RECENT) -> None:
        self.limit = limit
        self._seen: OrderedDict[tuple[bytes, bytes], float] = OrderedDict()

    def add(self, key: bytes, nonce: bytes, expires: float, now: float) -> bool:
        """True if new (and now remembered); False if seen and not expired."""
        while self._seen:
            oldest, expiry = next(iter(self._seen.items()))
            if expiry > now and len(self._seen) < self.limit:
                break
            del self._seen[oldest]
        if (key, nonce) in self._seen:
            return False
        self._seen[(key, nonce)] = expires
        return True


class ReplayGuard:
    """Claims (key, nonce) pairs in the database, group-committing concurrent claims."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.recent = RecentNonces()
        self._pending: list[_Claim] = []
        self._writer: asyncio.Task[None] | None = None
        self._last_purge = 0.0
        self._insert = (
            postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        )(RequestNonce)

    async def claim(self, key: bytes, nonce: bytes, expires: int, now: float) -> bool:
        """True once per pair (committed when this returns); False for a replay."""
        if not self.recent.add(key, nonce, expires, now):
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((key, nonce, expires, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(now))
        # Shielded: a client that hangs up does not cancel the write others wait for.
        return await asyncio.shield(future)

    async def _write(self, now: float) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:_BATCH], self._pending[_BATCH:]
                try:
                    fresh = await self._commit(batch, now)
                except Exception as exc:
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for key, nonce, _, future in batch:
                    if not future.done():
                        future.set_result((key, nonce) in fresh)
        finally:
            self._writer = None

    async def _commit(self, batch: list[_Claim], now: float) -> set[tuple[bytes, bytes]]:
        if self.engine.dialect.name == "sqlite":
            try:
                return await self._commit_sqlite(batch, now)
            except _SomeSeen:
                pass  # rolled back: find out which, one row at a time (only after a replay)
            return await self._commit_each(batch)
        return await self._commit_returning(batch, now)

    async def _commit_sqlite(self, batch: list[_Claim], now: float) -> set[tuple[bytes, bytes]]:
        # One prepared statement run for every row (no statement compiled per batch size):
        # the common case, where every pair is new, costs one executemany and one commit.
        async with self.engine.begin() as conn:
            await self._purge(conn, now)
            result = await conn.exec_driver_sql(_SQLITE_INSERT, [(k, n, e) for k, n, e, _ in batch])
            if result.rowcount != len(batch):
                raise _SomeSeen
        return {(k, n) for k, n, _, _ in batch}

    async def _commit_each(self, batch: list[_Claim]) -> set[tuple[bytes, bytes]]:
        fresh = set()
        async with self.engine.begin() as conn:
            for key, nonce, expires, _ in batch:
                result = await conn.exec_driver_sql(_SQLITE_INSERT, (key, nonce, expires))
                if result.rowcount == 1:
                    fresh.add((key, nonce))
        return fresh

    async def _purge(self, conn: Any, now: float) -> None:
        if now - self._last_purge >= PURGE_EVERY:
            await conn.execute(delete(RequestNonce).where(RequestNonce.expires_at < int(now)))
            self._last_purge = now

    async def _commit_returning(self, batch: list[_Claim], now: float) -> set[tuple[bytes, bytes]]:
        rows = [{"identity_key": k, "nonce": n, "expires_at": e} for k, n, e, _ in batch]
        statement = (
            self._insert.values(rows)
            .on_conflict_do_nothing(index_elements=["identity_key", "nonce"])
            .returning(RequestNonce.identity_key, RequestNonce.nonce)
        )
        async with self.engine.begin() as conn:
            await self._purge(conn, now)
            result = await conn.execute(statement)
            return {(bytes(k), bytes(n)) for k, n in result.all()}
