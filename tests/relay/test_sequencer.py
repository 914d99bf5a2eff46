"""The sequencer's promises: group commit, acknowledged means committed, clean failures."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from keys.checkpoint import open_checkpoint
from keys.merkle import hash_leaf, verify_consistency
from keys.note import NoteSigner
from keys.tlogproof import TlogProof, verify_tlog_proof_of_entry
from relay.db.log_models import LogCheckpoint, LogEntry
from relay.log.entry import RecordType, decode_entry
from relay.log.sequencer import (
    ExtraRows,
    LogPosition,
    RoundItem,
    Sequencer,
    SequencerClosedError,
    Withdraw,
)
from relay.log.store import LogCorruptionError, LogStore


async def _count(store: LogStore, model: type[LogEntry] | type[LogCheckpoint]) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_new_log_starts_with_a_signed_empty_checkpoint(
    store: LogStore, log_signer: NoteSigner
) -> None:
    sequencer = await Sequencer.start(store, log_signer)
    await sequencer.close()
    latest = await store.latest_checkpoint()
    assert latest is not None
    checkpoint = open_checkpoint(latest.note, log_signer.verifier()).checkpoint
    assert (checkpoint.origin, checkpoint.size) == ("relay.example.test/log", 0)


async def test_concurrent_submissions_get_consecutive_indices_under_one_checkpoint(
    store: LogStore, log_signer: NoteSigner
) -> None:
    sequencer = await Sequencer.start(store, log_signer)
    receipts = await asyncio.gather(
        *(sequencer.submit(RecordType.ENVELOPE, b"envelope %d" % i) for i in range(500))
    )
    await sequencer.close()
    assert sorted(r.index for r in receipts) == list(range(500))
    latest = await store.latest_checkpoint()
    assert latest is not None and latest.size == 500
    # Group commit: a lone first round, then the rest pooled, not one round per submission.
    assert await _count(store, LogCheckpoint) < 10
    verifier = log_signer.verifier()
    for receipt in receipts:
        signed = verify_tlog_proof_of_entry(
            TlogProof.parse(receipt.tlog_proof()), receipt.entry, verifier
        )
        assert signed.checkpoint.size >= receipt.index + 1
        assert await store.entry(receipt.index) == receipt.entry


async def test_a_lone_submission_is_sequenced_at_once(
    store: LogStore, log_signer: NoteSigner
) -> None:
    sequencer = await Sequencer.start(store, log_signer, clock=lambda: 1_700_000_000_123)
    receipt = await asyncio.wait_for(sequencer.submit(RecordType.IDENTITY_RECORD, b"id"), 10)
    await sequencer.close()
    fields = decode_entry(receipt.entry)
    assert (receipt.index, receipt.tree_size) == (0, 1)
    assert fields.record_type is RecordType.IDENTITY_RECORD
    assert fields.received_ms == 1_700_000_000_123
    assert receipt.leaf_hash == hash_leaf(receipt.entry)


async def test_a_failing_round_acknowledges_nothing_and_leaves_nothing(
    store: LogStore, log_signer: NoteSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    sequencer = await Sequencer.start(store, log_signer)
    first = await sequencer.submit(RecordType.ENVELOPE, b"before")

    original = LogStore.insert_checkpoint
    failures = iter([True])

    async def broken_once(session: AsyncSession, checkpoint: object) -> None:
        if next(failures, False):
            raise ConnectionError("database went away")
        await original(session, checkpoint)  # type: ignore[arg-type]

    monkeypatch.setattr(LogStore, "insert_checkpoint", staticmethod(broken_once))
    results = await asyncio.gather(
        *(sequencer.submit(RecordType.ENVELOPE, b"doomed %d" % i) for i in range(20)),
        return_exceptions=True,
    )
    failed = [r for r in results if isinstance(r, ConnectionError)]
    assert failed, "the round that hit the broken insert must fail its submitters"
    assert await _count(store, LogEntry) == 1 + (len(results) - len(failed))

    after = await sequencer.submit(RecordType.ENVELOPE, b"after")
    await sequencer.close()
    assert after.index == 1 + len(results) - len(failed)
    old = open_checkpoint(first.checkpoint, log_signer.verifier()).checkpoint
    new = open_checkpoint(after.checkpoint, log_signer.verifier()).checkpoint
    proof = await store.consistency_proof(old.size, new.size)
    verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)


async def test_a_failing_extra_withdraws_only_its_own_submission(
    store: LogStore, log_signer: NoteSigner
) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE caller_rows (idx BIGINT PRIMARY KEY, tag TEXT)"))
    sequencer = await Sequencer.start(store, log_signer)

    def caller_row(tag: str, fail: bool = False) -> ExtraRows:
        async def extra(session: AsyncSession, position: LogPosition) -> None:
            await session.execute(
                text("INSERT INTO caller_rows (idx, tag) VALUES (:i, :t)"),
                {"i": position.index, "t": tag},
            )
            if fail:
                raise ValueError(f"{tag} is refused")

        return extra

    results = await asyncio.gather(
        *(
            sequencer.submit(
                RecordType.ENVELOPE, tag.encode(), extra=caller_row(tag, fail=tag == "c")
            )
            for tag in "abcde"
        ),
        return_exceptions=True,
    )
    await sequencer.close()
    refused = results[2]
    assert isinstance(refused, ValueError) and str(refused) == "c is refused"
    accepted = [r for r in results if not isinstance(r, BaseException)]
    assert sorted(r.index for r in accepted) == [0, 1, 2, 3]
    async with store.engine.connect() as conn:
        rows = dict((await conn.execute(text("SELECT idx, tag FROM caller_rows"))).all())
    # Each caller row sits at the index its entry got; the refused one left no row.
    assert rows == {r.index: tag for r, tag in zip(accepted, "abde", strict=True)}
    for receipt, tag in zip(accepted, "abde", strict=True):
        assert await store.entry(receipt.index) == receipt.entry
        assert decode_entry(receipt.entry).digest == hashlib.sha256(tag.encode()).digest()
    assert await _count(store, LogEntry) == 4


async def test_a_round_writer_gets_the_whole_round_and_can_withdraw_some_of_it(
    store: LogStore, log_signer: NoteSigner
) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE caller_rows (idx BIGINT PRIMARY KEY, tag TEXT)"))
    sequencer = await Sequencer.start(store, log_signer)
    calls: list[list[str]] = []

    async def writer(session: AsyncSession, items: list[RoundItem]) -> None:
        calls.append([str(item.row) for item in items])
        assert [i.position.index for i in items] == sorted(i.position.index for i in items)
        # One statement for the whole round, then the refusals.
        await session.execute(
            text("INSERT INTO caller_rows (idx, tag) VALUES (:i, :t)"),
            [{"i": item.position.index, "t": str(item.row)} for item in items],
        )
        refused = {item: ValueError(f"{item.row} is refused") for item in items if item.row in "bd"}
        if refused:
            raise Withdraw(refused)

    sequencer.add_round_writer(RecordType.ENVELOPE, writer)
    # Another record type never reaches this writer.
    other = asyncio.ensure_future(sequencer.submit(RecordType.IDENTITY_RECORD, b"id", row="x"))
    results = await asyncio.gather(
        *(sequencer.submit(RecordType.ENVELOPE, tag.encode(), row=tag) for tag in "abcde"),
        return_exceptions=True,
    )
    await other
    await sequencer.close()
    for tag, result in zip("abcde", results, strict=True):
        if tag in "bd":
            assert isinstance(result, ValueError) and str(result) == f"{tag} is refused"
        else:
            assert not isinstance(result, BaseException)
    assert all("x" not in call for call in calls)
    accepted = [r for r in results if not isinstance(r, BaseException)]
    async with store.engine.connect() as conn:
        rows = dict((await conn.execute(text("SELECT idx, tag FROM caller_rows"))).all())
    # The withdrawn left no row and no entry; the others sit at their entries' indices.
    assert rows == {r.index: tag for r, tag in zip(accepted, "ace", strict=True)}
    for receipt, tag in zip(accepted, "ace", strict=True):
        assert decode_entry(receipt.entry).digest == hashlib.sha256(tag.encode()).digest()
    assert await _count(store, LogEntry) == 4


async def test_close_finishes_accepted_work_and_refuses_new_submissions(
    store: LogStore, log_signer: NoteSigner
) -> None:
    sequencer = await Sequencer.start(store, log_signer)
    pending = [
        asyncio.ensure_future(sequencer.submit(RecordType.ENVELOPE, b"%d" % i)) for i in range(50)
    ]
    await asyncio.sleep(0)  # let them enqueue; this is ordering, not timing
    await sequencer.close()
    assert sorted(r.index for r in await asyncio.gather(*pending)) == list(range(50))
    with pytest.raises(SequencerClosedError, match="shut down"):
        await sequencer.submit(RecordType.ENVELOPE, b"late")


async def test_a_restarted_sequencer_continues_consistently(
    store: LogStore, log_signer: NoteSigner
) -> None:
    first = await Sequencer.start(store, log_signer)
    early = await asyncio.gather(*(first.submit(RecordType.ENVELOPE, b"%d" % i) for i in range(37)))
    await first.close()
    second = await Sequencer.start(store, log_signer)
    assert second.tree_size == 37
    late = await second.submit(RecordType.ENVELOPE, b"after restart")
    await second.close()
    assert late.index == 37
    verifier = log_signer.verifier()
    old = open_checkpoint(max(early, key=lambda r: r.tree_size).checkpoint, verifier).checkpoint
    new = open_checkpoint(late.checkpoint, verifier).checkpoint
    verify_consistency(
        old.size,
        new.size,
        await store.consistency_proof(old.size, new.size),
        old.root_hash,
        new.root_hash,
    )


async def test_a_log_whose_checkpoint_disagrees_with_its_entries_is_refused(
    store: LogStore, log_signer: NoteSigner
) -> None:
    sequencer = await Sequencer.start(store, log_signer)
    await asyncio.gather(*(sequencer.submit(RecordType.ENVELOPE, b"%d" % i) for i in range(5)))
    await sequencer.close()
    latest = await store.latest_checkpoint()
    assert latest is not None
    async with store.engine.begin() as conn:
        await conn.execute(delete(LogCheckpoint).where(LogCheckpoint.size == latest.size))
    with pytest.raises(LogCorruptionError, match="refusing to continue"):
        await Sequencer.start(store, log_signer)
