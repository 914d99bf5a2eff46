"""The log's storage: reads that answer any proof or tile in O(log n) rows, and bulk writes.

Reads never rehash the tree: every complete aligned subtree hash is stored (``log_nodes``),
so a proof reads at most log n nodes per element and a tile is one range scan. The writes
here only ever run inside the sequencer's round transaction (``relay.log.sequencer``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from relay.db.log_models import LogCheckpoint, LogEntry, LogNode
from relay.log.sqlite_reads import read_nodes, sqlite_path
from relay.log.tree import (
    Frontier,
    NodeKey,
    compose_ranges,
    consistency_ranges,
    frontier_keys,
    inclusion_ranges,
    keys_for_ranges,
)

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT

_entries = cast(Table, LogEntry.__table__)
_nodes = cast(Table, LogNode.__table__)
_checkpoints = cast(Table, LogCheckpoint.__table__)


class LogStoreError(Exception):
    """Base class: the log cannot answer or the stored log is not sound."""


class LogRangeError(LogStoreError, ValueError):
    """A proof, entry or tree size was asked for that the log does not (yet) have."""


class LogCorruptionError(LogStoreError):
    """The stored log contradicts itself; the relay must not sign anything on top of it."""


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as stored: its tree size, root hash and the signed note text."""

    size: int
    root_hash: bytes
    note: str


class LogStore:
    """Reads and writes of one transparency log in a relay database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sqlite_file = sqlite_path(engine)
        # A lower bound of the committed tree size. The log never shrinks and committed rows
        # never change, so a request within it needs no size query.
        self._known_size = 0

    def note_size(self, size: int) -> None:
        """Record that a tree of ``size`` leaves is committed (the sequencer calls this)."""
        self._known_size = max(self._known_size, size)

    # --- reads -------------------------------------------------------------------------------

    async def tree_size(self) -> int:
        """The size of the latest signed checkpoint (entries and checkpoint commit together)."""
        async with self.engine.connect() as conn:
            return await self._tree_size(conn)

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint with the largest tree size, or None before the first one is signed."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(_checkpoints.c.size, _checkpoints.c.root_hash, _checkpoints.c.note)
                    .order_by(_checkpoints.c.size.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        self.note_size(int(row[0]))
        return StoredCheckpoint(int(row[0]), row[1], row[2])

    async def database_trouble(self, timeout: float) -> str | None:
        """None if the database answers a read of the log within ``timeout``; else why not."""
        from relay.db.trouble import describe_failure

        async def read() -> None:
            async with self.engine.connect() as conn:
                await conn.execute(select(func.max(_checkpoints.c.size)))

        try:
            await asyncio.wait_for(read(), timeout)
        except Exception as exc:
            return f"the database does not answer ({describe_failure(exc)})"
        return None

    async def checkpoint(self, size: int) -> StoredCheckpoint | None:
        """The checkpoint signed at exactly ``size``, if the log signed one there."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(_checkpoints.c.root_hash, _checkpoints.c.note).where(
                        _checkpoints.c.size == size
                    )
                )
            ).first()
        return None if row is None else StoredCheckpoint(size, row[0], row[1])

    async def entry(self, index: int) -> bytes | None:
        """The entry at ``index``, or None if the log is not that long."""
        async with self.engine.connect() as conn:
            return (
                await conn.execute(select(_entries.c.entry).where(_entries.c.idx == index))
            ).scalar()

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 6962 PATH(index, D[0:size]), from the leaf's sibling up to the root's child."""
        if not 0 <= index < size:
            raise LogRangeError(f"Leaf index {index} is not inside a tree of size {size}.")
        ranges = inclusion_ranges(index, size)
        nodes = await self._nodes_at(size, keys_for_ranges(ranges))
        return compose_ranges(ranges, nodes.__getitem__)

    async def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 6962 PROOF(size1, D[0:size2]); empty when the sizes are equal."""
        if not 0 < size1 <= size2:
            raise LogRangeError(
                f"There is no consistency proof from size {size1} to size {size2}; "
                "the first size must be at least 1 and at most the second."
            )
        ranges = consistency_ranges(size1, size2)
        nodes = await self._nodes_at(size2, keys_for_ranges(ranges))
        return compose_ranges(ranges, nodes.__getitem__)

    async def root_at(self, size: int) -> bytes:
        """The root of the tree of ``size`` leaves, for any size up to the current one."""
        keys = frontier_keys(size)
        nodes = await self._nodes_at(size, keys)
        return Frontier(size, [(k[0], k[1], nodes[k]) for k in keys]).root()

    async def _nodes_at(self, size: int, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        """Stored nodes, once a checkpoint of at least ``size`` is known to be committed."""
        wanted = set(keys)
        if self._sqlite_file is None:
            async with self.engine.connect() as conn:
                await self._require_size(conn, size)
                return await _read_nodes(conn, wanted)
        need = 0 if size <= self._known_size else size
        found, committed = await read_nodes(self._sqlite_file, wanted, need_size=need)
        if need:
            self.note_size(committed)
            if size > committed:
                raise LogRangeError(
                    f"The tree size {size} is larger than the log's current size {committed}."
                )
        _require_all(wanted, found)
        return found

    async def hash_tile(self, level: int, index: int, width: int) -> bytes | None:
        """C2SP tlog-tiles hash tile ``level``/``index`` of ``width`` hashes, or None if absent.

        Tile level L holds the Merkle nodes of level 8L; the tile exists once all of its
        ``width`` nodes are complete, which happens in the same commit as their checkpoint.
        """
        merkle_level = level * TILE_HEIGHT
        if merkle_level >= 64:
            return None
        start = index * TILE_WIDTH
        async with self.engine.connect() as conn:
            hashes = (
                (
                    await conn.execute(
                        select(_nodes.c.hash)
                        .where(
                            _nodes.c.level == merkle_level,
                            _nodes.c.idx >= start,
                            _nodes.c.idx < start + width,
                        )
                        .order_by(_nodes.c.idx)
                    )
                )
                .scalars()
                .all()
            )
        return b"".join(hashes) if len(hashes) == width else None

    async def entry_bundle(self, index: int, width: int) -> bytes | None:
        """C2SP tlog-tiles entry bundle: ``width`` entries, each with a uint16 length prefix."""
        start = index * TILE_WIDTH
        async with self.engine.connect() as conn:
            entries = (
                (
                    await conn.execute(
                        select(_entries.c.entry)
                        .where(_entries.c.idx >= start, _entries.c.idx < start + width)
                        .order_by(_entries.c.idx)
                    )
                )
                .scalars()
                .all()
            )
        if len(entries) != width:
            return None
        return b"".join(len(e).to_bytes(2, "big") + e for e in entries)

    async def load_frontier(self) -> tuple[Frontier, StoredCheckpoint | None]:
        """Read the right edge of the committed tree and check it against the last checkpoint.

        O(log n) rows. Raises :class:`LogCorruptionError` if entries, nodes and the
        checkpoint disagree, because signing on top of that would fork the log.
        """
        async with self.engine.connect() as conn:
            latest = (
                await conn.execute(
                    select(_checkpoints.c.size, _checkpoints.c.root_hash, _checkpoints.c.note)
                    .order_by(_checkpoints.c.size.desc())
                    .limit(1)
                )
            ).first()
            entry_count = (await conn.execute(select(func.max(_entries.c.idx)))).scalar()
            size = 0 if latest is None else int(latest[0])
            entry_count = 0 if entry_count is None else int(entry_count) + 1
            if entry_count != size:
                raise LogCorruptionError(
                    f"The log holds {entry_count} entries but its latest checkpoint covers "
                    f"{size}; refusing to continue."
                )
            keys = frontier_keys(size)
            nodes = await _read_nodes(conn, keys)
        frontier = Frontier(size, [(level, idx, nodes[(level, idx)]) for level, idx in keys])
        self.note_size(size)
        if latest is None:
            return frontier, None
        checkpoint = StoredCheckpoint(size, latest[1], latest[2])
        if frontier.root() != checkpoint.root_hash:
            raise LogCorruptionError(
                f"The stored subtree hashes give root {frontier.root().hex()} for size {size}, "
                f"but the checkpoint says {checkpoint.root_hash.hex()}; refusing to continue."
            )
        return frontier, checkpoint

    async def _tree_size(self, conn: AsyncConnection) -> int:
        size = (await conn.execute(select(func.max(_checkpoints.c.size)))).scalar()
        self.note_size(0 if size is None else int(size))
        return self._known_size

    async def _require_size(self, conn: AsyncConnection, size: int) -> None:
        if size <= self._known_size:
            return
        current = await self._tree_size(conn)
        if size > current:
            raise LogRangeError(
                f"The tree size {size} is larger than the log's current size {current}."
            )

    # --- writes (inside the sequencer's round transaction) -----------------------------------

    @staticmethod
    async def insert_entries(
        session: AsyncSession, first_index: int, entries: Sequence[bytes]
    ) -> None:
        """Insert consecutive entries from ``first_index`` in one executemany."""
        await session.execute(
            insert(_entries),
            [{"idx": first_index + i, "entry": e} for i, e in enumerate(entries)],
        )

    @staticmethod
    async def insert_nodes(session: AsyncSession, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        """Insert newly completed subtree hashes ``(level, index, hash)`` in one executemany."""
        rows = [{"level": level, "idx": idx, "hash": h} for level, idx, h in nodes]
        if rows:
            await session.execute(insert(_nodes), rows)

    @staticmethod
    async def insert_checkpoint(session: AsyncSession, checkpoint: StoredCheckpoint) -> None:
        await session.execute(
            insert(_checkpoints).values(
                size=checkpoint.size, root_hash=checkpoint.root_hash, note=checkpoint.note
            )
        )

    @staticmethod
    async def rewrite_checkpoint(session: AsyncSession, checkpoint: StoredCheckpoint) -> bool:
        """Write a stored checkpoint's row again, unchanged (the sequencer's idle write: it
        proves the database takes writes); False if no such row is stored."""
        result = await session.execute(
            update(_checkpoints)
            .where(
                _checkpoints.c.size == checkpoint.size,
                _checkpoints.c.root_hash == checkpoint.root_hash,
                _checkpoints.c.note == checkpoint.note,
            )
            .values(note=checkpoint.note)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def _read_nodes(conn: AsyncConnection, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
    """Fetch stored nodes in one query; a missing one means the database is inconsistent."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    params: dict[str, int] = {}
    for n, (level, idx) in enumerate(wanted):
        params[f"l{n}"] = level
        params[f"i{n}"] = idx
    rows = await conn.execute(_nodes_query(len(wanted)), params)
    found = {(int(level), int(idx)): h for level, idx, h in rows}
    _require_all(wanted, found)
    return found


def _require_all(wanted: Iterable[NodeKey], found: dict[NodeKey, bytes]) -> None:
    missing = sorted(k for k in wanted if k not in found)
    if missing:
        raise LogCorruptionError(
            f"The subtree hash at level {missing[0][0]}, index {missing[0][1]} is missing from "
            "the log's storage."
        )


@functools.cache
def _nodes_query(count: int) -> Select[Any]:
    # An OR of key lookups, not a row-value IN: SQLite plans the latter as a full scan. Built
    # once per key count (proofs need at most ~128), so SQLAlchemy's compiled cache hits.
    return select(_nodes.c.level, _nodes.c.idx, _nodes.c.hash).where(
        or_(
            *(
                and_(_nodes.c.level == bindparam(f"l{n}"), _nodes.c.idx == bindparam(f"i{n}"))
                for n in range(count)
            )
        )
    )
