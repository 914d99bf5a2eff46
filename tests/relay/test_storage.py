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
