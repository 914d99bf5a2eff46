"""Receipts for what is already in the log: entry, leaf hash, and a proof to the latest checkpoint.

Callers read their rows first and the checkpoint after: rows and the checkpoint covering them
commit together, so the latest checkpoint read afterwards always covers the rows' indices.
"""

from __future__ import annotations

from collections.abc import Sequence

from keys.merkle import hash_leaf
from relay.log.sequencer import Receipt
from relay.log.store import LogCorruptionError, LogStore


async def receipts_at_latest(store: LogStore, indices: Sequence[int]) -> list[Receipt]:
    """One receipt per log index, all against the same (latest) checkpoint."""
    if not indices:
        return []
    latest = await store.latest_checkpoint()
    if latest is None or max(indices) >= latest.size:
        raise LogCorruptionError("A stored record's log index is beyond the latest checkpoint.")
    receipts = []
    for index in indices:
        entry = await store.entry(index)
        if entry is None:
            raise LogCorruptionError(f"The log entry {index} of a stored record is missing.")
        proof = await store.inclusion_proof(index, latest.size)
        receipts.append(
            Receipt(index, hash_leaf(entry), entry, latest.note, latest.size, tuple(proof))
        )
    return receipts
