"""C2SP tlog-cosignature v1 (https://c2sp.org/tlog-cosignature): timestamped Ed25519 witness
cosignatures on checkpoints, carried as extra signature lines of the checkpoint note.

Signed message: ``cosignature/v1\\n`` + ``time <POSIX seconds>\\n`` + the checkpoint note text.
Signature: 8-byte big-endian timestamp || 64-byte Ed25519 signature. Key id signature type 0x04.
Times are always passed in; nothing here reads a clock.
"""

from __future__ import annotations

from typing import ClassVar

from keys.checkpoint import Checkpoint
from keys.errors import EncodingError
from keys.note import (
    ED25519_SIGNATURE_SIZE,
    NamedSigningKey,
    NoteVerifier,
    add_signatures,
)

SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04
COSIGNATURE_HEADER = b"cosignature/v1\n"
TIMESTAMP_SIZE = 8
COSIGNATURE_SIZE = TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE
MAX_TIMESTAMP = 2**63 - 1  # The spec caps the u64 timestamp at 2^63 - 1.


class MalformedCosignatureError(EncodingError):
    """Cosignature bytes are not a timestamp followed by an Ed25519 signature."""


def cosigned_message(checkpoint_text: bytes, timestamp: int) -> bytes:
    """Return the exact bytes a v1 cosigner signs for this checkpoint text and time."""
    _check_timestamp(timestamp)
    return COSIGNATURE_HEADER + b"time %d\n" % timestamp + checkpoint_text


def cosignature_timestamp(signature: bytes) -> int:
    """Read the POSIX timestamp from cosignature bytes (without the 4-byte key id)."""
    if len(signature) != COSIGNATURE_SIZE:
        raise MalformedCosignatureError(
            f"A cosignature is {COSIGNATURE_SIZE} bytes long, not {len(signature)}."
        )
    timestamp = int.from_bytes(signature[:TIMESTAMP_SIZE], "big")
    if timestamp > MAX_TIMESTAMP:
        raise MalformedCosignatureError(f"The cosignature timestamp {timestamp} is over 2^63 - 1.")
    return timestamp


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError("A cosignature timestamp is an integer number of seconds.")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"The cosignature timestamp {timestamp} is outside 0 to 2^63 - 1.")


class CosignatureVerifier(NoteVerifier):
    """A witness's public key; verifies v1 cosignature lines on a checkpoint note."""

    SIGNATURE_TYPE: ClassVar[int] = SIGNATURE_TYPE_COSIGNATURE_V1

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is this witness's cosignature over the note text."""
        try:
            timestamp = cosignature_timestamp(signature)
        except MalformedCosignatureError:
            return False
        return super().verify(cosigned_message(message, timestamp), signature[TIMESTAMP_SIZE:])

    @staticmethod
    def timestamp(signature: bytes) -> int:
        """Read the time a verified cosignature was made (see :func:`cosignature_timestamp`)."""
        return cosignature_timestamp(signature)


class CosignatureSigner(NamedSigningKey):
    """A witness's private key. Its key string uses type 0x04, mirroring note signer keys."""

    SIGNATURE_TYPE: ClassVar[int] = SIGNATURE_TYPE_COSIGNATURE_V1
    KIND: ClassVar[str] = "cosigner"

    def verifier(self) -> CosignatureVerifier:
        """Return the public verifier that log clients configure for this witness."""
        return CosignatureVerifier(self.name, self.public_key)

    def cosign(self, checkpoint_text: str, timestamp: int) -> bytes:
        """Return the 72 cosignature bytes (timestamp || Ed25519) over a checkpoint body.

        The text must parse as a checkpoint: a witness never signs anything else.
        """
        Checkpoint.parse(checkpoint_text)
        message = cosigned_message(checkpoint_text.encode("utf-8"), timestamp)
        return timestamp.to_bytes(TIMESTAMP_SIZE, "big") + self._ed25519(message)

    def at(self, timestamp: int) -> TimestampedCosigner:
        """Bind a time, giving a signer that :func:`keys.note.sign_note` can use."""
        _check_timestamp(timestamp)
        return TimestampedCosigner(self, timestamp)


class TimestampedCosigner:
    """A cosigner with its time fixed, shaped like a note signer."""

    def __init__(self, signer: CosignatureSigner, timestamp: int) -> None:
        self._signer = signer
        self.timestamp = timestamp

    @property
    def name(self) -> str:
        return self._signer.name

    @property
    def key_id(self) -> bytes:
        return self._signer.key_id

    def sign(self, message: bytes) -> bytes:
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedCosignatureError("A checkpoint to cosign must be UTF-8.") from exc
        return self._signer.cosign(text, self.timestamp)


def cosign_checkpoint_note(note: str, signer: CosignatureSigner, timestamp: int) -> str:
    """Append this witness's cosignature to a signed checkpoint note.

    The caller must already have verified the log signature and a consistency proof; this
    only adds the line.
    """
    return add_signatures(note, [signer.at(timestamp)])
