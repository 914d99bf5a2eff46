"""The audit log entry: a fixed 42-byte binary layout that says nothing about who or what.

Layout (docs/log.md): version (1 byte, 0x01) || record type (1 byte) || SHA-256 of the
logged bytes (32 bytes) || relay receipt time in Unix milliseconds (8 bytes, big-endian).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from enum import IntEnum

from keys.errors import EncodingError

ENTRY_VERSION = 1
ENTRY_SIZE = 42
_LAYOUT = struct.Struct(">BB32sQ")


class RecordType(IntEnum):
    """What the logged bytes are; the number is byte 1 of the entry."""

    ENVELOPE = 1
    """The canonical bytes of an envelope the relay accepted."""
    IDENTITY_RECORD = 2
    """The canonical bytes of an identity record: registration, device key, rotation, revocation."""
    THREAD_GRANT = 3
    """The canonical bytes of a thread grant (``keys.grant``): a creator's co-coordinator."""


class EntryFormatError(EncodingError, ValueError):
    """Bytes are not a log entry in the one layout this relay writes."""


@dataclass(frozen=True, slots=True)
class LogEntryFields:
    """The decoded fields of one log entry."""

    record_type: RecordType
    digest: bytes
    received_ms: int


def encode_entry(record_type: RecordType, digest: bytes, received_ms: int) -> bytes:
    """Build the entry for logged bytes whose SHA-256 is ``digest``, received at ``received_ms``."""
    if len(digest) != 32:
        raise EntryFormatError(f"The logged digest must be 32 bytes, not {len(digest)}.")
    if not 0 <= received_ms < 2**64:
        raise EntryFormatError(f"The receipt time {received_ms} ms does not fit in 64 bits.")
    return _LAYOUT.pack(ENTRY_VERSION, RecordType(record_type), digest, received_ms)


def entry_for(record_type: RecordType, logged_bytes: bytes, received_ms: int) -> bytes:
    """Build the entry for ``logged_bytes`` themselves (they are hashed, never stored)."""
    return encode_entry(record_type, hashlib.sha256(logged_bytes).digest(), received_ms)


def decode_entry(entry: bytes) -> LogEntryFields:
    """Parse an entry, refusing any other length, version or record type."""
    if len(entry) != ENTRY_SIZE:
        raise EntryFormatError(f"A log entry is {ENTRY_SIZE} bytes, not {len(entry)}.")
    version, record_type, digest, received_ms = _LAYOUT.unpack(entry)
    if version != ENTRY_VERSION:
        raise EntryFormatError(f"Log entry version {version} is not the supported version 1.")
    try:
        kind = RecordType(record_type)
    except ValueError as exc:
        raise EntryFormatError(f"Log entry record type {record_type} is unknown.") from exc
    return LogEntryFields(kind, digest, received_ms)
