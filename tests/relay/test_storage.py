"""Schema migrations up and down on both databases, and the entry's byte layout."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from relay.log.entry import EntryFormatError, RecordType, decode_entry, encode_entry
from relay.migrations import current_revision, downgrade, head_revision, migrate
from tests.relay.conftest import DbTarget

LOG_TABLES = {"log_entries", "log_nodes", "log_checkpoints"}


async def _tables(target: DbTarget) -> set[str]:
    engine = target.make_engine()
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_go_down_and_up_again(log_db: DbTarget) -> None:
    engine = log_db.make_engine()
    try:
        assert await current_revision(engine) == head_revision()
        await downgrade(engine, "0001_log_tables")
        assert await _tables(log_db) >= LOG_TABLES
        await downgrade(engine, "base")
        assert await current_revision(engine) is None
        assert not LOG_TABLES & await _tables(log_db)
        await migrate(engine)
        await migrate(engine)  # idempotent: the relay runs it on every start
        assert await current_revision(engine) == head_revision()
        assert await _tables(log_db) >= LOG_TABLES
    finally:
        await engine.dispose()


def test_entry_layout_is_42_fixed_bytes() -> None:
    entry = encode_entry(RecordType.IDENTITY_RECORD, bytes(range(32)), 0x0102030405060708)
    assert entry == b"\x01\x02" + bytes(range(32)) + bytes.fromhex("0102030405060708")
    fields = decode_entry(entry)
    assert fields.record_type is RecordType.IDENTITY_RECORD
    assert fields.received_ms == 0x0102030405060708


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        (b"\x01\x01" + bytes(39), "42 bytes, not 41"),
        (b"\x02\x01" + bytes(40), "version 2"),
        (b"\x01\x09" + bytes(40), "record type 9"),
    ],
)
def test_entries_in_any_other_layout_are_refused(entry: bytes, words: str) -> None:
    with pytest.raises(EntryFormatError, match=words):
        decode_entry(entry)


async def test_the_readers_migration_numbers_stored_envelopes_per_reader(log_db: DbTarget) -> None:
    """0005 fills envelope_readers from envelopes stored before it: one row per recipient
    identity, numbered 1, 2, ... per reader in thread order."""
    import hashlib

    from sqlalchemy import column, insert, select, table

    from keys.identity import Fingerprint
    from relay.db.api_models import EnvelopeReader, Identity, StoredEnvelope
    from tests.relay.api_support import Person, seal_to

    ic, ana, ben = (
        Person.new(n, r) for n, r in [("I", "ic"), ("A", "performer"), ("B", "performer")]
    )
    thread = bytes(range(16))
    first = seal_to(ic, thread, [ana, ben], None)
    to_ic = seal_to(ana, thread, [ic], first.hash)
    to_all = seal_to(ben, thread, [ic, ana], to_ic.hash)
    engine = log_db.make_engine()
    try:
        await downgrade(engine, "0005_request_nonces")
        async with engine.begin() as conn:
            for p in (ic, ana, ben):
                await conn.execute(
                    insert(Identity.__table__).values(
                        identity_key=p.identity,
                        fingerprint=Fingerprint.of(p.identity).digest,
                        role=p.role,
                        history=p.bundle(),
                        record_count=2,
                        devices=p.device.public,
                        revoked=False,
                        registered_at=0,
                        updated_at=0,
                    )
                )
            await conn.execute(
                # The threads table of 0005 (later revisions add columns: not named here).
                insert(
                    table(
                        "threads",
                        column("thread_id"),
                        column("creator"),
                        column("created_at"),
                        column("envelope_count"),
                    )
                ).values(thread_id=thread, creator=ic.identity, created_at=0, envelope_count=3)
            )
            for n, (e, sender) in enumerate([(first, ic), (to_ic, ana), (to_all, ben)], 1):
                body = e.to_bytes()
                await conn.execute(
                    insert(StoredEnvelope.__table__).values(
                        hash=hashlib.sha256(body).digest(),
                        thread_id=thread,
                        sequence=n,
                        sender=sender.identity,
                        prev=e.context.prev,
                        body=body,
                        log_index=n,
                        received_ms=n,
                    )
                )
        await migrate(engine)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        EnvelopeReader.reader,
                        EnvelopeReader.sequence,
                        EnvelopeReader.reader_sequence,
                    ).order_by(EnvelopeReader.sequence, EnvelopeReader.reader)
                )
            ).all()
    finally:
        await engine.dispose()
    numbered = {(bytes(r), s): n for r, s, n in rows}
    assert numbered == {
        (ic.identity, 1): 1,
        (ana.identity, 1): 1,
        (ben.identity, 1): 1,
        (ic.identity, 2): 2,
        (ana.identity, 2): 2,
        (ic.identity, 3): 3,
        (ana.identity, 3): 3,
        (ben.identity, 3): 2,
    }
