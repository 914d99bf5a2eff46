"""The audit log against pymerkle: durable appends, proof rates and memory, in one run.

    .venv/bin/python -m bench.log [--sizes 10000,100000,1000000] [--quick] [--json]
                                  [--db sqlite|postgres|both] [--pg-url URL]

Every figure is a ratio against pymerkle 7 (``SqliteTree`` and ``InmemoryTree``) measured in
the same run on the same machine, on the same entries: the log's 42-byte entries
``entry_for(ENVELOPE, i.to_bytes(8), T0 + i)``, so the relay's roots and pymerkle's roots must
agree at every size (checked, as is every sampled relay proof against pymerkle's roots).

1. Durable appends (entries/s). The relay: :class:`relay.log.sequencer.Sequencer` on a fresh
   database, 64 or 256 asyncio tasks each submitting continuously, so group commit pools them;
   a submission counts once its receipt is back, i.e. its round committed (SQLite WAL with
   ``synchronous=FULL``). After each run a fresh engine reloads the log and checks that every
   acknowledged entry is there and that the stored nodes give the last checkpoint's root.
   Baselines: ``SqliteTree.append_entries`` in batches of the relay's mean round size (one
   durable commit per batch, like a round), ``SqliteTree.append_entry`` (one commit per entry;
   Python's sqlite3 defaults, rollback journal with ``synchronous=FULL``) and
   ``InmemoryTree.append_entry`` (nothing durable).
2. Proof rates (proofs/s, one caller at a time, random leaf indices or old sizes, medians of
   timed windows). The relay: ``LogStore.inclusion_proof`` / ``consistency_proof`` on a fresh
   engine. pymerkle: ``prove_inclusion`` / ``prove_consistency``. pymerkle's ``SqliteTree``
   keeps an in-process LRU cache of subtree roots at least 128 leaves wide (up to 1 GiB), so
   it is reported twice: *cold* (the first proofs of a freshly opened tree) and *warm* (after
   proving until fewer than 1 proof in 100 misses its cache). Relay and warm pymerkle windows
   alternate, and their ratio is the median of the per-pair ratios, so load from other
   processes (the run records the load average) hits both alike. The growth of the relay's
   time per proof from the smallest to the largest size is measured the same way, at the
   end, alternating between the grown log and a second log kept at the smallest size; the
   baseline is pymerkle's warm ``SqliteTree`` (ratio of its medians at the two sizes).
   The log is filled once and grown in place (10^4, then 10^5, then 10^6). Up to each size
   it is written by the same store code the sequencer uses (``Frontier.append``, a signed
   checkpoint, ``LogStore.insert_entries/insert_nodes/insert_checkpoint`` in one transaction)
   but in rounds of 65,536 entries, so filling 10^6 takes seconds, not minutes; the append
   figure above comes only from real rounds through the sequencer. pymerkle fills its trees
   with its own ``append_entries``.
3. Memory. At each size a fresh subprocess opens the filled log, starts a Sequencer (which
   loads the O(log n) frontier), appends 4,096 entries through 256 submitters, answers 2,000
   inclusion and 1,000 consistency proofs, runs ``gc.collect()`` and reads its resident set
   (``VmRSS`` in /proc/self/status; ``VmHWM``, the peak, is reported too). The growth is
   RSS at the largest size minus RSS at the smallest. The same is done for a process holding
   pymerkle's ``SqliteTree`` (same appends and proofs) and for one building an
   ``InmemoryTree`` of the size. Those 4,096 appends are the next entries of the sequence,
   so the log stays identical to pymerkle's trees and filling continues from there.

``--db postgres`` (or ``both``) runs the relay half on PostgreSQL too, each run in a fresh
schema that is dropped afterwards. Progress goes to stderr; the table (or ``--json``) to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pymerkle
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from keys.checkpoint import Checkpoint, sign_checkpoint
from keys.merkle import hash_leaf, verify_consistency, verify_inclusion
from keys.note import NoteSigner
from relay.db import LogCheckpoint, LogEntry, create_engine, session_factory
from relay.log.entry import RecordType, entry_for
from relay.log.sequencer import Sequencer
from relay.log.store import LogStore, StoredCheckpoint
from relay.migrations import migrate

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

LOG_NAME = "bench.closedset.test/log"
LOG_SEED = hashlib.sha256(b"closedset bench/log signer").digest()
T0_MS = 1_700_000_000_000

FILL_ROUND = 65_536  # entries per bulk round when filling the proof log
MEMORY_APPENDS = 4_096  # entries each memory subprocess appends through the sequencer
MEMORY_INCLUSION = 2_000
MEMORY_CONSISTENCY = 1_000
COLD_PROOFS = 50  # proofs timed on a freshly opened pymerkle SqliteTree
WARM_MISS_RATE = 0.01  # pymerkle is warm once fewer than 1 proof in 100 misses its cache
WARM_CAP_S = 120.0

GOAL_APPENDS = 5_000.0
GOAL_PROOF_RATIO = 10.0
GOAL_PROOF_GROWTH = 2.0
GOAL_MEMORY_MB = 50.0


def bench_entry(i: int) -> bytes:
    """Entry ``i`` of the benchmark's log: a real 42-byte log entry, the same for everyone."""
    return entry_for(RecordType.ENVELOPE, i.to_bytes(8, "big"), T0_MS + i)


def bench_entries(start: int, end: int) -> Iterator[bytes]:
    return (bench_entry(i) for i in range(start, end))


def progress(message: str) -> None:
    print(f"[bench.log {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def fmt_size(n: int) -> str:
    exp = len(str(n)) - 1
    return f"10^{exp}" if n == 10**exp else f"{n:,}"


def fmt_num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "MB":
        return f"{value:,.1f} MB"
    if unit == "x":
        return f"{value:,.2f}x"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    return f"{text}{unit}"


# --- databases -------------------------------------------------------------------------------


@dataclass
class Target:
    """A migrated relay database: a SQLite file, or a fresh PostgreSQL schema."""

    backend: str
    url: str
    schema: str | None = None

    def options(self) -> dict[str, Any]:
        if self.schema is None:
            return {}
        return {"connect_args": {"server_settings": {"search_path": self.schema}}}

    def make_engine(self) -> AsyncEngine:
        return create_engine(self.url, **self.options())


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_execute(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def new_target(backend: str, tmp: Path, pg_url: str) -> Target:
    if backend == "sqlite":
        target = Target("sqlite", f"sqlite+aiosqlite:///{tmp / f'relay-{uuid.uuid4().hex}.db'}")
    else:
        schema = f"cs_bench_{uuid.uuid4().hex[:16]}"
        await _pg_execute(pg_url, f'CREATE SCHEMA "{schema}"')
        target = Target("postgresql", pg_url, schema)
    engine = target.make_engine()
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    return target


async def drop_target(target: Target) -> None:
    if target.schema is not None:
        await _pg_execute(target.url, f'DROP SCHEMA IF EXISTS "{target.schema}" CASCADE')
    else:
        path = Path(make_url(target.url).database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


# --- measuring helpers -----------------------------------------------------------------------


def read_memory() -> dict[str, float]:
    """This process's resident set now and at its peak, in MB (Linux /proc/self/status)."""
    values: dict[str, float] = {}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0]) / 1024
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        values = {"VmRSS": peak, "VmHWM": peak}
    return {"rss_mb": values["VmRSS"], "hwm_mb": values["VmHWM"]}


def timed_window(step: Callable[[], object], window: float) -> float:
    """Call ``step`` for ``window`` seconds (at least once); return calls per second."""
    count = 0
    start = time.perf_counter()
    deadline = start + window
    while True:
        step()
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


async def atimed_window(step: Callable[[], Awaitable[object]], window: float) -> float:
    count = 0
    start = time.perf_counter()
    deadline = start + window
    while True:
        await step()
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def relay_step(store: LogStore, kind: str, size: int, rnd: random.Random):
    if kind == "inclusion":
        return lambda: store.inclusion_proof(rnd.randrange(size), size)
    return lambda: store.consistency_proof(rnd.randrange(1, size), size)


def pymerkle_step(tree: pymerkle.BaseMerkleTree, kind: str, size: int, rnd: random.Random):
    # pymerkle counts leaves from one.
    if kind == "inclusion":
        return lambda: tree.prove_inclusion(rnd.randrange(size) + 1, size)
    return lambda: tree.prove_consistency(rnd.randrange(1, size), size)


# --- 1. durable appends ----------------------------------------------------------------------


async def relay_append_run(target: Target, signer: NoteSigner, submitters: int, count: int):
    """Sequence ``count`` submissions from ``submitters`` tasks; entries/s and round stats."""
    engine = target.make_engine()
    try:
        sequencer = await Sequencer.start(LogStore(engine), signer)
        issued = 0

        async def submitter(worker: int) -> None:
            nonlocal issued
            n = 0
            while issued < count:
                issued += 1
                n += 1
                await sequencer.submit(RecordType.ENVELOPE, b"bench/%d/%d" % (worker, n))

        start = time.perf_counter()
        await asyncio.gather(*(submitter(w) for w in range(submitters)))
        elapsed = time.perf_counter() - start
        await sequencer.close()
    finally:
        await engine.dispose()
    # Durability check from a fresh engine: every acknowledged entry is there, and the stored
    # nodes give the root of the last signed checkpoint (load_frontier raises otherwise).
    engine = target.make_engine()
    try:
        frontier, checkpoint = await LogStore(engine).load_frontier()
        async with engine.connect() as conn:
            entries = (await conn.execute(select(func.count()).select_from(LogEntry))).scalar()
            checkpoints = (
                await conn.execute(select(func.count()).select_from(LogCheckpoint))
            ).scalar()
    finally:
        await engine.dispose()
    if frontier.size != count or entries != count or checkpoint is None:
        raise RuntimeError(f"{count} submissions acknowledged but the log holds {entries}.")
    rounds = int(checkpoints or 0) - 1  # the empty tree's checkpoint is not a round
    return {
        "rate": count / elapsed,
        "seconds": elapsed,
        "rounds": rounds,
        "mean_round": count / max(rounds, 1),
    }


def pymerkle_sqlite_append_single(path: Path, window: float) -> float:
    tree = pymerkle.SqliteTree(str(path))
    try:
        counter = iter(range(1 << 40))
        return timed_window(lambda: tree.append_entry(bench_entry(next(counter))), window)
    finally:
        tree.close()


def pymerkle_sqlite_append_batched(path: Path, batch: int, count: int) -> float:
    tree = pymerkle.SqliteTree(str(path))
    try:
        start = time.perf_counter()
        for first in range(0, count, batch):
            tree.append_entries(list(bench_entries(first, min(count, first + batch))))
        return count / (time.perf_counter() - start)
    finally:
        tree.close()


def pymerkle_inmemory_append(window: float) -> float:
    tree = pymerkle.InmemoryTree()
    counter = iter(range(1 << 40))
    return timed_window(lambda: tree.append_entry(bench_entry(next(counter))), window)


async def measure_appends(args, backends, tmp: Path, signer: NoteSigner) -> dict[str, Any]:
    out: dict[str, Any] = {"relay": {}, "pymerkle": {}}
    for backend in backends:
        for submitters in args.submitters:
            runs = []
            for rep in range(args.reps):
                target = await new_target(backend, tmp, args.pg_url)
                try:
                    runs.append(
                        await relay_append_run(target, signer, submitters, args.append_count)
                    )
                finally:
                    await drop_target(target)
                progress(
                    f"relay append [{backend}] {submitters} submitters, run {rep + 1}: "
                    f"{runs[-1]['rate']:,.0f} entries/s, {runs[-1]['rounds']} rounds "
                    f"(mean {runs[-1]['mean_round']:.0f} entries)"
                )
            out["relay"][f"{backend}/{submitters}"] = {
                "backend": backend,
                "submitters": submitters,
                "rate": statistics.median(r["rate"] for r in runs),
                "mean_round": statistics.median(r["mean_round"] for r in runs),
                "runs": runs,
            }
    batch = round(out["relay"][f"{backends[0]}/{max(args.submitters)}"]["mean_round"])
    single, batched, inmemory = [], [], []
    for _ in range(args.reps):
        single_path = tmp / f"pm-single-{uuid.uuid4().hex}.db"
        batched_path = tmp / f"pm-batched-{uuid.uuid4().hex}.db"
        single.append(pymerkle_sqlite_append_single(single_path, args.window))
        batched.append(pymerkle_sqlite_append_batched(batched_path, batch, args.append_count))
        inmemory.append(pymerkle_inmemory_append(args.window))
        single_path.unlink()
        batched_path.unlink()
    out["pymerkle"] = {
        "sqlite_batched": {"rate": statistics.median(batched), "batch": batch, "runs": batched},
        "sqlite_single": {"rate": statistics.median(single), "runs": single},
        "inmemory": {"rate": statistics.median(inmemory), "runs": inmemory},
    }
    progress(
        f"pymerkle append: SqliteTree batches of {batch} {statistics.median(batched):,.0f}/s, "
        f"SqliteTree one by one {statistics.median(single):,.0f}/s, "
        f"InmemoryTree {statistics.median(inmemory):,.0f}/s"
    )
    return out


# --- 2. the filled log and proofs ------------------------------------------------------------


class RelayLog:
    """The relay's log grown in place across sizes, written by the store's round writes."""

    def __init__(self, target: Target, signer: NoteSigner) -> None:
        self.target = target
        self.signer = signer

    async def fill_to(self, size: int) -> float:
        """Append bench entries up to ``size`` in bulk rounds; return the seconds it took."""
        engine = self.target.make_engine()
        try:
            store = LogStore(engine)
            sessions = session_factory(engine)
            frontier, latest = await store.load_frontier()
            start = time.perf_counter()
            if latest is None:
                await self._commit(sessions, store, frontier, frontier, [], [])
            while frontier.size < size:
                entries = list(bench_entries(frontier.size, min(size, frontier.size + FILL_ROUND)))
                new = frontier.copy()
                nodes: list[tuple[int, int, bytes]] = []
                for entry in entries:
                    new.append(hash_leaf(entry), nodes)
                await self._commit(sessions, store, frontier, new, entries, nodes)
                frontier = new
            return time.perf_counter() - start
        finally:
            await engine.dispose()

    async def _commit(self, sessions, store, old, new, entries, nodes) -> None:
        root = new.root()
        note = sign_checkpoint(Checkpoint(self.signer.name, new.size, root), self.signer)
        async with sessions() as session, session.begin():
            if entries:
                await store.insert_entries(session, old.size, entries)
            await store.insert_nodes(session, nodes)
            await store.insert_checkpoint(session, StoredCheckpoint(new.size, root, note))


def pymerkle_fill_to(path: Path, size: int) -> float:
    tree = pymerkle.SqliteTree(str(path))
    try:
        start = time.perf_counter()
        current = tree.get_size()
        if current < size:
            tree.append_entries(bench_entries(current, size))
        return time.perf_counter() - start
    finally:
        tree.close()


def pymerkle_cold(path: Path, kind: str, size: int, reps: int, seed: int) -> dict[str, Any]:
    """Rate of the first COLD_PROOFS proofs of a freshly opened SqliteTree, ``reps`` times."""
    rates = []
    for rep in range(reps):
        tree = pymerkle.SqliteTree(str(path))
        try:
            step = pymerkle_step(tree, kind, size, random.Random(seed + rep))
            start = time.perf_counter()
            for _ in range(COLD_PROOFS):
                step()
            rates.append(COLD_PROOFS / (time.perf_counter() - start))
        finally:
            tree.close()
    return {"rate": statistics.median(rates), "runs": rates}


def pymerkle_warm_up(tree: pymerkle.SqliteTree, size: int, seed: int) -> dict[str, Any]:
    """Prove until fewer than WARM_MISS_RATE of the proofs in a one-second chunk miss."""
    rnd = random.Random(seed)
    steps = [pymerkle_step(tree, kind, size, rnd) for kind in ("inclusion", "consistency")]
    start = time.perf_counter()
    proofs = 0
    while True:
        misses = tree.get_cache_info().misses
        chunk_start, chunk = time.perf_counter(), 0
        while time.perf_counter() - chunk_start < 1.0 or chunk < 200:
            steps[chunk % 2]()
            chunk += 1
        proofs += chunk
        miss_rate = (tree.get_cache_info().misses - misses) / chunk
        elapsed = time.perf_counter() - start
        if miss_rate < WARM_MISS_RATE or elapsed > WARM_CAP_S:
            info = tree.get_cache_info()
            return {
                "seconds": elapsed,
                "proofs": proofs,
                "last_miss_rate": miss_rate,
                "capped": miss_rate >= WARM_MISS_RATE,
                "cache_bytes": info.size,
                "cache_misses": info.misses,
            }


async def check_against_pymerkle(
    store: LogStore, tree: pymerkle.SqliteTree, size: int, seed: int
) -> None:
    """The relay's root equals pymerkle's, and sampled relay proofs verify against its roots."""
    root = tree.get_root(size)
    if await store.root_at(size) != root:
        raise RuntimeError(f"The relay's root at {size} differs from pymerkle's.")
    rnd = random.Random(seed)
    for _ in range(8):
        index = rnd.randrange(size)
        proof = await store.inclusion_proof(index, size)
        verify_inclusion(hash_leaf(bench_entry(index)), index, size, proof, root)
        old = rnd.randrange(1, size)
        proof = await store.consistency_proof(old, size)
        verify_consistency(old, size, proof, tree.get_root(old), root)


async def measure_proofs(args, size: int, logs: dict[str, RelayLog], pm_path: Path):
    """Relay (each backend) and pymerkle SqliteTree proof rates at ``size``."""
    out: dict[str, Any] = {"relay": {}, "pymerkle_sqlite_cold": {}, "pymerkle_sqlite_warm": {}}
    seed = size
    for kind in ("inclusion", "consistency"):
        out["pymerkle_sqlite_cold"][kind] = pymerkle_cold(
            pm_path, kind, size, min(args.reps, 3), seed
        )
        progress(
            f"pymerkle SqliteTree cold {kind} at {fmt_size(size)}: "
            f"{out['pymerkle_sqlite_cold'][kind]['rate']:,.1f}/s"
        )
    tree = pymerkle.SqliteTree(str(pm_path))
    engines = {backend: log.target.make_engine() for backend, log in logs.items()}
    try:
        warm = pymerkle_warm_up(tree, size, seed + 1)
        out["pymerkle_sqlite_warm"]["warm_up"] = warm
        progress(
            f"pymerkle SqliteTree warm-up at {fmt_size(size)}: {warm['seconds']:.1f}s, "
            f"{warm['proofs']:,} proofs, cache {warm['cache_bytes'] / 2**20:.1f} MB"
        )
        stores = {backend: LogStore(engine) for backend, engine in engines.items()}
        for store in stores.values():
            await check_against_pymerkle(store, tree, size, seed + 2)
            # One untimed window so every engine starts with its connection open.
            await atimed_window(relay_step(store, "inclusion", size, random.Random(0)), 0.2)
        rnd = random.Random(seed + 3)
        for kind in ("inclusion", "consistency"):
            relay_runs: dict[str, list[float]] = {backend: [] for backend in stores}
            pm_runs: list[float] = []
            misses = tree.get_cache_info().misses
            for _ in range(args.reps):
                # Alternate relay and pymerkle windows so machine noise hits both alike.
                for backend, store in stores.items():
                    relay_runs[backend].append(
                        await atimed_window(relay_step(store, kind, size, rnd), args.window)
                    )
                pm_runs.append(timed_window(pymerkle_step(tree, kind, size, rnd), args.window))
            for backend, runs in relay_runs.items():
                out["relay"].setdefault(backend, {})[kind] = {
                    "rate": statistics.median(runs),
                    "runs": runs,
                }
                progress(
                    f"relay [{backend}] {kind} at {fmt_size(size)}: "
                    f"{statistics.median(runs):,.0f}/s"
                )
            out["pymerkle_sqlite_warm"][kind] = {
                "rate": statistics.median(pm_runs),
                "runs": pm_runs,
                "cache_misses_while_timed": tree.get_cache_info().misses - misses,
                # Each relay window ran right before a pymerkle window: the median of the
                # per-pair ratios cancels load that other processes put on the machine.
                "paired_ratio": {
                    backend: statistics.median(r / p for r, p in zip(runs, pm_runs, strict=True))
                    for backend, runs in relay_runs.items()
                },
            }
            progress(
                f"pymerkle SqliteTree warm {kind} at {fmt_size(size)}: "
                f"{statistics.median(pm_runs):,.0f}/s"
            )
    finally:
        tree.close()
        for engine in engines.values():
            await engine.dispose()
    return out


async def measure_growth(
    args: argparse.Namespace, small: RelayLog, small_size: int, large: RelayLog, large_size: int
) -> dict[str, Any]:
    """Time per proof at the largest size over that at the smallest, windows alternating
    between a log of each size so that load from other processes cancels out."""
    small_engine, large_engine = small.target.make_engine(), large.target.make_engine()
    out: dict[str, Any] = {"small_size": small_size, "large_size": large_size}
    try:
        stores = {"small": (LogStore(small_engine), small_size)}
        stores["large"] = (LogStore(large_engine), large_size)
        rnd = random.Random(7)
        for store, size in stores.values():
            await atimed_window(relay_step(store, "inclusion", size, rnd), 0.2)
        for kind in ("inclusion", "consistency"):
            runs: dict[str, list[float]] = {"small": [], "large": []}
            for _ in range(args.reps):
                for name, (store, size) in stores.items():
                    step = relay_step(store, kind, size, rnd)
                    runs[name].append(await atimed_window(step, args.window))
            paired = statistics.median(
                s / big for s, big in zip(runs["small"], runs["large"], strict=True)
            )
            out[kind] = {"paired_growth": paired, "runs": runs}
            progress(
                f"relay [{small.target.backend}] {kind} proof time "
                f"{fmt_size(large_size)}/{fmt_size(small_size)}: {paired:.2f}x (paired windows)"
            )
    finally:
        await small_engine.dispose()
        await large_engine.dispose()
    return out


# --- 3. subprocess workers (memory, and InmemoryTree whose size would skew this process) ------


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.log", "--worker", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"bench.log worker {spec['kind']} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


async def worker_relay(spec: dict[str, Any]) -> dict[str, Any]:
    """A relay process: load the log, append the next entries via the sequencer, prove."""
    start_memory = read_memory()
    target = Target(spec["backend"], spec["url"], spec["schema"])
    signer = NoteSigner(LOG_NAME, LOG_SEED)
    engine = target.make_engine()
    try:
        store = LogStore(engine)
        sequencer = await Sequencer.start(store, signer)
        first, count = spec["first"], spec["count"]
        if sequencer.tree_size != first:
            raise RuntimeError(f"Expected a log of {first}, found {sequencer.tree_size}.")
        next_index = first

        async def submitter() -> None:
            nonlocal next_index
            while next_index < first + count:
                index = next_index
                next_index += 1
                # submit() queues before its first await, so entries land in index order and
                # the log stays the same sequence as pymerkle's trees.
                receipt = await sequencer.submit(
                    RecordType.ENVELOPE, index.to_bytes(8, "big"), received_ms=T0_MS + index
                )
                if receipt.index != index or receipt.entry != bench_entry(index):
                    raise RuntimeError(f"Entry {index} landed at {receipt.index}.")

        started = time.perf_counter()
        await asyncio.gather(*(submitter() for _ in range(spec["submitters"])))
        append_seconds = time.perf_counter() - started
        await sequencer.close()
        size = sequencer.tree_size
        rnd = random.Random(size)
        for _ in range(MEMORY_INCLUSION):
            await store.inclusion_proof(rnd.randrange(size), size)
        for _ in range(MEMORY_CONSISTENCY):
            await store.consistency_proof(rnd.randrange(1, size), size)
        gc.collect()
        memory = read_memory()
    finally:
        await engine.dispose()
    return {
        "size": size,
        "append_rate": count / append_seconds,
        "start_rss_mb": start_memory["rss_mb"],
        **memory,
    }


def worker_pymerkle_sqlite(spec: dict[str, Any]) -> dict[str, Any]:
    start_memory = read_memory()
    tree = pymerkle.SqliteTree(spec["path"])
    try:
        first, count = spec["first"], spec["count"]
        if tree.get_size() != first:
            raise RuntimeError(f"Expected a tree of {first}, found {tree.get_size()}.")
        tree.append_entries(list(bench_entries(first, first + count)))
        size = tree.get_size()
        rnd = random.Random(size)
        started = time.perf_counter()
        for _ in range(MEMORY_INCLUSION):
            tree.prove_inclusion(rnd.randrange(size) + 1, size)
        for _ in range(MEMORY_CONSISTENCY):
            tree.prove_consistency(rnd.randrange(1, size), size)
        proof_seconds = time.perf_counter() - started
        gc.collect()
        return {
            "size": size,
            "proof_seconds": proof_seconds,
            "cache_bytes": tree.get_cache_info().size,
            "start_rss_mb": start_memory["rss_mb"],
            **read_memory(),
        }
    finally:
        tree.close()


def worker_inmemory(spec: dict[str, Any]) -> dict[str, Any]:
    """Build an InmemoryTree of ``size`` entries with its own API, time proofs, read RSS."""
    start_memory = read_memory()
    size, window, reps = spec["size"], spec["window"], spec["reps"]
    tree = pymerkle.InmemoryTree()
    started = time.perf_counter()
    for first in range(0, size, 100_000):
        tree.append_entries(bench_entries(first, min(size, first + 100_000)))
    fill_seconds = time.perf_counter() - started
    rnd = random.Random(size)
    rates = {
        kind: [timed_window(pymerkle_step(tree, kind, size, rnd), window) for _ in range(reps)]
        for kind in ("inclusion", "consistency")
    }
    for _ in range(MEMORY_INCLUSION):
        tree.prove_inclusion(rnd.randrange(size) + 1, size)
    for _ in range(MEMORY_CONSISTENCY):
        tree.prove_consistency(rnd.randrange(1, size), size)
    gc.collect()
    return {
        "size": size,
        "root": tree.get_root(size).hex(),
        "fill_seconds": fill_seconds,
        "inclusion": {"rate": statistics.median(rates["inclusion"]), "runs": rates["inclusion"]},
        "consistency": {
            "rate": statistics.median(rates["consistency"]),
            "runs": rates["consistency"],
        },
        "start_rss_mb": start_memory["rss_mb"],
        **read_memory(),
    }


def worker_main(spec_text: str) -> int:
    spec = json.loads(spec_text)
    if spec["kind"] == "relay":
        result = asyncio.run(worker_relay(spec))
    elif spec["kind"] == "pymerkle-sqlite":
        result = worker_pymerkle_sqlite(spec)
    else:
        result = worker_inmemory(spec)
    print(json.dumps(result))
    return 0


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Row:
    metric: str
    size: str
    relay: float
    baseline_name: str
    baseline: float | None
    unit: str
    goal: str = ""
    met: bool | None = None
    higher_is_better: bool = True
    paired_ratio: float | None = None
    """Median of per-window ratios when relay and baseline were timed alternately."""

    @property
    def ratio(self) -> float | None:
        if self.paired_ratio is not None:
            return self.paired_ratio
        if self.baseline is None or self.baseline == 0:
            return None
        return self.relay / self.baseline

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        return data


@dataclass
class Results:
    args: dict[str, Any]
    environment: dict[str, Any]
    appends: dict[str, Any] = field(default_factory=dict)
    fills: dict[str, Any] = field(default_factory=dict)
    proofs: dict[str, Any] = field(default_factory=dict)
    inmemory: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    growth: dict[str, Any] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def run(args: argparse.Namespace) -> Results:
    backends = {"sqlite": ["sqlite"], "postgres": ["postgresql"], "both": ["sqlite", "postgresql"]}[
        args.db
    ]
    results = Results(
        args={k: v for k, v in vars(args).items() if k != "worker"},
        environment={
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "pymerkle": pymerkle.__version__,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "backends": backends,
            "loadavg_start": os.getloadavg()[0],
        },
    )
    started = time.perf_counter()
    signer = NoteSigner(LOG_NAME, LOG_SEED)
    with tempfile.TemporaryDirectory(prefix="closedset-bench-log-") as tmp_name:
        tmp = Path(tmp_name)
        results.appends = await measure_appends(args, backends, tmp, signer)

        logs: dict[str, RelayLog] = {}
        small_logs: dict[str, RelayLog] = {}
        try:
            for backend in backends:
                logs[backend] = RelayLog(await new_target(backend, tmp, args.pg_url), signer)
                if len(args.sizes) > 1:
                    # A second log that stays at the smallest size, for the paired growth figure.
                    small = RelayLog(await new_target(backend, tmp, args.pg_url), signer)
                    small_logs[backend] = small
                    await small.fill_to(min(args.sizes))
            pm_path = tmp / "pymerkle-proofs.db"
            for size in args.sizes:
                fills: dict[str, float] = {}
                for backend, log in logs.items():
                    fills[f"relay/{backend}"] = await log.fill_to(size)
                fills["pymerkle_sqlite"] = pymerkle_fill_to(pm_path, size)
                results.fills[str(size)] = fills
                progress(
                    f"filled to {fmt_size(size)}: "
                    + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in fills.items())
                )
                results.proofs[str(size)] = await measure_proofs(args, size, logs, pm_path)
                results.checks.append(
                    f"{fmt_size(size)}: relay roots and 8+8 sampled relay proofs verified "
                    "against pymerkle SqliteTree roots"
                )
                inmemory = run_worker(
                    {"kind": "inmemory", "size": size, "window": args.window, "reps": args.reps}
                )
                pm_root = await asyncio.to_thread(_pymerkle_root, pm_path, size)
                if inmemory["root"] != pm_root:
                    raise RuntimeError(f"InmemoryTree and SqliteTree roots differ at {size}.")
                results.inmemory[str(size)] = inmemory
                progress(
                    f"InmemoryTree at {fmt_size(size)}: fill {inmemory['fill_seconds']:.1f}s, "
                    f"inclusion {inmemory['inclusion']['rate']:,.0f}/s, consistency "
                    f"{inmemory['consistency']['rate']:,.0f}/s, RSS {inmemory['rss_mb']:.1f} MB"
                )
                memory: dict[str, Any] = {"inmemory": inmemory}
                for backend, log in logs.items():
                    memory[f"relay/{backend}"] = run_worker(
                        {
                            "kind": "relay",
                            "backend": log.target.backend,
                            "url": log.target.url,
                            "schema": log.target.schema,
                            "first": size,
                            "count": MEMORY_APPENDS,
                            "submitters": max(args.submitters),
                        }
                    )
                    progress(
                        f"relay process [{backend}] at {fmt_size(size)}: RSS "
                        f"{memory[f'relay/{backend}']['rss_mb']:.1f} MB, appends "
                        f"{memory[f'relay/{backend}']['append_rate']:,.0f}/s"
                    )
                memory["pymerkle_sqlite"] = run_worker(
                    {
                        "kind": "pymerkle-sqlite",
                        "path": str(pm_path),
                        "first": size,
                        "count": MEMORY_APPENDS,
                    }
                )
                progress(
                    f"pymerkle SqliteTree process at {fmt_size(size)}: RSS "
                    f"{memory['pymerkle_sqlite']['rss_mb']:.1f} MB"
                )
                results.memory[str(size)] = memory
            for backend, small in small_logs.items():
                results.growth[backend] = await measure_growth(
                    args, small, min(args.sizes), logs[backend], max(args.sizes)
                )
        finally:
            for log in [*logs.values(), *small_logs.values()]:
                await drop_target(log.target)
    results.seconds = time.perf_counter() - started
    results.environment["loadavg_end"] = os.getloadavg()[0]
    return results


def _pymerkle_root(path: Path, size: int) -> str:
    tree = pymerkle.SqliteTree(str(path))
    try:
        return tree.get_root(size).hex()
    finally:
        tree.close()


def build_rows(results: Results, args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    backends = results.environment["backends"]
    pm_append = results.appends["pymerkle"]
    for backend in backends:
        for submitters in args.submitters:
            relay = results.appends["relay"][f"{backend}/{submitters}"]
            goal = backend == "sqlite" and submitters == max(args.submitters)
            rate = relay["rate"]
            metric = f"durable appends/s [{backend}, {submitters} submitters]"
            rows.append(
                Row(
                    metric,
                    "-",
                    rate,
                    f"SqliteTree.append_entries x{pm_append['sqlite_batched']['batch']}",
                    pm_append["sqlite_batched"]["rate"],
                    "/s",
                    f">= {GOAL_APPENDS:,.0f}/s" if goal else "",
                    rate >= GOAL_APPENDS if goal else None,
                )
            )
            if submitters == max(args.submitters):
                rows.append(
                    Row(
                        metric,
                        "-",
                        rate,
                        "SqliteTree.append_entry",
                        pm_append["sqlite_single"]["rate"],
                        "/s",
                    )
                )
                rows.append(
                    Row(
                        metric,
                        "-",
                        rate,
                        "InmemoryTree.append_entry (not durable)",
                        pm_append["inmemory"]["rate"],
                        "/s",
                    )
                )
    largest, smallest = max(args.sizes), min(args.sizes)
    for size in args.sizes:
        proofs = results.proofs[str(size)]
        for kind in ("inclusion", "consistency"):
            for backend in backends:
                rate = proofs["relay"][backend][kind]["rate"]
                metric = f"{kind} proofs/s [{backend}]"
                warm = proofs["pymerkle_sqlite_warm"][kind]
                for name, baseline, is_goal, paired in (
                    ("SqliteTree cold", proofs["pymerkle_sqlite_cold"][kind]["rate"], True, None),
                    ("SqliteTree warm", warm["rate"], True, warm["paired_ratio"][backend]),
                    ("InmemoryTree", results.inmemory[str(size)][kind]["rate"], False, None),
                ):
                    goal = is_goal and size == largest
                    row = Row(
                        metric,
                        fmt_size(size),
                        rate,
                        name,
                        baseline,
                        "/s",
                        f">= {GOAL_PROOF_RATIO:g}x" if goal else "",
                        paired_ratio=paired,
                    )
                    if goal:
                        row.met = (row.ratio or 0) >= GOAL_PROOF_RATIO
                    rows.append(row)
    if largest != smallest:
        for kind in ("inclusion", "consistency"):
            for backend in backends:
                growth = results.growth[backend][kind]["paired_growth"]
                pm_growth = (
                    results.proofs[str(smallest)]["pymerkle_sqlite_warm"][kind]["rate"]
                    / results.proofs[str(largest)]["pymerkle_sqlite_warm"][kind]["rate"]
                )
                rows.append(
                    Row(
                        f"{kind} proof time {fmt_size(largest)}/{fmt_size(smallest)} [{backend}]",
                        "-",
                        growth,
                        "SqliteTree warm",
                        pm_growth,
                        "x",
                        f"<= {GOAL_PROOF_GROWTH:g}x",
                        growth <= GOAL_PROOF_GROWTH,
                        False,
                    )
                )
        for backend in backends:
            key = f"relay/{backend}"
            growth = (
                results.memory[str(largest)][key]["rss_mb"]
                - results.memory[str(smallest)][key]["rss_mb"]
            )
            for name, other in (("SqliteTree", "pymerkle_sqlite"), ("InmemoryTree", "inmemory")):
                baseline = (
                    results.memory[str(largest)][other]["rss_mb"]
                    - results.memory[str(smallest)][other]["rss_mb"]
                )
                rows.append(
                    Row(
                        f"RSS growth {fmt_size(smallest)} -> {fmt_size(largest)} [{backend}]",
                        "-",
                        growth,
                        name,
                        baseline,
                        "MB",
                        f"< {GOAL_MEMORY_MB:g} MB",
                        growth < GOAL_MEMORY_MB,
                        False,
                    )
                )
    return rows


def render(results: Results, rows: list[Row]) -> str:
    env = results.environment
    header = ("metric", "size", "relay", "baseline (pymerkle)", "ratio", "goal", "met?")
    table = [header]
    for r in rows:
        ratio = r.ratio
        table.append(
            (
                r.metric,
                r.size,
                fmt_num(r.relay, r.unit),
                f"{r.baseline_name}: {fmt_num(r.baseline, r.unit)}",
                "-" if ratio is None else f"{ratio:,.2f}",
                r.goal or "-",
                "-" if r.met is None else ("yes" if r.met else "NO"),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        f"Audit log vs pymerkle {env['pymerkle']} (Python {env['python']}, SQLite {env['sqlite']}, "
        f"{env['cpus']} CPUs; {results.seconds:.0f}s; load average at start "
        f"{env['loadavg_start']:.2f}, at end {env['loadavg_end']:.2f}).",
        "Ratio = relay / baseline (lower is better for time and MB); rates are medians of "
        "timed windows; against SqliteTree warm, the median of paired window ratios.",
        "",
    ]
    for i, row in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[n]) for n, cell in enumerate(row)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("Details:")
    for size, proofs in results.proofs.items():
        warm = proofs["pymerkle_sqlite_warm"]["warm_up"]
        lines.append(
            f"  pymerkle SqliteTree warm-up at {fmt_size(int(size))}: {warm['seconds']:.1f}s, "
            f"{warm['proofs']:,} proofs, subroot cache {warm['cache_bytes'] / 2**20:.1f} MB"
            + (" (capped, not fully warm)" if warm["capped"] else "")
        )
    for size, memory in results.memory.items():
        parts = [
            f"{name} {data['rss_mb']:.1f} MB (peak {data['hwm_mb']:.1f}, "
            f"at start {data['start_rss_mb']:.1f})"
            for name, data in memory.items()
        ]
        lines.append(f"  RSS at {fmt_size(int(size))}: " + "; ".join(parts))
        for name, data in memory.items():
            if name.startswith("relay/"):
                lines.append(
                    f"  {name} sequencer appends at {data['size'] - MEMORY_APPENDS:,} entries: "
                    f"{data['append_rate']:,.0f}/s ({MEMORY_APPENDS:,} entries)"
                )
    for size, fills in results.fills.items():
        lines.append(
            f"  fill to {fmt_size(int(size))} (from the previous size): "
            + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in fills.items())
        )
    lines.extend(f"  check: {check}" for check in results.checks)
    return "\n".join(lines)


def parse_sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(sorted({int(float(part)) for part in text.split(",") if part.strip()}))
    if not sizes or sizes[0] < 2:
        raise argparse.ArgumentTypeError("sizes must be integers of at least 2")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The relay's audit log against pymerkle.")
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=None,
        help="tree sizes for proofs and memory (default 10000,100000,1000000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="sizes 1000,10000, shorter windows: a fast check, not the figures",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("CLOSEDSET_TEST_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions per figure")
    parser.add_argument("--window", type=float, default=None, help="seconds per timed window")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    if args.sizes is None:
        args.sizes = QUICK_SIZES if args.quick else DEFAULT_SIZES
    args.reps = args.reps or (3 if args.quick else 7)
    args.window = args.window or (0.3 if args.quick else 0.7)
    args.append_count = 5_000 if args.quick else 20_000
    args.submitters = (64, 256)
    results = asyncio.run(run(args))
    rows = build_rows(results, args)
    if args.json:
        payload = asdict(results)
        payload["rows"] = [row.to_json() for row in rows]
        print(json.dumps(payload, indent=2))
    else:
        print(render(results, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
