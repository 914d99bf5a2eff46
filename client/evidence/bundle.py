"""The evidence bundle format: one canonical JSON document a party hands to counsel.

This module only fixes the shape (which members, which JSON types) and the encodings (raw
JSON or ``CLOSEDSET EVIDENCE`` armor); every cryptographic check is in verify.py, so each
damaged part is named by its own failure. Byte by byte: docs/protocol.md, "Evidence bundle".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from client.evidence.failures import BundleError
from keys import armor
from keys.encoding import b64u_decode, b64u_encode, canonical_json, parse_json
from keys.errors import ArmorError, EncodingError, LimitError

FORMAT = "closedset/evidence/v1"
MANIFEST_PURPOSE = "closedset/evidence/v1"
# Armor is capped at 4 MiB of text, which holds 3 MiB of bytes.
MAX_BUNDLE_BYTES = 3 * 1024 * 1024

_TOP = {"format", "thread", "manifest", "log", "entries", "identities"}
_LOG = {"key", "checkpoint", "consistency"}
_ENTRY = {"entry", "proof", "disclosure"}
_RECORD = {"statement", "entry", "proof"}


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 consistency proof from an earlier tree size to the bundle's checkpoint."""

    from_size: int
    hashes: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {"from": self.from_size, "hashes": [b64u_encode(h) for h in self.hashes]}


@dataclass(frozen=True)
class ThreadEntry:
    """One entry of the scene's thread: the 42-byte log entry, its C2SP tlog-proof, and,
    when disclosed, the envelope and its message key (the docs/protocol.md disclosure)."""

    entry: bytes
    proof: str
    disclosure: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": b64u_encode(self.entry),
            "proof": self.proof,
            "disclosure": self.disclosure,
        }


@dataclass(frozen=True)
class IdentityRecord:
    """One signed identity statement with its own log entry and tlog-proof."""

    statement: dict[str, Any]
    entry: bytes
    proof: str

    def to_json(self) -> dict[str, Any]:
        return {"statement": self.statement, "entry": b64u_encode(self.entry), "proof": self.proof}


@dataclass(frozen=True)
class Bundle:
    thread: bytes
    manifest: dict[str, Any]  # a signed statement, closedset/evidence/v1
    log_key: str
    checkpoint: str
    consistency: tuple[ConsistencyProof, ...]
    entries: tuple[ThreadEntry, ...]
    identities: tuple[tuple[IdentityRecord, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "thread": b64u_encode(self.thread),
            "manifest": self.manifest,
            "log": {
                "key": self.log_key,
                "checkpoint": self.checkpoint,
                "consistency": [c.to_json() for c in self.consistency],
            },
            "entries": [e.to_json() for e in self.entries],
            "identities": [{"records": [r.to_json() for r in h]} for h in self.identities],
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    def armored(self) -> str:
        return armor.armor(self.to_bytes(), armor.BUNDLE)


def read_bundle(data: bytes) -> Bundle:
    """Read a bundle file: armored (as emailed) or raw canonical JSON (``--json``)."""
    if len(data) > 2 * MAX_BUNDLE_BYTES:
        raise BundleError("bundle-malformed", "The file is far larger than any evidence bundle.")
    if b"BEGIN CLOSEDSET" in data[:4096] or b"BEGIN CLOSEDSET" in data:
        try:
            data = armor.dearmor(data.decode("utf-8", errors="replace"), armor.BUNDLE)
        except (ArmorError, LimitError) as exc:
            raise BundleError("bundle-armor", f"The armored bundle is damaged: {exc}") from exc
    return parse_bundle(data)


def parse_bundle(data: bytes) -> Bundle:
    """Parse canonical bundle bytes; every shape error is a :class:`BundleError`."""
    try:
        # The bounded parser: nesting, number sizes and duplicate names are refused up front.
        value = parse_json(bytes(data), what="evidence bundle", floats=True)
    except (EncodingError, ValueError, UnicodeDecodeError) as exc:
        raise BundleError(
            "bundle-malformed",
            "The file is not a complete evidence bundle (it may be truncated); ask for it again.",
        ) from exc
    if isinstance(value, dict) and value.get("format") != FORMAT and "format" in value:
        raise BundleError(
            "bundle-unknown-format",
            f"The bundle is in format {value['format']!r}; this version reads only {FORMAT}.",
        )
    try:
        if canonical_json(value) != data:
            raise BundleError(
                "bundle-not-canonical",
                "The bundle is not in its canonical encoding, so it was edited after export.",
            )
    except (EncodingError, TypeError, ValueError) as exc:
        raise BundleError("bundle-not-canonical", f"The bundle cannot be canonical: {exc}") from exc
    try:
        return _from_json(value)
    except (KeyError, TypeError, ValueError, EncodingError) as exc:
        raise BundleError(
            "bundle-malformed", f"The bundle is missing parts or has parts of the wrong kind: {exc}"
        ) from exc


def _exact(value: Any, fields: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != fields:
        raise ValueError(f"the {what} must have exactly the members {sorted(fields)}")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"the {what} must be text")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"the {what} must be a list")
    return value


def _from_json(value: Any) -> Bundle:
    top = _exact(value, _TOP, "bundle")
    log = _exact(top["log"], _LOG, "log section")
    consistency = []
    for item in _list(log["consistency"], "consistency proofs"):
        proof = _exact(item, {"from", "hashes"}, "consistency proof")
        size = proof["from"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError("a consistency proof starts at a positive tree size")
        hashes = tuple(b64u_decode(h, length=32, what="proof hash") for h in proof["hashes"])
        consistency.append(ConsistencyProof(size, hashes))
    entries = []
    for item in _list(top["entries"], "entries"):
        entry = _exact(item, _ENTRY, "thread entry")
        disclosure = entry["disclosure"]
        if disclosure is not None:
            _exact(disclosure, {"envelope", "message_key"}, "disclosure")
        entries.append(
            ThreadEntry(
                b64u_decode(_text(entry["entry"], "entry"), what="log entry"),
                _text(entry["proof"], "tlog-proof"),
                disclosure,
            )
        )
    identities = []
    for item in _list(top["identities"], "identities"):
        records = []
        for raw in _list(_exact(item, {"records"}, "identity")["records"], "identity records"):
            record = _exact(raw, _RECORD, "identity record")
            if not isinstance(record["statement"], dict):
                raise TypeError("an identity record's statement must be an object")
            records.append(
                IdentityRecord(
                    record["statement"],
                    b64u_decode(_text(record["entry"], "entry"), what="log entry"),
                    _text(record["proof"], "tlog-proof"),
                )
            )
        identities.append(tuple(records))
    if not isinstance(top["manifest"], dict):
        raise TypeError("the manifest must be a signed statement")
    return Bundle(
        thread=b64u_decode(_text(top["thread"], "thread"), length=16, what="thread id"),
        manifest=top["manifest"],
        log_key=_text(log["key"], "log key"),
        checkpoint=_text(log["checkpoint"], "checkpoint"),
        consistency=tuple(consistency),
        entries=tuple(entries),
        identities=tuple(identities),
    )
