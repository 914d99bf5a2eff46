"""C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the log's signed tree head.

A checkpoint body is the origin line, the decimal tree size, the base64 root hash and optional
extension lines; it travels as a signed note signed by the log and cosigned by witnesses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from keys.errors import EncodingError, SignatureError, VerificationError
from keys.merkle import HASH_SIZE, MAX_TREE_SIZE, ConsistencyProofError, verify_consistency
from keys.note import (
    NoteSigner,
    NoteVerifier,
    open_note,
    sign_note,
    std_b64decode,
    std_b64encode,
)

_DECIMAL_RE = re.compile(r"\A(0|[1-9][0-9]*)\Z")


class MalformedCheckpointError(EncodingError):
    """A checkpoint body does not follow the tlog-checkpoint format."""


class CheckpointOriginError(VerificationError):
    """The checkpoint names a different log than the key it is checked against."""


class MissingLogSignatureError(SignatureError):
    """The checkpoint carries no valid signature from the log's own key."""


class WitnessPolicyError(VerificationError):
    """Fewer witnesses cosigned the checkpoint than the policy requires."""


class ForkedLogError(VerificationError):
    """One log signed two different trees of the same size: a split view."""


class RolledBackLogError(VerificationError):
    """A log showed a smaller tree after a larger one."""


def check_extends(old: Checkpoint, new: Checkpoint, proof: Sequence[bytes]) -> bool:
    """Raise unless ``new`` is ``old`` again or provably extends it; True if the log grew.

    The one rule that witnesses, monitors and counsel's verifier share: same size means the
    same root (else :class:`ForkedLogError`), a smaller size is a rollback
    (:class:`RolledBackLogError`), a larger one needs an RFC 9162 consistency proof
    (:class:`keys.merkle.ConsistencyProofError`); between equal sizes the proof is empty.
    """
    if new.origin != old.origin:
        raise CheckpointOriginError(f"Checkpoints of {old.origin} and {new.origin} are two logs.")
    if new.size < old.size:
        raise RolledBackLogError(
            f"The log {new.origin} shows {new.size} entries after it had shown {old.size}."
        )
    if new.size == old.size:
        if new.root_hash != old.root_hash:
            raise ForkedLogError(
                f"The log {new.origin} signed two different trees of size {new.size}."
            )
        if proof:
            raise ConsistencyProofError("A proof between equal tree sizes must be empty.")
        return False
    if old.size == 0:
        # Every tree extends the empty one; RFC 9162 defines no proof from size 0.
        if proof:
            raise ConsistencyProofError("A proof from the empty tree must be empty.")
        return True
    verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)
    return True


def parse_decimal(text: str, *, what: str, maximum: int = MAX_TREE_SIZE) -> int:
    """Parse ASCII decimal with no leading zeroes (``0`` itself allowed), up to ``maximum``."""
    if len(text) > len(str(maximum)):
        # Checked first: int() of thousands of digits is slow, and past 4300 raises ValueError.
        raise EncodingError(f"The {what} is longer than the {len(str(maximum))} digits allowed.")
    if not _DECIMAL_RE.match(text):
        raise EncodingError(f"The {what} {text!r} is not a decimal number without leading zeroes.")
    value = int(text)
    if value > maximum:
        raise EncodingError(f"The {what} {value} is larger than {maximum}.")
    return value


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head at one size, exactly as its note text spells it."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise MalformedCheckpointError("The checkpoint tree size must be an integer.")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpointError(f"The checkpoint tree size {self.size} is out of range.")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpointError(f"The checkpoint root hash must be {HASH_SIZE} bytes.")
        if not isinstance(self.extensions, tuple):
            raise MalformedCheckpointError("Checkpoint extension lines must be a tuple.")
        for line in self.extensions:
            _check_line(line, "extension line")

    def to_text(self) -> str:
        """Return the note text: origin, size, base64 root, extensions, each newline-ended."""
        lines = [self.origin, str(self.size), std_b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body strictly; anything ``to_text`` would not write is refused."""
        if not text.endswith("\n"):
            raise MalformedCheckpointError("A checkpoint must end with a newline.")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError(
                "A checkpoint needs an origin, a tree size and a root hash line."
            )
        origin, size_text, root_text, *extensions = lines
        try:
            size = parse_decimal(size_text, what="checkpoint tree size")
            root_hash = std_b64decode(root_text, what="checkpoint root hash")
        except EncodingError as exc:
            raise MalformedCheckpointError(str(exc)) from exc
        if len(root_hash) != HASH_SIZE:
            raise MalformedCheckpointError(
                f"The checkpoint root hash is {len(root_hash)} bytes, not {HASH_SIZE}."
            )
        return cls(origin, size, root_hash, tuple(extensions))


def _check_line(line: str, what: str) -> None:
    if not isinstance(line, str) or not line:
        raise MalformedCheckpointError(f"The checkpoint {what} must be a non-empty string.")
    for ch in line:
        if ord(ch) < 0x20:
            raise MalformedCheckpointError(
                f"The checkpoint {what} contains control character U+{ord(ch):04X}."
            )
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedCheckpointError(f"The checkpoint {what} is not valid UTF-8.") from exc


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose log signature and witness cosignatures have been verified."""

    checkpoint: Checkpoint
    note: str
    log_signature: bytes
    witness_signatures: tuple[tuple[NoteVerifier, bytes], ...] = ()

    @property
    def witness_names(self) -> tuple[str, ...]:
        """Names of the witnesses whose cosignatures verified, in note order."""
        return tuple(verifier.name for verifier, _ in self.witness_signatures)


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """Sign a checkpoint as the log; the log key's name must be the checkpoint's origin."""
    if signer.name != checkpoint.origin:
        raise CheckpointOriginError(
            f"The log key {signer.name} cannot sign a checkpoint for origin {checkpoint.origin}."
        )
    return sign_note(checkpoint.to_text(), [signer])


def open_checkpoint(
    note: str,
    log_verifier: NoteVerifier,
    *,
    witnesses: Sequence[NoteVerifier] = (),
    min_witnesses: int = 0,
) -> SignedCheckpoint:
    """Verify a signed checkpoint: the log's signature, its origin and the witness policy.

    Signatures from keys that are neither the log nor a listed witness are ignored.
    """
    # The log's own key never counts as a witness, even if it is listed as one.
    witness_set = {w for w in witnesses if w != log_verifier}
    if not 0 <= min_witnesses <= len(witness_set):
        raise ValueError(
            f"A policy of {min_witnesses} witnesses cannot be met with {len(witness_set)} keys."
        )
    opened = open_note(note, [log_verifier, *witnesses])
    log_signature = next((sig for v, sig in opened.verified if v == log_verifier), None)
    if log_signature is None:
        raise MissingLogSignatureError(
            f"The checkpoint is not signed by the log key {log_verifier.name}."
        )
    checkpoint = Checkpoint.parse(opened.text)
    if checkpoint.origin != log_verifier.name:
        raise CheckpointOriginError(
            f"The checkpoint is for origin {checkpoint.origin}, "
            f"but the log key is named {log_verifier.name}."
        )
    cosigned = tuple((v, sig) for v, sig in opened.verified if v in witness_set)
    if len(cosigned) < min_witnesses:
        raise WitnessPolicyError(
            f"The checkpoint is cosigned by {len(cosigned)} of the {min_witnesses} "
            f"required witnesses."
        )
    return SignedCheckpoint(
        checkpoint=checkpoint,
        note=note,
        log_signature=log_signature,
        witness_signatures=cosigned,
    )
