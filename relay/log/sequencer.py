"""The sequencer: pools submissions into rounds and commits each round in one transaction.

Group commit, Sunlight-style: a lone submission is sequenced at once; while a round is being
committed, new submissions pool for the next one. A round's entries, the subtree hashes they
complete, the callers' own rows and the new signed checkpoint commit together, and only then
are the submitters answered. Memory holds the right-edge frontier only (O(log n) hashes).

Callers add their own rows to the round's transaction in one of two ways: a per-submission
``extra`` callback (rare paths, such as identity records), or a *round writer* registered for a
record type (:meth:`Sequencer.add_round_writer`), which receives all of the round's
submissions of that type at once, with the opaque ``row`` each submitter passed, so that it
can check and write them in a constant number of statements per round (the hot path).

Failure rules:

- a caller's ``extra`` (or a record-type hook run for it, :meth:`Sequencer.add_hook`) raises
  (anything but database trouble, ``relay.db.trouble``, which fails the round as below),
  or a round writer raises :class:`Withdraw` naming some of its items: the round is rolled
  back, those submitters alone get their exceptions, and the round is retried at once without
  them (their entries never existed). Withdrawn submitters are answered once the retried round
  has ended, so that one withdrawn because another submission of the same round carries the
  same content finds that one committed;
- anything else fails (the database, the commit): every submitter of the round gets the
  exception, nothing of the round is visible, and the frontier is reloaded from the database
  (if another process appended meanwhile, the round is retried once on top of its work).

Liveness: with ``heartbeat`` (seconds), an idle sequencer signs its latest checkpoint again and
writes it (the same bytes: Ed25519 is deterministic and the body has no time) at least that
often, as Sunlight does, so that a database that no longer takes writes, or a key that no
longer signs, shows in :meth:`Sequencer.health` even when nobody submits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keys.checkpoint import Checkpoint, sign_checkpoint
from keys.merkle import hash_leaf
from keys.note import NoteSigner
from keys.tlogproof import TlogProof
from relay.db.engine import session_factory
from relay.db.trouble import describe_failure, is_database_trouble
from relay.log.entry import RecordType, entry_for
from relay.log.sqlite_rounds import SqliteRounds
from relay.log.store import LogStore, StoredCheckpoint
from relay.log.tree import Frontier, NodeKey, Range, compose_ranges, inclusion_ranges

_log = logging.getLogger(__name__)

DEFAULT_MAX_ROUND = 4096
GATHER_ITERATIONS = 3


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where a submission lands, handed to its ``extra`` callback before commit."""

    index: int
    leaf_hash: bytes
    entry: bytes


ExtraRows = Callable[[AsyncSession, LogPosition], Awaitable[None]]
"""Adds the caller's own rows to the round's transaction; raising withdraws the submission."""

RecordHook = Callable[[AsyncSession, LogPosition, bytes], Awaitable[None]]
"""Adds rows for every submission of one record type (given its logged bytes), after the
caller's ``extra``, in the same transaction: a transactional outbox, such as queued mail."""


@dataclass(eq=False, slots=True)
class RoundItem:
    """One submission as a round writer sees it; withdraw it by naming it in :class:`Withdraw`."""

    position: LogPosition
    logged: bytes
    """The submitted bytes (the log keeps only their hash)."""
    row: object
    """What the submitter passed as ``row`` to :meth:`Sequencer.submit` (None if nothing)."""
    received_ms: int


RoundWriter = Callable[[AsyncSession, list[RoundItem]], Awaitable[None]]
"""Adds the rows of every submission of one record type in a round (in log order), inside the
round's transaction; raises :class:`Withdraw` to take some of them out of the round."""


class Withdraw(Exception):
    """Raised by a round writer: these items leave the round, each submitter gets its error.

    The round is rolled back and retried at once without them, writers included.
    """

    def __init__(self, errors: Mapping[RoundItem, BaseException]) -> None:
        if not errors:
            raise ValueError("Withdraw names at least one item.")
        super().__init__(f"{len(errors)} submission(s) withdrawn from the round")
        self.errors = dict(errors)


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof that a submission is durably in the log, under a signed checkpoint."""

    index: int
    leaf_hash: bytes
    entry: bytes
    checkpoint: str
    """The signed checkpoint note (C2SP tlog-checkpoint) of the round that committed it."""
    tree_size: int
    inclusion_proof: tuple[bytes, ...]
    """RFC 6962 inclusion proof of ``leaf_hash`` at ``index`` in the tree of ``tree_size``."""

    def tlog_proof(self) -> str:
        """This receipt as a C2SP tlog-proof file, the form in which it travels to counsel."""
        return TlogProof(self.index, self.inclusion_proof, self.checkpoint).to_text()


class SequencerClosedError(RuntimeError):
    """The sequencer is shutting down (or stopped) and accepts no new submissions."""


class _WithdrawnError(Exception):
    def __init__(self, errors: dict[_Pending, BaseException]) -> None:
        super().__init__(f"{len(errors)} submission(s) withdrawn")
        self.errors = errors


@dataclass(eq=False, slots=True)
class _Pending:
    entry: bytes
    leaf_hash: bytes
    extra: ExtraRows | None
    future: asyncio.Future[Receipt]
    record_type: RecordType
    logged: bytes
    row: object
    received_ms: int


@dataclass(slots=True)
class _Round:
    batch: list[_Pending]
    old_frontier: Frontier
    frontier: Frontier
    new_nodes: list[tuple[int, int, bytes]]
    checkpoint: StoredCheckpoint


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Sequencer:
    """Appends entries to the log in durable rounds; use :meth:`start`, then :meth:`close`."""

    def __init__(
        self,
        store: LogStore,
        signer: NoteSigner,
        *,
        max_round: int = DEFAULT_MAX_ROUND,
        clock: Callable[[], int] = _now_ms,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        heartbeat: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        if max_round < 1:
            raise ValueError("A round must hold at least one submission.")
        self.store = store
        self.signer = signer
        self.origin = signer.name
        self.max_round = max_round
        self._clock = clock
        self._sessions = sessions or session_factory(store.engine)
        # On a SQLite file, a round is one hop to a worker thread (relay.log.sqlite_rounds).
        self._inline = None if sessions is not None else SqliteRounds.for_engine(store.engine)
        self._frontier = Frontier()
        self._latest: StoredCheckpoint | None = None
        self._pending: deque[_Pending] = deque()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._hooks: dict[RecordType, list[RecordHook]] = {}
        self._writers: dict[RecordType, list[RoundWriter]] = {}
        self.heartbeat = heartbeat
        self._monotonic = monotonic
        self._on_commit = on_commit
        self._last_ok = monotonic()
        self._last_error: str | None = None

    @classmethod
    async def start(cls, store: LogStore, signer: NoteSigner, **options: object) -> Sequencer:
        """Load the frontier from the database, sign the empty tree if new, start sequencing."""
        sequencer = cls(store, signer, **options)  # type: ignore[arg-type]
        await sequencer._reload()
        if sequencer._latest is None:
            await sequencer._commit_empty_checkpoint()
        sequencer._task = asyncio.create_task(sequencer._run(), name="log-sequencer")
        return sequencer

    @property
    def tree_size(self) -> int:
        """The size this process last committed or loaded."""
        return self._frontier.size

    @property
    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint this process last committed or loaded."""
        return self._latest

    def health(self) -> str | None:
        """None while healthy; else why not: the last round or heartbeat failed, or (with a
        heartbeat) none succeeded within twice its interval."""
        if self._last_error is not None:
            return f"the last log round failed ({self._last_error})"
        if self.heartbeat is not None:
            age = self._monotonic() - self._last_ok
            if age > 2 * self.heartbeat:
                return f"no checkpoint was written for {age:.0f} s"
        return None

    def _succeeded(self, size: int) -> None:
        self._last_ok = self._monotonic()
        self._last_error = None
        if self._on_commit is not None:
            self._on_commit(size)

    def _failed(self, error: BaseException) -> None:
        self._last_error = describe_failure(error)

    def add_hook(self, record_type: RecordType, hook: RecordHook) -> None:
        """Run ``hook`` inside the round's transaction for every later ``record_type`` entry."""
        self._hooks.setdefault(record_type, []).append(hook)

    def add_round_writer(self, record_type: RecordType, writer: RoundWriter) -> None:
        """Run ``writer`` inside every round's transaction with all of its ``record_type``
        submissions (after their ``extra`` and hooks; writers in the order they were added)."""
        self._writers.setdefault(record_type, []).append(writer)

    async def submit(
        self,
        record_type: RecordType,
        logged_bytes: bytes,
        *,
        received_ms: int | None = None,
        extra: ExtraRows | None = None,
        row: object = None,
    ) -> Receipt:
        """Log ``logged_bytes`` (only their SHA-256 is kept) and wait until it is durable.

        ``received_ms`` is the relay's receipt time (default: now). ``extra`` runs inside the
        round's transaction with the entry's position, to add the caller's own rows; it must
        execute its statements (``session.add`` alone is flushed right after it returns).
        ``row`` is handed, untouched, to the round writers of ``record_type``.
        """
        if self._closing or self._task is None:
            raise SequencerClosedError("The log sequencer is shut down and accepts no submissions.")
        when = self._clock() if received_ms is None else received_ms
        entry = entry_for(record_type, logged_bytes, when)
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._pending.append(
            _Pending(entry, hash_leaf(entry), extra, future, record_type, logged_bytes, row, when)
        )
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        """Refuse new submissions, commit those already accepted, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._inline is not None:
            self._inline.close()
            self._inline = None

    # --- the round loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                if self.heartbeat is None:
                    await self._wakeup.wait()
                    continue
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self.heartbeat)
                except TimeoutError:
                    await self._beat()
                continue
            # Let requests the event loop has already received reach submit() first (their
            # bytes are read, then their handlers run): under load a round takes them all,
            # and a lone submission waits only these few idle loop iterations.
            for _ in range(GATHER_ITERATIONS):
                await asyncio.sleep(0)
            batch: list[_Pending] = []
            while self._pending and len(batch) < self.max_round:
                pending = self._pending.popleft()
                # A submitter that gave up before its round began is simply not logged.
                if not pending.future.done():
                    batch.append(pending)
            if not batch:
                continue
            try:
                await self._sequence(batch)
            except BaseException as exc:  # the loop must outlive any single round
                _log.error("Log round failed unexpectedly: %s", describe_failure(exc))
                _log.debug("Log round failure", exc_info=exc)
                self._failed(exc)
                _fail(batch, exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise

    async def _sequence(self, batch: list[_Pending]) -> None:
        withdrawn: dict[_Pending, BaseException] = {}
        try:
            await self._sequence_without(batch, withdrawn)
        finally:
            for pending, error in withdrawn.items():
                if not pending.future.done():
                    pending.future.set_exception(error)

    async def _sequence_without(
        self, batch: list[_Pending], withdrawn: dict[_Pending, BaseException]
    ) -> None:
        raced_once = False
        while batch:
            round_ = self._plan(batch)
            try:
                await self._write(round_)
            except _WithdrawnError as failed:
                withdrawn.update(failed.errors)
                batch = [p for p in batch if p not in failed.errors]
                continue
            except Exception as exc:
                outcome = await self._after_failure(round_, exc)
                if outcome == "raced" and not raced_once:
                    raced_once = True
                    continue
                if outcome != "committed":
                    self._failed(exc)
                    _fail(batch, exc)
                    return
                # Committed after all: _after_failure already reloaded the frontier.
            else:
                self._frontier, self._latest = round_.frontier, round_.checkpoint
                self.store.note_size(round_.checkpoint.size)
            self._succeeded(self._frontier.size)
            _resolve(round_)
            return

    def _plan(self, batch: list[_Pending]) -> _Round:
        """Hash and sign the round in memory; nothing is written yet."""
        frontier = self._frontier.copy()
        new_nodes: list[tuple[int, int, bytes]] = []
        for pending in batch:
            frontier.append(pending.leaf_hash, new_nodes)
        root = frontier.root()
        note = sign_checkpoint(Checkpoint(self.origin, frontier.size, root), self.signer)
        checkpoint = StoredCheckpoint(frontier.size, root, note)
        return _Round(batch, self._frontier, frontier, new_nodes, checkpoint)

    async def _write(self, round_: _Round) -> None:
        await self._transaction(lambda session: self._write_body(session, round_))

    async def _transaction(self, body: Callable[[Any], Coroutine[Any, Any, None]]) -> None:
        if self._inline is not None:
            await self._inline.run(body)
            return
        async with self._sessions() as session, session.begin():
            await body(session)

    async def _beat(self) -> None:
        """The idle checkpoint: sign the latest tree again and write it (same bytes)."""
        latest = self._latest
        try:
            if latest is None:
                raise RuntimeError("the sequencer has no checkpoint")
            body = Checkpoint(self.origin, latest.size, latest.root_hash)
            note = sign_checkpoint(body, self.signer)
            if note != latest.note:
                raise RuntimeError("the log key signs the latest checkpoint differently")

            async def write(session: AsyncSession) -> None:
                if not await self.store.rewrite_checkpoint(session, latest):
                    raise RuntimeError(f"the checkpoint of size {latest.size} is not stored")

            await self._transaction(write)
        except Exception as exc:
            if self._last_error is None:
                _log.error("Idle log checkpoint failed: %s", describe_failure(exc))
                _log.debug("Idle log checkpoint failure", exc_info=exc)
            self._failed(exc)
            return
        self._succeeded(latest.size)

    async def _write_body(self, session: AsyncSession, round_: _Round) -> None:
        first = round_.old_frontier.size
        batch = round_.batch
        # Entries first: on SQLite (through the async driver) this takes the write lock before
        # any caller's reads, so a concurrent writer makes us wait (busy timeout) instead of
        # failing later; the one-hop SQLite rounds take it with BEGIN IMMEDIATE.
        await self.store.insert_entries(session, first, [p.entry for p in batch])
        for offset, pending in enumerate(batch):
            hooks = self._hooks.get(pending.record_type, ())
            if pending.extra is None and not hooks:
                continue
            position = LogPosition(first + offset, pending.leaf_hash, pending.entry)
            try:
                if pending.extra is not None:
                    await pending.extra(session, position)
                    await session.flush()
                for hook in hooks:
                    await hook(session, position, pending.logged)
                    await session.flush()
            except Exception as exc:
                if is_database_trouble(exc):
                    raise  # not this submission's fault: the round fails, for everyone in it
                raise _WithdrawnError({pending: exc}) from exc
        await self._run_writers(session, round_)
        await self.store.insert_nodes(session, round_.new_nodes)
        await self.store.insert_checkpoint(session, round_.checkpoint)

    async def _run_writers(self, session: AsyncSession, round_: _Round) -> None:
        if not self._writers:
            return
        first = round_.old_frontier.size
        by_type: dict[RecordType, list[tuple[RoundItem, _Pending]]] = {}
        for offset, pending in enumerate(round_.batch):
            if pending.record_type in self._writers:
                position = LogPosition(first + offset, pending.leaf_hash, pending.entry)
                item = RoundItem(position, pending.logged, pending.row, pending.received_ms)
                by_type.setdefault(pending.record_type, []).append((item, pending))
        for record_type, pairs in by_type.items():
            items = [item for item, _ in pairs]
            for writer in self._writers[record_type]:
                try:
                    await writer(session, items)
                except Withdraw as withdraw:
                    owner = {id(item): pending for item, pending in pairs}
                    errors = {owner[id(i)]: e for i, e in withdraw.errors.items() if id(i) in owner}
                    if not errors:
                        raise RuntimeError(
                            "A round writer withdrew items not its own."
                        ) from withdraw
                    raise _WithdrawnError(errors) from withdraw

    async def _after_failure(self, round_: _Round, error: Exception) -> str:
        """Find out what a failed round left behind: "committed", "raced" or "failed"."""
        try:
            await self._reload()
            stored = await self.store.checkpoint(round_.checkpoint.size)
        except Exception as exc:
            _log.error("Reloading the log after a failed round failed: %s", describe_failure(exc))
            _log.debug("Reload failure", exc_info=exc)
            return "failed"
        if stored is not None and stored.note == round_.checkpoint.note:
            # The commit reached the database although its acknowledgement did not reach
            # us (a connection lost during COMMIT): the round is durable, so answer it.
            _log.warning("A log round reported %s but had committed", describe_failure(error))
            return "committed"
        if self._frontier.size != round_.old_frontier.size:
            # Another relay process appended: our indices were stale and nothing of ours
            # committed, so the same round can go again on top of the new tree.
            return "raced"
        return "failed"

    async def _commit_empty_checkpoint(self) -> None:
        note = sign_checkpoint(Checkpoint(self.origin, 0, self._frontier.root()), self.signer)
        checkpoint = StoredCheckpoint(0, self._frontier.root(), note)
        try:
            async with self._sessions() as session, session.begin():
                await self.store.insert_checkpoint(session, checkpoint)
        except Exception:
            # Another process may have signed first; what the database holds now is the truth.
            await self._reload()
            if self._latest is None:
                raise
            return
        self._latest = checkpoint
        self._succeeded(0)

    async def _reload(self) -> None:
        self._frontier, self._latest = await self.store.load_frontier()


def _fail(batch: list[_Pending], error: BaseException) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(error)


def _resolve(round_: _Round) -> None:
    # Every proof node for a leaf of this round is either a node of the old frontier or a
    # node this round completed, so the receipts need no database reads.
    nodes: dict[NodeKey, bytes] = {(lvl, i): h for lvl, i, h in round_.old_frontier.nodes}
    nodes.update({(lvl, i): h for lvl, i, h in round_.new_nodes})
    cache: dict[Range, bytes] = {}
    checkpoint = round_.checkpoint
    first, size = round_.old_frontier.size, checkpoint.size
    for offset, pending in enumerate(round_.batch):
        if pending.future.done():
            continue
        index = first + offset
        proof = compose_ranges(inclusion_ranges(index, size), nodes.__getitem__, cache)
        pending.future.set_result(
            Receipt(index, pending.leaf_hash, pending.entry, checkpoint.note, size, tuple(proof))
        )
