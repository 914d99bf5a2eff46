"""The signed-size record's cost per log round (relay.logstate, docs/operating.md).

    .venv/bin/python -m bench.state [--entries N] [--rounds R] [--submitters S] [--json]

The relay keeps ``log-signed-size`` beside its key: after every committed round the sequencer
notes the new size, and a writer task rewrites the file (write, fsync, rename) off the event
loop, at most once a second (``--interval``). This measures, in one run on the same machine:

1. durable appends through :class:`relay.log.sequencer.Sequencer` on a fresh SQLite file
   (WAL, ``synchronous=FULL``), ``S`` submitters each submitting continuously, with and without
   the recorder, alternating, ``R`` runs of each: entries/s and rounds/s, and the ratio of the
   medians (with / without; 1.0 means free, the goal is at least 0.9). ``--interval 0`` writes
   the record after every round (coalescing only what commits while a write is running);
2. one record write on its own (median of 200) against one round's commit time (the mean round
   of the runs without the recorder): what a record per round would cost if it were written
   synchronously, uncoalesced.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from keys.note import NoteSigner
from relay.db import create_engine
from relay.log.entry import RecordType
from relay.log.sequencer import Sequencer
from relay.log.store import LogStore
from relay.logstate import SignedRecord, SignedSizeRecorder, write_record
from relay.migrations import migrate

GOAL = 0.9


async def run(
    tmp: Path, n: int, entries: int, submitters: int, record: bool, interval: float
) -> dict[str, float]:
    url = f"sqlite+aiosqlite:///{tmp / f'bench{n}.db'}"
    engine = create_engine(url)
    await migrate(engine)
    signer = NoteSigner("bench.example/log", os.urandom(32))
    rounds = 0
    recorder = SignedSizeRecorder(
        tmp / f"record{n}", signer.verifier().key_string(), None, min_interval=interval
    )

    def committed(size: int) -> None:
        nonlocal rounds
        rounds += 1
        if record:
            recorder.note(size)

    if record:
        recorder.start()
    sequencer = await Sequencer.start(LogStore(engine), signer, on_commit=committed)
    left = entries

    async def submitter() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await sequencer.submit(RecordType.ENVELOPE, os.urandom(48))

    rounds = 0
    started = time.perf_counter()
    await asyncio.gather(*(submitter() for _ in range(submitters)))
    elapsed = time.perf_counter() - started
    await sequencer.close()
    if record:
        await recorder.close()
    await engine.dispose()
    return {
        "entries_per_s": entries / elapsed,
        "rounds_per_s": rounds / elapsed,
        "round_ms": 1000 * elapsed / max(rounds, 1),
    }


def record_write_ms(tmp: Path, count: int = 200) -> float:
    path = tmp / "alone"
    times = []
    for size in range(count):
        started = time.perf_counter()
        write_record(path, SignedRecord("bench.example/log+00000000+AAAA", size))
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--submitters", type=int, default=64)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for n in range(args.rounds):
            # Alternating which goes first, so that an order effect cancels out.
            for record in (False, True) if n % 2 == 0 else (True, False):
                result = asyncio.run(
                    run(tmp, 2 * n + record, args.entries, args.submitters, record, args.interval)
                )
                runs[record].append(result)
                print(f"run {n} record={record}: {result}", file=sys.stderr)
        alone = record_write_ms(tmp)

    def median(record: bool, key: str) -> float:
        return statistics.median(r[key] for r in runs[record])

    result: dict[str, Any] = {
        "entries_per_s_without": median(False, "entries_per_s"),
        "entries_per_s_with": median(True, "entries_per_s"),
        "rounds_per_s_without": median(False, "rounds_per_s"),
        "rounds_per_s_with": median(True, "rounds_per_s"),
        "round_ms_without": median(False, "round_ms"),
        "record_write_ms": alone,
    }
    result["ratio"] = result["entries_per_s_with"] / result["entries_per_s_without"]
    result["record_write_per_round"] = alone / result["round_ms_without"]
    result["goal_met"] = result["ratio"] >= GOAL
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{'metric':<34}{'value':>14}")
    for key, value in result.items():
        print(f"{key:<34}{value!s:>14}" if isinstance(value, bool) else f"{key:<34}{value:>14.3f}")
    print(f"goal: with/without >= {GOAL}: {'met' if result['goal_met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
