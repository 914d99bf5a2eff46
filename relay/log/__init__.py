"""The relay's transparency log: RFC 6962 tree, C2SP checkpoints, tiles and proofs.

``store`` reads and writes the tables, ``sequencer`` appends in durable group-committed
rounds, ``http`` serves it under ``/log/``. Formats: docs/log.md.
"""

from relay.log.entry import RecordType, decode_entry, encode_entry, entry_for
from relay.log.sequencer import LogPosition, Receipt, Sequencer, SequencerClosedError
from relay.log.store import LogCorruptionError, LogRangeError, LogStore, StoredCheckpoint

__all__ = [
    "LogCorruptionError",
    "LogPosition",
    "LogRangeError",
    "LogStore",
    "Receipt",
    "RecordType",
    "Sequencer",
    "SequencerClosedError",
    "StoredCheckpoint",
    "decode_entry",
    "encode_entry",
    "entry_for",
]
