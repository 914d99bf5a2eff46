"""Checking what the relay answers about its log, against the log key pinned on first contact.

A receipt says: these logged bytes are entry ``index`` of the relay's log, under this signed
checkpoint. :func:`verify_receipt` checks the checkpoint's signature with the pinned key, the
entry's hash of the logged bytes and record type, and the RFC 6962 inclusion proof. Pure: no
network, no clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from keys.checkpoint import SignedCheckpoint, open_checkpoint
from keys.encoding import b64u_decode, json_int
from keys.errors import EncodingError, VerificationError
from keys.logentry import LogEntryFields, RecordType, decode_entry
from keys.merkle import hash_leaf, verify_inclusion
from keys.note import NoteVerifier


class ReceiptError(VerificationError):
    """The relay's receipt does not prove that it logged what it was given."""


@dataclass(frozen=True)
class VerifiedReceipt:
    index: int
    entry: LogEntryFields
    checkpoint: SignedCheckpoint
    inclusion: tuple[bytes, ...]
    raw: dict[str, Any]

    @property
    def tree_size(self) -> int:
        return self.checkpoint.checkpoint.size

    @property
    def received_ms(self) -> int:
        return self.entry.received_ms


def verify_receipt(
    receipt: dict[str, Any],
    logged_bytes: bytes,
    record_type: RecordType,
    log_verifier: NoteVerifier,
) -> VerifiedReceipt:
    """Raise :class:`ReceiptError` unless ``receipt`` proves ``logged_bytes`` are in the log."""
    try:
        if type(receipt) is not dict:
            raise EncodingError("a receipt is a JSON object")
        # An integer, never a string, float or bool that int() would bend into one.
        index = json_int(receipt["index"], "receipt's index")
        entry_bytes = b64u_decode(receipt["entry"], what="log entry")
        if type(receipt["inclusion"]) is not list or type(receipt["checkpoint"]) is not str:
            raise EncodingError("the inclusion proof is a list and the checkpoint a text")
        proof = tuple(b64u_decode(h, length=32, what="proof hash") for h in receipt["inclusion"])
        note = receipt["checkpoint"]
    except (KeyError, TypeError, ValueError, EncodingError) as exc:
        raise ReceiptError(f"The relay's receipt is malformed: {exc}") from exc
    signed = open_checkpoint(note, log_verifier)
    entry = decode_entry(entry_bytes)
    if entry.record_type != record_type:
        raise ReceiptError(
            f"The receipt logs a {entry.record_type.name.lower()} where a "
            f"{record_type.name.lower()} was sent."
        )
    if entry.digest != hashlib.sha256(logged_bytes).digest():
        raise ReceiptError("The receipt's log entry is for other bytes than those sent.")
    try:
        verify_inclusion(
            hash_leaf(entry_bytes),
            index,
            signed.checkpoint.size,
            proof,
            signed.checkpoint.root_hash,
        )
    except VerificationError as exc:
        raise ReceiptError(f"The relay's inclusion proof does not verify: {exc}") from exc
    return VerifiedReceipt(index, entry, signed, proof, receipt)
