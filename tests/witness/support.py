"""A small in-memory log for witness and monitor tests: signed checkpoints and real proofs."""

from __future__ import annotations

from dataclasses import dataclass, field

from keys.checkpoint import Checkpoint, sign_checkpoint
from keys.merkle import hash_leaf
from keys.note import NoteSigner
from tests.relay.reference import NaiveTree

LOG_NAME = "relay.example.test/log"
LOG_SEED = bytes(range(32))
WITNESS_NAME = "witness.example.test/w1"
WITNESS_SEED = bytes(range(32, 64))
NOW = 1_750_000_000


@dataclass
class MemoryLog:
    """A log held in memory; two of them with one key model a relay with two histories."""

    signer: NoteSigner = field(default_factory=lambda: NoteSigner(LOG_NAME, LOG_SEED))
    leaves: list[bytes] = field(default_factory=list)

    def append(self, *entries: bytes) -> MemoryLog:
        self.leaves.extend(hash_leaf(e) for e in entries)
        return self

    def checkpoint(self, size: int | None = None) -> str:
        size = len(self.leaves) if size is None else size
        root = NaiveTree(self.leaves).root(size)
        return sign_checkpoint(Checkpoint(self.signer.name, size, root), self.signer)

    def proof(self, first: int, second: int) -> list[bytes]:
        return NaiveTree(self.leaves).proof(first, second) if 0 < first < second else []
