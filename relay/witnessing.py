"""The relay's witness client: each new checkpoint goes to every configured C2SP tlog-witness
with a consistency proof; the cosignatures that verify are stored and appended to the note
served at ``/log/checkpoint``. Receipts keep the log-only checkpoint; nothing here blocks a round.

A background task (``witnessing_context``, started after storage) polls the latest checkpoint
and submits it; a witness's last size is remembered from its cosignatures or learned from a 409.
Configuration: ``[[witnesses]]`` tables with ``url`` and ``key`` (docs/witness.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
from aiohttp import web
from sqlalchemy import BigInteger, Index, LargeBinary, Table, Text, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from keys.checkpoint import open_checkpoint
from keys.cosignature import CosignatureVerifier
from keys.errors import KeysError
from keys.note import MAX_SIGNATURES, NoteSignature, NoteVerifier, std_b64encode
from relay.db.base import Base
from relay.db.trouble import describe_failure
from relay.log.http import LOG_CHECKPOINT_VIEW, LOG_STORE, LOG_VERIFIER_KEY
from relay.log.store import LogStore, StoredCheckpoint

_log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 300.0


class WitnessConfigError(ValueError):
    """A ``[[witnesses]]`` entry cannot be used; the message names the entry and the key."""


@dataclass(frozen=True, slots=True)
class WitnessEndpoint:
    """One configured witness: its submission prefix and its cosignature verifier key."""

    url: str
    key: str

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier.from_key_string(self.key)


def load_witness_config(raw: Any) -> tuple[WitnessEndpoint, ...]:
    """Parse the ``witnesses`` array of tables; raise :class:`WitnessConfigError`."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise WitnessConfigError("The key 'witnesses' must be an array of tables ([[witnesses]]).")
    endpoints: list[WitnessEndpoint] = []
    for n, entry in enumerate(raw, 1):
        if not isinstance(entry, dict) or set(entry) != {"url", "key"}:
            raise WitnessConfigError(f"Witness {n} must have exactly the keys 'url' and 'key'.")
        url, key = entry["url"], entry["key"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise WitnessConfigError(f"The 'url' of witness {n} must be an http(s) URL.")
        try:
            CosignatureVerifier.from_key_string(key)
        except (KeysError, TypeError, AttributeError) as exc:
            raise WitnessConfigError(
                f"The 'key' of witness {n} is not a cosignature verifier key: {exc}"
            ) from exc
        endpoints.append(WitnessEndpoint(url.rstrip("/"), key))
    if len({e.key for e in endpoints}) != len(endpoints):
        raise WitnessConfigError("Two witnesses share one key; list each witness once.")
    return tuple(endpoints)


class LogCosignature(Base):
    """A witness's verified cosignature of the checkpoint of one tree size, as a note line."""

    __tablename__ = "log_cosignatures"
    # Keyed by size first: serving /log/checkpoint looks up one size. The index answers
    # "how far has this witness cosigned" at startup.
    __table_args__ = (Index("ix_log_cosignatures_witness_key_size", "witness_key", "size"),)

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    witness_key: Mapped[str] = mapped_column(Text, primary_key=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    line: Mapped[str] = mapped_column(Text, nullable=False)
    cosigned_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


_cosignatures = cast(Table, LogCosignature.__table__)


class CosignatureStore:
    """Reads and writes of ``log_cosignatures``; rows are only inserted, never changed."""

    def __init__(self, store: LogStore) -> None:
        self.engine = store.engine

    async def latest_sizes(self) -> dict[str, int]:
        """The largest tree size each witness has cosigned for us."""
        query = select(_cosignatures.c.witness_key, func.max(_cosignatures.c.size)).group_by(
            _cosignatures.c.witness_key
        )
        async with self.engine.connect() as conn:
            return {key: int(size) for key, size in await conn.execute(query)}

    async def lines(self, checkpoint: StoredCheckpoint) -> list[str]:
        """Cosignature lines for exactly this checkpoint (size and root), in a stable order."""
        query = (
            select(_cosignatures.c.line)
            .where(
                _cosignatures.c.size == checkpoint.size,
                _cosignatures.c.root_hash == checkpoint.root_hash,
            )
            .order_by(_cosignatures.c.witness_key)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def add(
        self, witness_key: str, checkpoint: StoredCheckpoint, line: str, cosigned_at: int
    ) -> None:
        """Keep a verified cosignature; a second one for the same size is dropped."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(_cosignatures)
            .values(
                witness_key=witness_key,
                size=checkpoint.size,
                root_hash=checkpoint.root_hash,
                line=line,
                cosigned_at=cosigned_at,
            )
            .on_conflict_do_nothing()
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)

    async def cosigned_note(self, checkpoint: StoredCheckpoint) -> str:
        """The checkpoint note with every stored cosignature line appended (signed-note)."""
        room = MAX_SIGNATURES - checkpoint.note.count("\n\u2014 ")
        return checkpoint.note + "".join((await self.lines(checkpoint))[: max(room, 0)])


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The tlog-witness request: ``old N``, base64 proof lines, an empty line, the note."""
    lines = [f"old {old_size}", *(std_b64encode(h) for h in proof)]
    return ("".join(line + "\n" for line in lines) + "\n" + note).encode("utf-8")


class Witnessing:
    """Gets the log's latest checkpoint cosigned by every configured witness."""

    def __init__(
        self,
        store: LogStore,
        log_verifier: NoteVerifier,
        witnesses: Sequence[WitnessEndpoint],
        *,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.cosignatures = CosignatureStore(store)
        self.log_verifier = log_verifier
        self.witnesses = tuple(witnesses)
        self.poll_seconds = poll_seconds
        self._monotonic = monotonic
        self._sizes: dict[str, int] = {}  # each witness's latest size, as far as we know
        self._done: dict[str, int] = {}  # the size each witness last cosigned for us
        self._failures: dict[str, int] = {}
        self._retry_at: dict[str, float] = {}
        self._wakeup = asyncio.Event()
        # One pass at a time: two passes would race each other's 409s and waste requests.
        self._pass_lock = asyncio.Lock()
        self._passed = asyncio.Condition()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load what the witnesses already cosigned and start the background task."""
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
        )
        self._done = await self.cosignatures.latest_sizes()
        self._sizes = dict(self._done)
        self._task = asyncio.create_task(self._run(), name="log-witnessing")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def notify(self) -> None:
        """Look for a new checkpoint now instead of at the next poll."""
        self._wakeup.set()

    async def wait_cosigned(self, size: int, witness_key: str) -> None:
        """Wait until ``witness_key`` has cosigned a checkpoint of at least ``size``."""
        async with self._passed:
            await self._passed.wait_for(lambda: self._done.get(witness_key, -1) >= size)

    async def _run(self) -> None:
        while True:
            # Cleared before the pass, so a notify() during it triggers the next one at once.
            self._wakeup.clear()
            try:
                await self.run_once()
            except Exception as exc:  # the task must outlive a database hiccup
                _log.error(
                    "Witnessing pass failed (%s); retrying at the next poll",
                    describe_failure(exc),
                )
                _log.debug("Witnessing pass failure", exc_info=exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.poll_seconds)

    async def run_once(self) -> None:
        """Submit the latest checkpoint to every witness that has not cosigned it yet."""
        async with self._pass_lock:
            latest = await self.store.latest_checkpoint()
            if latest is not None:
                now = self._monotonic()
                due = [
                    w
                    for w in self.witnesses
                    if self._done.get(w.key, -1) < latest.size
                    and self._retry_at.get(w.key, 0) <= now
                ]
                await asyncio.gather(*(self._submit_safely(w, latest) for w in due))
        async with self._passed:
            self._passed.notify_all()

    async def _submit_safely(self, witness: WitnessEndpoint, latest: StoredCheckpoint) -> None:
        try:
            ok = await self._submit(witness, latest)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            _log.warning("Witness %s cannot be reached: %s", witness.url, exc)
            ok = False
        if ok:
            self._failures.pop(witness.key, None)
            self._retry_at.pop(witness.key, None)
        else:
            # Back off so a dead or refusing witness is not asked every poll.
            failures = self._failures[witness.key] = self._failures.get(witness.key, 0) + 1
            delay = min(self.poll_seconds * 2**failures, MAX_BACKOFF_SECONDS)
            self._retry_at[witness.key] = self._monotonic() + delay

    async def _submit(self, witness: WitnessEndpoint, latest: StoredCheckpoint) -> bool:
        assert self._session is not None
        for _ in range(2):  # a 409 teaches us the witness's size once; then one retry
            old = self._sizes.get(witness.key, 0)
            if old > latest.size:
                _log.warning(
                    "Witness %s has cosigned size %d, beyond our latest %d; trying later",
                    witness.url,
                    old,
                    latest.size,
                )
                return False
            proof = await self.store.consistency_proof(old, latest.size) if old else []
            body = add_checkpoint_body(old, proof, latest.note)
            async with self._session.post(witness.url + "/add-checkpoint", data=body) as response:
                text = await response.text(errors="replace")
                status = response.status
            if status == 200:
                return await self._keep(witness, latest, text)
            if status != 409:
                _log.warning(
                    "Witness %s refused size %d with %d: %s",
                    witness.url,
                    latest.size,
                    status,
                    text.strip()[:200],
                )
                return False
            size = _parse_size(text)
            if size is None or size == old:
                # Same size, different root: the witness saw another history of this log.
                _log.error(
                    "Witness %s holds a different tree of size %d than this log: split view "
                    "or rewritten log; investigate before anything else",
                    witness.url,
                    old,
                )
                return False
            self._sizes[witness.key] = size
        return False

    async def _keep(self, witness: WitnessEndpoint, latest: StoredCheckpoint, text: str) -> bool:
        try:
            opened = open_checkpoint(
                latest.note + text,
                self.log_verifier,
                witnesses=[witness.verifier],
                min_witnesses=1,
            )
        except KeysError as exc:
            _log.warning("Witness %s answered without a valid cosignature: %s", witness.url, exc)
            return False
        verifier, signature = opened.witness_signatures[0]
        line = NoteSignature(verifier.name, verifier.key_id, signature).to_line()
        await self.cosignatures.add(
            witness.key, latest, line, CosignatureVerifier.timestamp(signature)
        )
        self._sizes[witness.key] = latest.size
        self._done[witness.key] = latest.size
        return True


def _parse_size(text: str) -> int | None:
    value = text.strip()
    return int(value) if value.isdigit() and value == str(int(value)) else None


WITNESSING = web.AppKey("closedset.log.witnessing", Witnessing)


def add_witnessing(app: web.Application, witnesses: Sequence[WitnessEndpoint]) -> None:
    """Serve stored cosignatures on ``/log/checkpoint``; with witnesses, run the task too."""
    cosignatures = CosignatureStore(app[LOG_STORE])
    app[LOG_CHECKPOINT_VIEW] = cosignatures.cosigned_note
    if not witnesses:
        return

    async def witnessing_context(app: web.Application) -> AsyncIterator[None]:
        # Appended after storage, so migrations have run and it stops first.
        verifier = NoteVerifier.from_key_string(app[LOG_VERIFIER_KEY])
        witnessing = Witnessing(app[LOG_STORE], verifier, witnesses)
        await witnessing.start()
        app[WITNESSING] = witnessing
        try:
            yield
        finally:
            await witnessing.close()

    app.cleanup_ctx.append(witnessing_context)
