"""Crash test: SIGKILL a sequencing process at random moments; nothing it promised is lost.

A worker (crash_worker.py) prints every acknowledged entry and checkpoint after commit. It
is killed after a random number of acknowledgements, at least ten times, and restarted.
Then every acknowledged entry must sit at its index, with no gap or duplicate, its caller
row beside it, and every checkpoint ever handed out must be consistent with the final one.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from keys.checkpoint import open_checkpoint
from keys.merkle import hash_leaf, root_from_leaf_hashes, verify_consistency
from keys.note import NoteSigner
from relay.db.log_models import LogEntry
from relay.log.store import LogStore
from tests.relay.conftest import LOG_NAME, LOG_SEED, DbTarget

ROOT = Path(__file__).resolve().parents[2]
KILLS = 12
WATCHDOG_SECONDS = 60


class Worker:
    def __init__(self, target: DbTarget) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.relay.crash_worker", target.url, target.schema or "-"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # Only against a hung worker: the test itself waits on the worker's output lines.
        self.watchdog = threading.Timer(WATCHDOG_SECONDS, self.process.kill)
        self.watchdog.start()

    def line(self) -> str:
        assert self.process.stdout is not None
        raw = self.process.stdout.readline()
        if not raw:
            self.process.wait()
            stderr = self.process.stderr.read().decode() if self.process.stderr else ""
            pytest.fail(f"The crash worker exited early ({self.process.returncode}):\n{stderr}")
        return raw.decode().rstrip("\n")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.watchdog.cancel()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_entry(log_db: DbTarget) -> None:
    rng = random.Random(os.environ.get("CLOSEDSET_CRASH_SEED"))
    acked: dict[int, bytes] = {}
    checkpoints: list[str] = []
    ready_sizes: list[int] = []
    for _ in range(KILLS):
        worker = Worker(log_db)
        try:
            line = worker.line()
            assert line.startswith("ready "), line
            ready_sizes.append(int(line.split()[1]))
            wanted = rng.randint(1, 600)  # the random moment: after this many acks
            seen = 0
            while seen < wanted:
                kind, _, rest = worker.line().partition(" ")
                if kind == "ack":
                    index, entry = rest.split()
                    assert int(index) not in acked, f"index {index} acknowledged twice"
                    acked[int(index)] = bytes.fromhex(entry)
                    seen += 1
                elif kind == "checkpoint":
                    checkpoints.append(base64.b64decode(rest).decode())
        finally:
            worker.kill()

    # Restarts resumed where the previous run's durable state ended.
    assert ready_sizes == sorted(ready_sizes)
    asyncio.run(_check_final_log(log_db, acked, checkpoints))


async def _check_final_log(target: DbTarget, acked: dict[int, bytes], notes: list[str]) -> None:
    engine = target.make_engine()
    try:
        store = LogStore(engine)
        _, latest = await store.load_frontier()  # raises if the log contradicts itself
        assert latest is not None
        size = latest.size
        async with engine.connect() as conn:
            rows = (
                await conn.execute(select(LogEntry.idx, LogEntry.entry).order_by(LogEntry.idx))
            ).all()
            payloads = dict(
                (await conn.execute(text("SELECT idx, digest FROM crash_payloads"))).all()
            )
            assert (await conn.execute(select(func.count()).select_from(LogEntry))).scalar() == size
        entries = [entry for _, entry in rows]
        assert [idx for idx, _ in rows] == list(range(size)), "gap or duplicate in the log"
        assert sorted(payloads) == list(range(size)), "caller rows and entries diverged"
        for index, entry in acked.items():
            assert index < size and entries[index] == entry, f"acknowledged entry {index} lost"
            assert payloads[index] == entry[2:34]
        assert root_from_leaf_hashes([hash_leaf(e) for e in entries]) == latest.root_hash

        verifier = NoteSigner(LOG_NAME, LOG_SEED).verifier()
        final = open_checkpoint(latest.note, verifier).checkpoint
        assert len(notes) >= 10
        for note in notes:
            old = open_checkpoint(note, verifier).checkpoint
            proof = await store.consistency_proof(old.size, final.size)
            verify_consistency(old.size, final.size, proof, old.root_hash, final.root_hash)
    finally:
        await engine.dispose()
