"""The relay's own state at start-up: it never forks its log (docs/operating.md).

Three things belong together: the log signing key (``log-signing.key``), the database (whose
checkpoints the key signed) and, beside the key, this machine's record of the largest tree size
it signed (``log-signed-size``). Before the relay serves, :func:`decide` compares them:

- the primary check is the database's own latest checkpoint, which must verify under the key;
- a key file missing next to a non-empty log, a key that did not sign the stored log, or an
  empty database next to a key that has signed before are refused, each with one sentence
  that says what to restore;
- the record is a per-machine, best-effort second check: it catches a database restored from
  an older copy (it ends below a size this machine signed) and an empty database next to a
  key that signed before. It is written after rounds commit (off the event loop, at most once a
  second, and on shutdown), so a crash can leave it behind the database, never ahead of it.

A new log is created only on purpose: ``closedset relay init``, or the first start on a data
directory holding no key and no record, with an empty database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from keys.checkpoint import open_checkpoint
from keys.errors import KeysError
from keys.keystore import write_private_file
from keys.note import NoteSigner
from relay.log.store import StoredCheckpoint

_log = logging.getLogger(__name__)

RECORD_NAME = "log-signed-size"
_RECORD_MAGIC = "closedset relay signed-size v1"
NOTHING_SIGNED = "none"


class StartupError(RuntimeError):
    """The relay must not start; the message is one sentence naming what failed and the fix."""


def safe_url(url: str) -> str:
    """The database URL as it may be shown: without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(an unparsable database URL)"


@dataclass(frozen=True, slots=True)
class SignedRecord:
    """What this machine last recorded having signed with one key."""

    verifier_key: str
    size: int | None
    """The largest tree size signed, or None: the key was created and has signed nothing yet."""


def record_path(key_path: Path) -> Path:
    return key_path.with_name(RECORD_NAME)


def read_record(path: Path) -> SignedRecord | None:
    """The record at ``path``; None if there is none; StartupError if it cannot be read."""
    try:
        text = path.read_text("ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StartupError(f"The signed-size record {path} cannot be read ({exc}).") from exc
    lines = text.split("\n")
    if len(lines) != 4 or lines[0] != _RECORD_MAGIC or lines[3] != "":
        raise StartupError(
            f"The signed-size record {path} is damaged; restore it from the backup taken with "
            "the log key (or delete it if the database is certainly the newest copy)."
        )
    size_text = lines[2]
    if size_text == NOTHING_SIGNED:
        return SignedRecord(lines[1], None)
    if not size_text.isdigit() or (size_text.startswith("0") and size_text != "0"):
        raise StartupError(f"The signed-size record {path} has no valid size.")
    return SignedRecord(lines[1], int(size_text))


def write_record(path: Path, record: SignedRecord) -> None:
    size = NOTHING_SIGNED if record.size is None else str(record.size)
    data = f"{_RECORD_MAGIC}\n{record.verifier_key}\n{size}\n".encode("ascii")
    write_private_file(path, data)


@dataclass(frozen=True, slots=True)
class KeyOnDisk:
    """The key as found at start: the signer, and whether the file existed (else: a new one)."""

    signer: NoteSigner
    existed: bool


def load_key(path: Path, origin: str) -> KeyOnDisk:
    """The key at ``path``; if there is none, a fresh one (not written: :func:`establish` may)."""
    from relay.keyfile import LogKeyError, read_log_key

    if not path.exists():
        return KeyOnDisk(NoteSigner.generate(origin), existed=False)
    try:
        return KeyOnDisk(read_log_key(path, origin), existed=True)
    except LogKeyError as exc:
        raise StartupError(str(exc)) from exc


def decide(
    key: KeyOnDisk,
    key_path: Path,
    record: SignedRecord | None,
    latest: StoredCheckpoint | None,
    url: str,
) -> str:
    """ "serve", "create" (a new log: write the key and record first) or StartupError."""
    where = f"the database at {safe_url(url)}"
    if not key.existed:
        if latest is not None:
            raise StartupError(
                f"The log key {key_path} is missing, but {where} holds a log of size "
                f"{latest.size}; restore log-signing.key from the backup taken with this "
                "database (a new key would fork the log)."
            )
        if record is not None and record.size is None:
            return "create again"  # a first start stopped between the record and the key
        if record is not None:
            raise StartupError(
                f"The log key {key_path} is missing, but {record_path(key_path)} shows this "
                "machine signed with one before; restore log-signing.key and the database "
                "from the same backup."
            )
        return "create"
    verifier = key.signer.verifier()
    if record is not None and record.verifier_key != verifier.key_string():
        raise StartupError(
            f"The signed-size record {record_path(key_path)} belongs to another log key than "
            f"{key_path}; restore the key, the record and the database from the same backup."
        )
    if latest is None:
        if record is not None and record.size is None:
            return "serve"  # created by `relay init` (or a first start) and not used yet
        signed = (
            "has signed checkpoints before"
            if record is not None
            else "exists with no record that it never signed"
        )
        raise StartupError(
            f"{where[0].upper()}{where[1:]} holds no log, but the log key {key_path} {signed}; "
            "restore the database from the backup taken with this key (starting over would "
            "fork the log), or see docs/operating.md to start a new log."
        )
    try:
        open_checkpoint(latest.note, verifier)
    except KeysError as exc:
        raise StartupError(
            f"The latest checkpoint in {where} (size {latest.size}) was not signed by the log "
            f"key {key_path}; restore the key and the database from the same backup."
        ) from exc
    if record is not None and record.size is not None and record.size > latest.size:
        raise StartupError(
            f"{where[0].upper()}{where[1:]} ends at size {latest.size}, but this machine signed "
            f"size {record.size} with this key; restore the newest copy of the database (an "
            "older one would fork the log; with no newer copy, see docs/operating.md)."
        )
    return "serve"


def establish(key: KeyOnDisk, key_path: Path, *, replace_record: bool = False) -> None:
    """Write a new log's "nothing signed yet" record, then its key (after :func:`decide`).

    In that order, so that a crash in between leaves a record saying that nothing was signed
    and no key: the next first start may begin again (``replace_record``). Both are written
    exclusively otherwise: of two relays starting at once on one directory, one makes the log.
    """
    rec_path = record_path(key_path)
    others = (
        "Another process is creating the log in this data directory at the same moment; start "
        "this relay again."
    )
    record = SignedRecord(key.signer.verifier().key_string(), None)
    size = NOTHING_SIGNED
    try:
        data = f"{_RECORD_MAGIC}\n{record.verifier_key}\n{size}\n".encode("ascii")
        write_private_file(rec_path, data, exclusive=not replace_record)
    except KeysError as exc:
        if rec_path.exists() and not replace_record:
            raise StartupError(others) from exc
        raise StartupError(f"The signed-size record {rec_path} cannot be written: {exc}") from exc
    try:
        write_private_file(
            key_path, (key.signer.key_string() + "\n").encode("ascii"), exclusive=True
        )
    except KeysError as exc:
        if key_path.exists():
            raise StartupError(others) from exc
        raise StartupError(f"The log key {key_path} cannot be written: {exc}") from exc


class SignedSizeRecorder:
    """Keeps ``log-signed-size`` at the largest size committed, best effort and coalesced.

    :meth:`note` is called after each commit (cheap: it only wakes the writer); the writer
    rewrites the file (write, fsync, rename) off the event loop whenever the size grew, at most
    once per ``min_interval`` seconds (and at once on :meth:`close`). A failure is logged once
    per kind and never stops the log.
    """

    def __init__(
        self, path: Path, verifier_key: str, size: int | None, min_interval: float = 1.0
    ) -> None:
        self.path = path
        self.min_interval = min_interval
        self._closed = asyncio.Event()
        self.verifier_key = verifier_key
        self._written = size
        self._wanted = size
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._failed: str | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="log-signed-size")

    def note(self, size: int) -> None:
        if self._wanted is None or size > self._wanted:
            self._wanted = size
            self._wakeup.set()

    async def close(self) -> None:
        self._closing = True
        self._closed.set()
        self._wakeup.set()
        if self._task is not None:
            await self._task

    def write_now(self) -> None:
        """Write the wanted size if it grew (synchronously; the writer task calls this)."""
        wanted = self._wanted
        if wanted is None or (self._written is not None and wanted <= self._written):
            return
        try:
            # Another relay process on this machine may have recorded more: keep the largest.
            current = read_record(self.path)
            if (
                current is not None
                and current.verifier_key == self.verifier_key
                and current.size is not None
                and current.size >= wanted
            ):
                self._written = current.size
                return
            write_record(self.path, SignedRecord(self.verifier_key, wanted))
        except (KeysError, StartupError, OSError) as exc:
            kind = type(exc).__name__
            if self._failed != kind:
                _log.warning("Cannot update the signed-size record %s (%s)", self.path, kind)
                self._failed = kind
            return
        self._written = wanted
        self._failed = None

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            await asyncio.to_thread(self.write_now)
            if self._closing:
                return
            await self._wakeup.wait()
            # At most one write (and fsync) per interval under load; close writes at once.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), self.min_interval)


# --- the start-up sequence: migrate, read the log, decide ------------------------------------


@dataclass(frozen=True, slots=True)
class DatabaseState:
    """What :func:`inspect_state` found (for ``closedset relay check``)."""

    action: str
    """"serve", or "create" (a first start would create the log's key now)."""
    revision: str | None
    head: str
    latest: StoredCheckpoint | None
    record: SignedRecord | None


def _first_line(error: BaseException) -> str:
    from sqlalchemy import exc as sa_exc

    orig = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    text = str(orig).strip().splitlines()
    return text[0][:200] if text else type(orig).__name__


def database_failure(error: BaseException, url: str) -> StartupError:
    """One sentence for a database that cannot be reached or read at start-up."""
    from relay.db.trouble import describe_failure

    return StartupError(
        f"The database at {safe_url(url)} cannot be reached or read ({describe_failure(error)}: "
        f"{_first_line(error)}); check that it is running and that the URL is right."
    )


async def _revision(engine: AsyncEngine, url: str) -> str | None:
    from relay.migrations import current_revision

    try:
        return await current_revision(engine)
    except Exception as exc:
        raise database_failure(exc, url) from exc


async def _read_log(engine: AsyncEngine, url: str) -> StoredCheckpoint | None:
    from relay.log.store import LogCorruptionError, LogStore

    try:
        return (await LogStore(engine).load_frontier())[1]
    except LogCorruptionError as exc:
        raise StartupError(
            f"The log in the database at {safe_url(url)} is damaged ({exc}); restore the "
            "database from the backup taken with the log key."
        ) from exc
    except Exception as exc:
        raise database_failure(exc, url) from exc


async def open_database(
    engine: AsyncEngine,
    url: str,
    key: KeyOnDisk,
    key_path: Path,
    *,
    migrate: Callable[[AsyncEngine], Awaitable[None]],
) -> SignedRecord | None:
    """Check that key, database and record belong together, migrate, and on a first start
    write the new log's key; the record on disk after that (None for a log from before
    records). Raises :class:`StartupError`."""
    # Decide before migrating: a refused start changes nothing (no table, no row, no key).
    state = await inspect_state(engine, url, key, key_path)
    await migrate_or_explain(engine, url, state.revision, migrate)
    if state.action in ("create", "create again"):
        establish(key, key_path, replace_record=state.action == "create again")
        return SignedRecord(key.signer.verifier().key_string(), None)
    return state.record


async def migrate_or_explain(
    engine: AsyncEngine,
    url: str,
    before: str | None,
    migrate: Callable[[AsyncEngine], Awaitable[None]],
) -> None:
    """Run ``migrate``; a failure becomes one sentence naming the database and the revisions."""
    from relay.db.trouble import is_database_trouble
    from relay.migrations import head_revision

    try:
        await migrate(engine)
    except Exception as exc:
        if is_database_trouble(exc):
            raise database_failure(exc, url) from exc
        raise StartupError(
            f"Migrating the database at {safe_url(url)} from revision {before or '(none)'} to "
            f"{head_revision()} failed ({_first_line(exc)}); nothing of it was applied, so "
            "fix the cause and start again."
        ) from exc


async def inspect_state(
    engine: AsyncEngine | None, url: str, key: KeyOnDisk, key_path: Path
) -> DatabaseState:
    """Every start-up check, changing nothing (no migration, no key written). ``engine`` is
    None for a SQLite file that does not exist (``closedset relay check`` opens none, since the
    engine factory would create the file)."""
    from relay.migrations import head_revision

    revision = None if engine is None else await _revision(engine, url)
    latest = None if engine is None or revision is None else await _read_log(engine, url)
    record = read_record(record_path(key_path))
    action = decide(key, key_path, record, latest, url)
    return DatabaseState(action, revision, head_revision(), latest, record)
