"""C2SP tlog-proof (https://c2sp.org/tlog-proof): an offline inclusion proof file for counsel.

It bundles the entry's index, the RFC 6962 inclusion proof and the signed (and cosigned)
checkpoint note, so a log entry can be checked with nothing but the log and witness keys::

    c2sp.org/tlog-proof@v1
    extra <base64>              (optional, not authenticated)
    index <decimal>
    <base64 hash>               (zero or more, leaf's sibling first)
    <blank line>
    <signed checkpoint note, verbatim>
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from keys.checkpoint import (
    Checkpoint,
    MalformedCheckpointError,
    SignedCheckpoint,
    open_checkpoint,
    parse_decimal,
)
from keys.errors import EncodingError
from keys.merkle import HASH_SIZE, MAX_TREE_SIZE, hash_leaf, verify_inclusion
from keys.note import (
    MalformedNoteError,
    NoteVerifier,
    split_note,
    std_b64decode,
    std_b64encode,
)

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
FILE_EXTENSION = ".tlog-proof"
# A tree of at most 2^64 - 1 leaves is 64 levels tall, so no inclusion proof is longer.
MAX_PROOF_HASHES = 64


class MalformedTlogProofError(EncodingError):
    """A tlog-proof file does not follow the c2sp.org/tlog-proof@v1 format."""


@dataclass(frozen=True)
class TlogProof:
    """An entry's index, its inclusion proof and the signed checkpoint the proof leads to."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint_note: str
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise MalformedTlogProofError("The tlog-proof index must be an integer.")
        if not 0 <= self.index < MAX_TREE_SIZE:
            raise MalformedTlogProofError(f"The tlog-proof index {self.index} is out of range.")
        if not isinstance(self.hashes, tuple) or len(self.hashes) > MAX_PROOF_HASHES:
            raise MalformedTlogProofError(
                f"The tlog-proof must hold a tuple of at most {MAX_PROOF_HASHES} hashes."
            )
        for position, node in enumerate(self.hashes):
            if not isinstance(node, bytes) or len(node) != HASH_SIZE:
                raise MalformedTlogProofError(
                    f"Proof hash {position} must be exactly {HASH_SIZE} bytes."
                )
        if self.extra is not None and not isinstance(self.extra, bytes):
            raise MalformedTlogProofError("The tlog-proof extra data must be bytes.")
        # The checkpoint must at least have the shape of a signed checkpoint note.
        try:
            text, _ = split_note(self.checkpoint_note)
            Checkpoint.parse(text)
        except (MalformedNoteError, MalformedCheckpointError) as exc:
            raise MalformedTlogProofError(str(exc)) from exc

    def to_text(self) -> str:
        """Serialize exactly as the spec lays it out."""
        lines = [TLOG_PROOF_HEADER]
        if self.extra is not None:
            lines.append(f"extra {std_b64encode(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(std_b64encode(node) for node in self.hashes)
        return "".join(line + "\n" for line in lines) + "\n" + self.checkpoint_note

    @classmethod
    def parse(cls, text: str | bytes) -> TlogProof:
        """Parse a tlog-proof file strictly; the checkpoint signatures are not checked here."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedTlogProofError("The tlog-proof is not valid UTF-8.") from exc
        # The proof part ends at the first blank line; everything after it is the note.
        head, blank, checkpoint_note = text.partition("\n\n")
        if not blank:
            raise MalformedTlogProofError("The tlog-proof has no blank line before its checkpoint.")
        lines = head.split("\n")
        if lines[0] != TLOG_PROOF_HEADER:
            raise MalformedTlogProofError(
                f"The tlog-proof does not start with {TLOG_PROOF_HEADER}."
            )
        position = 1
        extra: bytes | None = None
        if position < len(lines) and lines[position].startswith("extra "):
            extra = _decode(lines[position][len("extra ") :], "extra data")
            position += 1
        if position >= len(lines) or not lines[position].startswith("index "):
            raise MalformedTlogProofError("The tlog-proof is missing its index line.")
        try:
            index = parse_decimal(lines[position][len("index ") :], what="tlog-proof index")
        except EncodingError as exc:
            raise MalformedTlogProofError(str(exc)) from exc
        hash_lines = lines[position + 1 :]
        if len(hash_lines) > MAX_PROOF_HASHES:
            raise MalformedTlogProofError(
                f"The tlog-proof has {len(hash_lines)} hashes, over the limit of "
                f"{MAX_PROOF_HASHES}."
            )
        hashes = []
        for number, line in enumerate(hash_lines):
            node = _decode(line, f"proof hash {number}")
            if len(node) != HASH_SIZE:
                raise MalformedTlogProofError(
                    f"Proof hash {number} is {len(node)} bytes, not {HASH_SIZE}."
                )
            hashes.append(node)
        return cls(index, tuple(hashes), checkpoint_note, extra)


def _decode(text: str, what: str) -> bytes:
    try:
        return std_b64decode(text, what=what)
    except EncodingError as exc:
        raise MalformedTlogProofError(
            f"The {what} in the tlog-proof is not canonical base64."
        ) from exc


def verify_tlog_proof(
    proof: TlogProof,
    leaf_hash: bytes,
    log_verifier: NoteVerifier,
    *,
    witnesses: Sequence[NoteVerifier] = (),
    min_witnesses: int = 0,
) -> SignedCheckpoint:
    """Check that ``leaf_hash`` is in the log at ``proof.index``, under a checkpoint signed
    by the log and cosigned per the witness policy; return that verified checkpoint.

    ``proof.extra`` is not authenticated by any of this and must not be trusted.
    """
    signed = open_checkpoint(
        proof.checkpoint_note, log_verifier, witnesses=witnesses, min_witnesses=min_witnesses
    )
    checkpoint = signed.checkpoint
    verify_inclusion(leaf_hash, proof.index, checkpoint.size, proof.hashes, checkpoint.root_hash)
    return signed


def verify_tlog_proof_of_entry(
    proof: TlogProof,
    entry: bytes,
    log_verifier: NoteVerifier,
    *,
    witnesses: Sequence[NoteVerifier] = (),
    min_witnesses: int = 0,
) -> SignedCheckpoint:
    """Like :func:`verify_tlog_proof`, starting from the entry bytes instead of their leaf hash."""
    return verify_tlog_proof(
        proof, hash_leaf(entry), log_verifier, witnesses=witnesses, min_witnesses=min_witnesses
    )
