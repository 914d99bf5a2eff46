"""Property: every proof the store serves verifies and equals the RFC 6962 reference.

Trees of random size up to 2,000 are built through the real sequencer, in random bursts of
concurrent submissions, on both databases.
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from keys.checkpoint import open_checkpoint
from keys.merkle import verify_consistency, verify_inclusion
from keys.note import NoteSigner
from relay.db.log_models import LogCheckpoint, LogEntry, LogNode
from relay.log.entry import RecordType
from relay.log.sequencer import Sequencer
from relay.log.store import LogStore
from tests.relay.conftest import LOG_NAME, LOG_SEED, DbTarget
from tests.relay.reference import NaiveTree

MAX_SIZE = 2000


async def _build_log(target: DbTarget, bursts: list[int], data: st.DataObject) -> None:
    engine = target.make_engine()
    try:
        # One database per test, emptied per example: migrating anew would dominate the run.
        async with engine.begin() as conn:
            for table in (LogCheckpoint, LogNode, LogEntry):
                await conn.execute(delete(table))
        store = LogStore(engine)
        signer = NoteSigner(LOG_NAME, LOG_SEED)
        sequencer = await Sequencer.start(
            store, signer, max_round=data.draw(st.integers(1, 512), label="max_round")
        )
        receipts = []
        counter = 0
        for burst in bursts:
            submissions = []
            for _ in range(burst):
                submissions.append(
                    sequencer.submit(
                        RecordType.ENVELOPE, counter.to_bytes(4, "big"), received_ms=counter
                    )
                )
                counter += 1
            receipts.extend(await asyncio.gather(*submissions))
        await sequencer.close()

        size = counter
        assert [r.index for r in receipts] == list(range(size))
        tree = NaiveTree([r.leaf_hash for r in receipts])
        latest = await store.latest_checkpoint()
        assert latest is not None and latest.size == size
        assert latest.root_hash == tree.root(size)
        verifier = signer.verifier()

        # Each receipt's own proof leads to the root of the checkpoint it came with.
        checkpoint_sizes = set()
        for receipt in receipts:
            checkpoint = open_checkpoint(receipt.checkpoint, verifier).checkpoint
            checkpoint_sizes.add(checkpoint.size)
            assert checkpoint.root_hash == tree.root(checkpoint.size)
            assert list(receipt.inclusion_proof) == tree.path(receipt.index, checkpoint.size)

        sizes = data.draw(st.lists(st.integers(1, size), min_size=1, max_size=12), label="sizes")
        for tree_size in [*sizes, size]:
            indices = data.draw(
                st.lists(st.integers(0, tree_size - 1), min_size=1, max_size=6), label="indices"
            )
            for index in {0, tree_size - 1, *indices}:
                proof = await store.inclusion_proof(index, tree_size)
                assert proof == tree.path(index, tree_size)
                verify_inclusion(tree.leaves[index], index, tree_size, proof, tree.root(tree_size))

        # Consistency between every checkpoint the log signed and the final tree, plus
        # arbitrary pairs of sizes.
        pairs = [(s, size) for s in checkpoint_sizes if s > 0]
        pairs += data.draw(
            st.lists(st.tuples(st.integers(1, size), st.integers(1, size)), max_size=12),
            label="pairs",
        )
        for a, b in pairs:
            first, second = min(a, b), max(a, b)
            proof = await store.consistency_proof(first, second)
            assert proof == (tree.proof(first, second) if first != second else [])
            verify_consistency(first, second, proof, tree.root(first), tree.root(second))
            stored = await store.checkpoint(first)
            if stored is not None:
                assert stored.root_hash == tree.root(first)
        for probe in {1, size // 2 + 1, size}:
            assert await store.root_at(probe) == tree.root(probe)
    finally:
        await engine.dispose()


def test_served_proofs_verify_and_match_the_reference(log_db: DbTarget) -> None:
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        bursts=st.lists(st.integers(1, 400), min_size=1, max_size=12).map(_cap),
        data=st.data(),
    )
    def check(bursts: list[int], data: st.DataObject) -> None:
        asyncio.run(_build_log(log_db, bursts, data))

    check()


def _cap(bursts: list[int]) -> list[int]:
    capped, total = [], 0
    for burst in bursts:
        burst = min(burst, MAX_SIZE - total)
        if burst <= 0:
            break
        capped.append(burst)
        total += burst
    return capped
