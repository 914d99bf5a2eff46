"""The log entry layout lives in :mod:`keys.logentry`, shared with the client's verifiers."""

from keys.logentry import (
    ENTRY_SIZE,
    ENTRY_VERSION,
    EntryFormatError,
    LogEntryFields,
    RecordType,
    decode_entry,
    encode_entry,
    entry_for,
)

__all__ = [
    "ENTRY_SIZE",
    "ENTRY_VERSION",
    "EntryFormatError",
    "LogEntryFields",
    "RecordType",
    "decode_entry",
    "encode_entry",
    "entry_for",
]
