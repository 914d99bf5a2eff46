"""Following a relay's log as a monitor: every checkpoint is checked against the pinned log key
and proven consistent with the last one kept, so a relay that shows two histories is caught.

State lives in ``<home>/monitor.json`` (mode 0600, replaced atomically): the log key pinned per
relay URL, and per log key the latest verified checkpoint and any split views seen. Logs are
kept by key, not URL, so two addresses serving the same log are held to one history.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from client.errors import ClientError
from keys.checkpoint import (
    Checkpoint,
    ForkedLogError,
    RolledBackLogError,
    check_extends,
    open_checkpoint,
)
from keys.encoding import b64u_decode
from keys.errors import KeysError
from keys.keystore import write_private_file
from keys.merkle import HASH_SIZE, ConsistencyProofError
from keys.note import NoteVerifier

MONITOR_FILE = "monitor.json"
STATE_VERSION = 1


class MonitorError(ClientError):
    """The log could not be checked (unreachable, bad answer, bad signature, bad state)."""


class SplitViewError(ClientError):
    """The log showed a checkpoint that contradicts the one kept: both are the evidence."""

    def __init__(self, message: str, kept: str, conflicting: str, kept_from: str) -> None:
        super().__init__(message)
        self.kept = kept
        self.conflicting = conflicting
        self.kept_from = kept_from


class LogSource(Protocol):
    """Where a monitor reads a log: the three tlog reads it needs."""

    async def log_key(self) -> str: ...

    async def checkpoint(self) -> str: ...

    async def consistency_proof(self, first: int, second: int) -> list[bytes]: ...


class HttpLogSource:
    """A relay's ``/log/`` API over HTTP (docs/log.md)."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session

    async def log_key(self) -> str:
        return (await self._get_text("/log/key")).strip()

    async def checkpoint(self) -> str:
        return await self._get_text("/log/checkpoint")

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        body = await self._get_text(f"/log/proof/consistency?from={first}&to={second}")
        try:
            hashes = json.loads(body)["hashes"]
            return [b64u_decode(h, length=HASH_SIZE, what="proof hash") for h in hashes]
        except (ValueError, KeyError, TypeError, KeysError) as exc:
            raise MonitorError(f"The relay's consistency proof is malformed: {exc}") from exc

    async def _get_text(self, path: str) -> str:
        url = self.base_url + path
        try:
            async with self._session.get(url) as response:
                text = await response.text()
                if response.status != 200:
                    raise MonitorError(f"The relay answered {response.status} for {url}.")
                return text
        except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError) as exc:
            raise MonitorError(f"The relay at {self.base_url} cannot be reached: {exc}") from exc


@dataclass(frozen=True)
class Observation:
    """One check: the verified checkpoint now kept, and how it relates to the one before."""

    relay: str
    checkpoint: Checkpoint
    note: str
    previous_size: int | None
    status: str  # "first", "unchanged" or "grew"

    def to_json(self) -> dict[str, Any]:
        return {
            "relay": self.relay,
            "status": self.status,
            "origin": self.checkpoint.origin,
            "size": self.checkpoint.size,
            "root_hash": self.checkpoint.root_hash.hex(),
            "previous_size": self.previous_size,
            "checkpoint": self.note,
        }

    def describe(self) -> str:
        head = f"{self.checkpoint.origin} size {self.checkpoint.size}"
        if self.status == "first":
            return f"{head}: first checkpoint kept."
        if self.status == "unchanged":
            return f"{head}: unchanged."
        return f"{head}: consistent with size {self.previous_size}."


class MonitorState:
    """The monitor's file: pins per relay URL, latest checkpoint and conflicts per log key."""

    def __init__(self, path: Path, document: dict[str, Any]) -> None:
        self.path = path
        self.document = document

    @classmethod
    def load(cls, home: Path) -> MonitorState:
        path = home / MONITOR_FILE
        try:
            document = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            document = {"version": STATE_VERSION, "pins": {}, "logs": {}}
        except (OSError, ValueError) as exc:
            raise MonitorError(f"The monitor state at {path} cannot be read: {exc}") from exc
        if not isinstance(document, dict) or document.get("version") != STATE_VERSION:
            raise MonitorError(f"The monitor state at {path} is not version {STATE_VERSION}.")
        if not all(isinstance(document.get(k), dict) for k in ("pins", "logs")):
            raise MonitorError(f"The monitor state at {path} is damaged: no pins or logs.")
        return cls(path, document)

    def pinned_key(self, relay: str) -> str | None:
        pinned: str | None = self.document["pins"].get(relay)
        return pinned

    def pin(self, relay: str, log_key: str) -> None:
        self.document["pins"][relay] = log_key

    def kept(self, log_key: str) -> dict[str, Any] | None:
        latest: dict[str, Any] | None = self.document["logs"].get(log_key, {}).get("latest")
        return latest

    def keep(self, log_key: str, note: str, relay: str, now: int) -> None:
        entry = self.document["logs"].setdefault(log_key, {})
        entry["latest"] = {"checkpoint": note, "from": relay, "verified_at": now}

    def record_conflict(self, log_key: str, error: SplitViewError, relay: str, now: int) -> None:
        entry = self.document["logs"].setdefault(log_key, {})
        entry.setdefault("split_views", []).append(
            {
                "detected_at": now,
                "reason": str(error),
                "kept": error.kept,
                "kept_from": error.kept_from,
                "conflicting": error.conflicting,
                "conflicting_from": relay,
            }
        )

    def save(self) -> None:
        data = json.dumps(self.document, indent=2, ensure_ascii=False) + "\n"
        try:
            write_private_file(self.path, data.encode("utf-8"))
        except KeysError as exc:
            raise MonitorError(f"The monitor state cannot be saved: {exc}") from exc


class Monitor:
    """Checks one relay's log against the state; :meth:`check` once, :meth:`watch` for ever."""

    def __init__(
        self,
        relay: str,
        source: LogSource,
        state: MonitorState,
        *,
        log_key: str | None = None,
        clock: Callable[[], float] = time.time,
        note: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.relay = relay.rstrip("/")
        self.source = source
        self.state = state
        self._explicit_key = log_key
        self._clock = clock
        self._note = note

    async def pinned_verifier(self) -> tuple[str, NoteVerifier]:
        """The log key for this relay: given, pinned before, or pinned now on first contact."""
        pinned = self.state.pinned_key(self.relay)
        key = self._explicit_key or pinned
        if key is None:
            key = await self.source.log_key()
            self._note(
                f"Pinned the log key {key} for {self.relay} on first contact; compare it "
                "with the key the relay's operator publishes."
            )
        elif pinned is not None and key != pinned:
            self._note(f"The log key for {self.relay} is now {key}, replacing {pinned}.")
        try:
            verifier = NoteVerifier.from_key_string(key)
        except KeysError as exc:
            raise MonitorError(f"The log key {key!r} is not a note verifier key: {exc}") from exc
        if key != pinned:
            self.state.pin(self.relay, key)
            self.state.save()
        return key, verifier

    async def check(self) -> Observation:
        """Fetch, verify and keep the relay's checkpoint; raise :class:`SplitViewError`."""
        key, verifier = await self.pinned_verifier()
        note = await self.source.checkpoint()
        try:
            checkpoint = open_checkpoint(note, verifier).checkpoint
        except KeysError as exc:
            raise MonitorError(
                f"The checkpoint from {self.relay} does not verify with the pinned log key: {exc}"
            ) from exc
        now = int(self._clock())
        kept = self.state.kept(key)
        if kept is None:
            self.state.keep(key, note, self.relay, now)
            self.state.save()
            return Observation(self.relay, checkpoint, note, None, "first")
        kept_checkpoint = open_checkpoint(kept["checkpoint"], verifier).checkpoint
        try:
            status = await self._compare(kept_checkpoint, checkpoint, kept, note)
        except SplitViewError as error:
            self.state.record_conflict(key, error, self.relay, now)
            self.state.save()
            raise
        if status == "grew":
            self.state.keep(key, note, self.relay, now)
            self.state.save()
        return Observation(self.relay, checkpoint, note, kept_checkpoint.size, status)

    async def _compare(
        self, old: Checkpoint, new: Checkpoint, kept: dict[str, Any], note: str
    ) -> str:
        def split(reason: str) -> SplitViewError:
            return SplitViewError(reason, kept["checkpoint"], note, kept["from"])

        proof: list[bytes] = []
        if new.size > old.size > 0:
            proof = list(await self.source.consistency_proof(old.size, new.size))
        try:
            grew = check_extends(old, new, proof)
        except RolledBackLogError as exc:
            raise split(f"Split view: {exc} (a rollback).") from exc
        except ForkedLogError as exc:
            raise split(f"Split view: {exc}") from exc
        except ConsistencyProofError as exc:
            raise split(
                f"Split view: the log {new.origin} at size {new.size} does not extend the "
                f"tree of size {old.size} kept before."
            ) from exc
        return "grew" if grew else "unchanged"

    async def watch(
        self,
        interval: float,
        *,
        report: Callable[[Observation], None],
        sleep: Callable[[float], Awaitable[None]],
        once: bool = False,
    ) -> None:
        """Check, report, wait ``interval`` (through ``sleep``), again; a split view ends it.

        With ``once`` an error ends it too; otherwise errors are noted and the watch goes on.
        """
        while True:
            try:
                report(await self.check())
            except MonitorError as exc:
                if once:
                    raise
                self._note(f"Check failed, will try again: {exc}")
            if once:
                return
            await sleep(interval)
