"""What a profile remembers about its scenes: where each thread lives, and what came through it.

    <home>/relays.json            relay URL -> log verifier key pinned on first contact
    <home>/scenes.json            local alias -> relay, thread id, own role, invite secrets
    <home>/threads/<thread>.json  the thread's envelopes (ciphertext only) with their log
                                  positions, in the relay's order

Nothing here is plaintext of a negotiation: envelopes are re-opened with the keystore's
device keys whenever they are read, so a stolen laptop without the passphrase shows only
ciphertext, aliases and relay addresses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from client.errors import UsageError
from keys.encoding import b64u_decode, b64u_encode, canonical_json
from keys.envelope import Envelope
from keys.keystore import write_private_file

RELAYS_FILE = "relays.json"
SCENES_FILE = "scenes.json"
THREADS_DIR = "threads"
_ALIAS_RE = re.compile(r"\A[a-z0-9][a-z0-9-]{0,39}\Z")


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return default


# --- relays: the log key each relay presented first ------------------------------------------


class RelayPins:
    def __init__(self, home: Path) -> None:
        self.path = home / RELAYS_FILE
        self._pins: dict[str, str] = _read_json(self.path, {})

    def get(self, url: str) -> str | None:
        return self._pins.get(url.rstrip("/"))

    def pin(self, url: str, log_key: str) -> None:
        self._pins[url.rstrip("/")] = log_key
        write_private_file(self.path, canonical_json(self._pins))


# --- scenes ------------------------------------------------------------------------------------


@dataclass
class SceneRef:
    """One scene as this profile knows it."""

    alias: str
    relay: str
    thread: str  # base64url of the 16-byte thread id
    role: str
    invites: dict[str, str] = field(default_factory=dict)  # invite id -> secret (IC only)
    seen: int = 0  # the reader sequence `closedset inbox` showed up to

    @property
    def thread_id(self) -> bytes:
        return b64u_decode(self.thread, length=16, what="thread id")


def check_alias(alias: str) -> str:
    if not _ALIAS_RE.match(alias):
        raise UsageError(
            f"{alias!r} cannot name a scene: use 1-40 lower-case letters, digits and dashes, "
            "e.g. scene-12."
        )
    return alias


class SceneBook:
    def __init__(self, home: Path) -> None:
        self.path = home / SCENES_FILE
        raw = _read_json(self.path, {"scenes": []})
        self._scenes = {s["alias"]: SceneRef(**s) for s in raw["scenes"]}

    def save(self) -> None:
        scenes = [asdict(s) for s in sorted(self._scenes.values(), key=lambda s: s.alias)]
        write_private_file(self.path, canonical_json({"scenes": scenes}))

    def __iter__(self) -> Iterator[SceneRef]:
        return iter(sorted(self._scenes.values(), key=lambda s: s.alias))

    def add(self, scene: SceneRef) -> SceneRef:
        check_alias(scene.alias)
        if scene.alias in self._scenes:
            raise UsageError(
                f"You already have a scene called {scene.alias}; choose another with --alias."
            )
        self._scenes[scene.alias] = scene
        return scene

    def unique_alias(self, wanted: str) -> str:
        alias, n = wanted, 2
        while alias in self._scenes:
            alias, n = f"{wanted}-{n}", n + 1
        return alias

    def find(self, query: str) -> SceneRef:
        """A scene by its alias, or by the start of its thread id."""
        if query in self._scenes:
            return self._scenes[query]
        matches = [
            s for s in self._scenes.values() if len(query) >= 4 and s.thread.startswith(query)
        ]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(sorted(self._scenes)) or "none yet"
        raise UsageError(f"No scene called {query!r}; your scenes: {known}.")


# --- the local copy of a thread ---------------------------------------------------------------


@dataclass(frozen=True)
class CachedEnvelope:
    envelope: Envelope
    sequence: int
    index: int
    received_ms: int
    reader_sequence: int | None = None
    """The relay's per-reader number for it (None in caches written before there was one)."""

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "envelope": self.envelope.to_json(),
            "sequence": self.sequence,
            "index": self.index,
            "received_ms": self.received_ms,
        }
        if self.reader_sequence is not None:
            value["reader_sequence"] = self.reader_sequence
        return value


class ThreadCache:
    """The envelopes of one thread this profile has fetched, kept in the relay's order."""

    def __init__(self, home: Path, thread: bytes) -> None:
        self.path = home / THREADS_DIR / f"{b64u_encode(thread)}.json"
        raw = _read_json(self.path, {"envelopes": []})
        self.items = [
            CachedEnvelope(
                Envelope.from_bytes(canonical_json(item["envelope"])),
                int(item["sequence"]),
                int(item["index"]),
                int(item["received_ms"]),
                None if item.get("reader_sequence") is None else int(item["reader_sequence"]),
            )
            for item in raw["envelopes"]
        ]

    @property
    def last_sequence(self) -> int:
        """The paging cursor: the last reader sequence held (0 in a cache from before reader
        sequences, so that it is fetched again and numbered)."""
        numbers = [i.reader_sequence for i in self.items if i.reader_sequence is not None]
        return max(numbers, default=0)

    def merge(self, new: list[CachedEnvelope]) -> list[CachedEnvelope]:
        """Add what is not here yet (and number what was held unnumbered); returns the
        envelopes that were new. Kept in log order, the thread's order."""
        held = {item.envelope.hash: item for item in self.items}
        added = [item for item in new if item.envelope.hash not in held]
        for item in new:
            old = held.get(item.envelope.hash)
            if old is not None and old.reader_sequence is None:
                held[item.envelope.hash] = item
        self.items = sorted([*held.values(), *added], key=lambda item: item.index)
        return added

    def withheld(self) -> list[int]:
        """Per-reader numbers missing between the first and the last one held: envelopes
        addressed to this reader that the relay never served (docs/api.md, "Readers")."""
        numbers = sorted({i.reader_sequence for i in self.items if i.reader_sequence is not None})
        if not numbers:
            return []
        have = set(numbers)
        # A cache older than reader numbers starts wherever the numbers start.
        start = 1 if all(i.reader_sequence is not None for i in self.items) else numbers[0]
        return [n for n in range(start, numbers[-1] + 1) if n not in have]

    def save(self) -> None:
        write_private_file(
            self.path, canonical_json({"envelopes": [i.to_json() for i in self.items]})
        )
