"""The witness's pure core: C2SP tlog-witness add-checkpoint, checked step by step as the spec
orders them, one latest checkpoint per log, and a tlog-cosignature v1 line as the answer.

No HTTP and no clock here: the caller passes the time in, and ``client.witness.http`` only
translates. Each refusal is an :class:`AddCheckpointError` carrying the status the spec names::

    AddCheckpointError                    add-checkpoint refused; nothing was stored or signed
    +-- MalformedRequestError    (400)   the body is not old line, proof lines, blank, note
    +-- UntrustedCheckpointError (403)   no signature verifies with a key trusted for the log
    +-- UnknownLogError          (404)   the witness is not configured for the origin
    +-- ConflictError            (409)   ``old`` is not the witness's latest size for the log
    |   +-- SplitViewError       (409)   same size as the witness's latest, different root
    +-- InconsistentProofError   (422)   the consistency proof does not verify
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from keys.checkpoint import (
    Checkpoint,
    ForkedLogError,
    check_extends,
    open_checkpoint,
    parse_decimal,
)
from keys.cosignature import CosignatureSigner
from keys.errors import EncodingError, KeysError, SignatureError, VerificationError
from keys.merkle import HASH_SIZE, ConsistencyProofError
from keys.note import NoteSignature, NoteVerifier, split_note, std_b64decode

# tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
MAX_PROOF_LINES = 63


class AddCheckpointError(Exception):
    """Base class: the witness refuses the checkpoint; ``status`` is the HTTP status to send."""

    status: ClassVar[int] = 400


class MalformedRequestError(AddCheckpointError):
    """The request body does not follow the add-checkpoint format."""

    status = 400


class UntrustedCheckpointError(AddCheckpointError):
    """None of the checkpoint's signatures verifies with a key trusted for its origin."""

    status = 403


class UnknownLogError(AddCheckpointError):
    """The witness is not configured to witness the checkpoint's origin."""

    status = 404


class ConflictError(AddCheckpointError):
    """``old`` differs from the size of the witness's latest checkpoint for the log."""

    status = 409

    def __init__(self, message: str, current_size: int) -> None:
        super().__init__(message)
        self.current_size = current_size


class SplitViewError(ConflictError):
    """The log signed two different trees of the same size: proof of a split view."""


class InconsistentProofError(AddCheckpointError):
    """The consistency proof does not show the new checkpoint extending the witness's latest."""

    status = 422


@dataclass(frozen=True)
class AddCheckpointRequest:
    """A parsed add-checkpoint body: ``old <size>``, proof hashes, and the signed note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpointRequest:
        """Parse the body strictly; raise :class:`MalformedRequestError` with one sentence."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedRequestError("The request body is not valid UTF-8.") from exc
        # Header lines are never empty, so the first empty line ends them; the note has its
        # own blank line further on.
        header, blank, note = text.partition("\n\n")
        if not blank:
            raise MalformedRequestError(
                "The request body needs an empty line between the proof and the checkpoint."
            )
        old_line, *proof_lines = header.split("\n")
        if not old_line.startswith("old "):
            raise MalformedRequestError("The request body must start with an 'old <size>' line.")
        if len(proof_lines) > MAX_PROOF_LINES:
            raise MalformedRequestError(
                f"The request has {len(proof_lines)} proof lines, over the limit of "
                f"{MAX_PROOF_LINES}."
            )
        try:
            old_size = parse_decimal(old_line[4:], what="old size")
            proof = tuple(_proof_hash(line, n) for n, line in enumerate(proof_lines))
        except EncodingError as exc:
            raise MalformedRequestError(str(exc)) from exc
        return cls(old_size, proof, note)


def _proof_hash(line: str, position: int) -> bytes:
    value = std_b64decode(line, what=f"proof line {position + 1}")
    if len(value) != HASH_SIZE:
        raise EncodingError(f"Proof line {position + 1} holds {len(value)} bytes, not {HASH_SIZE}.")
    return value


@dataclass(frozen=True)
class LatestCheckpoint:
    """The one checkpoint a witness keeps per log: the newest it cosigned, as the log signed it."""

    checkpoint: Checkpoint
    note: str
    cosigned_at: int

    @classmethod
    def from_note(cls, note: str, cosigned_at: int) -> LatestCheckpoint:
        text, _ = split_note(note)
        return cls(Checkpoint.parse(text), note, cosigned_at)


Persist = Callable[[Mapping[str, LatestCheckpoint]], None]
"""Writes every log's latest checkpoint durably; must return only once the bytes are on disk."""


class Witness:
    """Cosigns checkpoints of known logs, each only if it extends the last one cosigned."""

    def __init__(
        self,
        signer: CosignatureSigner,
        logs: Mapping[str, Sequence[NoteVerifier]],
        latest: Iterable[LatestCheckpoint] = (),
        persist: Persist | None = None,
    ) -> None:
        for origin, verifiers in logs.items():
            if not verifiers or any(v.name != origin for v in verifiers):
                raise ValueError(f"The keys for log {origin} must be named after its origin.")
        self.signer = signer
        self.logs = {origin: tuple(verifiers) for origin, verifiers in logs.items()}
        self._latest = {kept.checkpoint.origin: kept for kept in latest}
        self._persist = persist
        # Checking `old` and storing the new checkpoint must be one step (tlog-witness), or
        # two racing requests could roll the witness back; the lock makes it one.
        self._lock = threading.Lock()

    def latest(self, origin: str) -> LatestCheckpoint | None:
        """The newest checkpoint cosigned for ``origin``, if any."""
        return self._latest.get(origin)

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], note: str, now: int) -> str:
        """Check a checkpoint per tlog-witness, store it, and return the cosignature line.

        Raises an :class:`AddCheckpointError` subclass, leaving the state unchanged, if any
        check fails. ``now`` is the POSIX time written into the cosignature.
        """
        checkpoint = _checkpoint_of(note)
        verifiers = self.logs.get(checkpoint.origin)
        if verifiers is None:
            raise UnknownLogError(f"This witness does not witness the log {checkpoint.origin}.")
        _check_log_signature(note, verifiers)
        if old_size > checkpoint.size:
            raise MalformedRequestError(
                f"The old size {old_size} is larger than the checkpoint's size {checkpoint.size}."
            )
        with self._lock:
            current = self._latest.get(checkpoint.origin)
            current_size = 0 if current is None else current.checkpoint.size
            if old_size != current_size:
                raise ConflictError(
                    f"The old size {old_size} is not this witness's latest size {current_size} "
                    f"for {checkpoint.origin}.",
                    current_size,
                )
            if old_size == 0 and proof:
                raise MalformedRequestError("A request with old size 0 must carry no proof.")
            _check_extends(current, checkpoint, proof)
            kept = LatestCheckpoint(checkpoint, note, now)
            updated = {**self._latest, checkpoint.origin: kept}
            if self._persist is not None:
                self._persist(updated)  # durable before we answer, as the spec demands
            self._latest = updated
        signature = self.signer.cosign(checkpoint.to_text(), now)
        return NoteSignature(self.signer.name, self.signer.key_id, signature).to_line()


def _checkpoint_of(note: str) -> Checkpoint:
    try:
        text, _ = split_note(note)
        return Checkpoint.parse(text)
    except EncodingError as exc:
        raise MalformedRequestError(f"The checkpoint is malformed: {exc}") from exc


def _check_log_signature(note: str, verifiers: Sequence[NoteVerifier]) -> None:
    # Several trusted keys per origin are allowed (key rotation); one valid signature suffices.
    failures: list[KeysError] = []
    for verifier in verifiers:
        try:
            open_checkpoint(note, verifier)
            return
        except (SignatureError, VerificationError, EncodingError) as exc:
            failures.append(exc)
    raise UntrustedCheckpointError(
        f"The checkpoint carries no valid signature from the key of {verifiers[0].name}."
    ) from failures[0]


def _check_extends(
    current: LatestCheckpoint | None, checkpoint: Checkpoint, proof: Sequence[bytes]
) -> None:
    if current is None:
        return  # nothing kept: the first checkpoint of a log is taken as it is
    kept = current.checkpoint
    try:
        check_extends(kept, checkpoint, proof)
    except ForkedLogError as exc:
        raise SplitViewError(_split_view(kept, checkpoint), kept.size) from exc
    except ConsistencyProofError as exc:
        raise InconsistentProofError(
            f"The consistency proof from size {kept.size} to {checkpoint.size} does not "
            f"verify: {exc}"
        ) from exc


def _split_view(kept: Checkpoint, new: Checkpoint) -> str:
    return (
        f"The log {new.origin} signed two different trees of size {new.size}; this witness "
        "cosigned the other one, so this is a split view."
    )
