"""Crash-test worker: sequences random submissions forever until it is SIGKILLed.

Prints ``ready <size>`` once started, then ``ack <index> <entry hex>`` for every
acknowledged submission and ``checkpoint <base64 note>`` for every new checkpoint it is
handed, flushing each line: a printed line is a promise the log made and must keep.
Usage: python -m tests.relay.crash_worker <database url> <postgres schema or ->
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from keys.note import NoteSigner
from relay.db import create_engine
from relay.log.entry import RecordType, decode_entry
from relay.log.sequencer import LogPosition, Sequencer
from relay.log.store import LogStore
from relay.migrations import migrate
from tests.relay.conftest import LOG_NAME, LOG_SEED

SUBMITTERS = 64


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def record_payload(session: AsyncSession, position: LogPosition) -> None:
    # The caller's own row, committed with the entry or not at all.
    await session.execute(
        text("INSERT INTO crash_payloads (idx, digest) VALUES (:i, :d)"),
        {"i": position.index, "d": decode_entry(position.entry).digest},
    )


async def main(url: str, schema: str) -> None:
    options = {}
    if schema != "-":
        options = {"connect_args": {"server_settings": {"search_path": schema}}}
    engine = create_engine(url, **options)
    await migrate(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE IF NOT EXISTS crash_payloads (idx BIGINT PRIMARY KEY, digest BYTEA)")
            if engine.dialect.name == "postgresql"
            else text(
                "CREATE TABLE IF NOT EXISTS crash_payloads (idx BIGINT PRIMARY KEY, digest BLOB)"
            )
        )
    sequencer = await Sequencer.start(LogStore(engine), NoteSigner(LOG_NAME, LOG_SEED))
    say(f"ready {sequencer.tree_size}")
    last_note = ""

    async def submitter() -> None:
        nonlocal last_note
        while True:
            receipt = await sequencer.submit(
                RecordType.ENVELOPE, os.urandom(48), extra=record_payload
            )
            say(f"ack {receipt.index} {receipt.entry.hex()}")
            if receipt.checkpoint != last_note:
                last_note = receipt.checkpoint
                say("checkpoint " + base64.b64encode(receipt.checkpoint.encode()).decode())

    await asyncio.gather(*(submitter() for _ in range(SUBMITTERS)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
