"""Checking the log side of a bundle: the log key, the checkpoint and its cosignatures, and
each entry's C2SP tlog-proof, with a step-by-step trace of the hashes for ``--verbose``.

Pure: the log key and the witness policy come from counsel, everything else from the bundle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from client.evidence.bundle import Bundle
from client.evidence.findings import Findings, short
from keys.checkpoint import Checkpoint
from keys.cosignature import CosignatureVerifier
from keys.errors import KeysError
from keys.merkle import InclusionProofError, hash_children, root_from_inclusion_proof
from keys.note import NoteVerifier, split_note
from keys.tlogproof import TlogProof


@dataclass(frozen=True)
class Policy:
    """What counsel trusts: the log key published by the relay operator, and witnesses."""

    log_key: str | None = None
    witnesses: tuple[CosignatureVerifier, ...] = ()
    witnesses_required: int = 0


@dataclass
class LogView:
    """The bundle's checkpoint once checked; ``checkpoint`` is None if it could not be."""

    key: str | None = None
    key_from_bundle: bool = True
    checkpoint: Checkpoint | None = None
    cosigned_by: list[str] = field(default_factory=list)
    unknown_cosigners: list[str] = field(default_factory=list)


def check_log(bundle: Bundle, policy: Policy, f: Findings) -> LogView:
    view = LogView()
    try:
        NoteVerifier.from_key_string(bundle.log_key)
    except KeysError:
        f.fail("log-key-malformed", "The log key written in the bundle is not a log verifier key.")
        if policy.log_key is None:
            return view
    if policy.log_key is not None:
        view.key, view.key_from_bundle = policy.log_key, False
        if bundle.log_key != policy.log_key:
            f.fail(
                "log-key-mismatch",
                f"The bundle names the log key {bundle.log_key!r}, not the key you gave.",
            )
    else:
        view.key = bundle.log_key
        f.warn(
            "The log key was taken from the bundle itself. Compare it with the key the relay "
            f"operator publishes before relying on this result: {bundle.log_key}"
        )
    verifier = NoteVerifier.from_key_string(view.key)
    f.step(f"log key: {view.key} ({'from the bundle' if view.key_from_bundle else 'given'})")
    try:
        text, signatures = split_note(bundle.checkpoint)
        checkpoint = Checkpoint.parse(text)
    except KeysError as exc:
        f.fail("checkpoint-malformed", f"The bundle's checkpoint cannot be read: {exc}")
        return view
    message = text.encode("utf-8")
    witnesses = {(w.name, w.key_id): w for w in policy.witnesses}
    log_signed = False
    for line in signatures:
        slot = (line.name, line.key_id)
        if slot == (verifier.name, verifier.key_id):
            log_signed = log_signed or verifier.verify(message, line.signature)
        elif slot in witnesses:
            if witnesses[slot].verify(message, line.signature):
                if line.name not in view.cosigned_by:
                    view.cosigned_by.append(line.name)
            else:
                f.fail(
                    "cosignature-invalid",
                    f"The cosignature by witness {line.name} on the checkpoint does not verify.",
                )
        else:
            view.unknown_cosigners.append(line.name)
    if not log_signed or checkpoint.origin != verifier.name:
        f.fail(
            "checkpoint-signature",
            f"The checkpoint (tree size {checkpoint.size}) is not signed by the log key "
            f"{verifier.name}, so it may be forged.",
        )
        return view
    view.checkpoint = checkpoint
    f.step(
        f"checkpoint: origin {checkpoint.origin}, size {checkpoint.size}, "
        f"root {checkpoint.root_hash.hex()}, signed by the log key: ok"
    )
    _check_witnesses(view, policy, f)
    return view


def _check_witnesses(view: LogView, policy: Policy, f: Findings) -> None:
    have, need = len(view.cosigned_by), policy.witnesses_required
    if view.cosigned_by:
        f.step(f"cosigned by: {', '.join(view.cosigned_by)}")
    if have >= need:
        return
    others = [
        n for n in view.unknown_cosigners if n != (view.checkpoint and view.checkpoint.origin)
    ]
    if others:
        f.fail(
            "witness-unknown",
            f"The checkpoint is cosigned by {have} of the {need} witnesses you require; its "
            f"cosignatures from {', '.join(others)} use keys you did not list.",
        )
    else:
        f.fail(
            "witness-missing",
            f"The checkpoint is cosigned by {have} of the {need} witnesses you require.",
        )


def check_inclusion(
    what: str, proof_text: str, leaf_hash: bytes, bundle: Bundle, view: LogView, f: Findings
) -> int | None:
    """Check one tlog-proof against the bundle's checkpoint; return the index it proves."""
    try:
        proof = TlogProof.parse(proof_text)
    except KeysError as exc:
        f.fail("proof-malformed", f"The log proof of {what} cannot be read: {exc}")
        return None
    if proof.checkpoint_note != bundle.checkpoint:
        f.fail(
            "proof-checkpoint-differs",
            f"The log proof of {what} leads to another checkpoint than the bundle's.",
        )
        return proof.index
    checkpoint = view.checkpoint
    if checkpoint is None:
        return proof.index
    if proof.index >= checkpoint.size:
        f.fail(
            "index-out-of-range",
            f"The log proof of {what} names log index {proof.index}, beyond the checkpoint's "
            f"{checkpoint.size} entries.",
        )
        return proof.index
    f.step(f"{what}: leaf {proof.index} of {checkpoint.size}, leaf hash {leaf_hash.hex()}")
    try:
        computed = root_from_inclusion_proof(leaf_hash, proof.index, checkpoint.size, proof.hashes)
    except InclusionProofError as exc:
        f.fail("inclusion-malformed", f"The log proof of {what} has the wrong shape: {exc}")
        return proof.index
    f.trace.extend(trace_inclusion(leaf_hash, proof.index, checkpoint.size, proof.hashes))
    f.step(f"  computed root {computed.hex()}; expected {checkpoint.root_hash.hex()}")
    if computed != checkpoint.root_hash:
        f.fail(
            "inclusion-mismatch",
            f"The log proof of {what} leads to root {short(computed)}, not the checkpoint's "
            f"root {short(checkpoint.root_hash)}, so that entry is not in the log as shown.",
        )
    return proof.index


def trace_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> list[str]:
    """Each step of RFC 9162 section 2.1.3.2, spelled out as rekor-cli verify does."""
    lines, fn, sn, r = [], index, size - 1, leaf
    for step, p in enumerate(proof, 1):
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            lines.append(f"  step {step}: H(0x01 || {p.hex()[:16]}.. || node) = {r.hex()}")
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = hash_children(r, p)
            lines.append(f"  step {step}: H(0x01 || node || {p.hex()[:16]}..) = {r.hex()}")
        fn, sn = fn >> 1, sn >> 1
    return lines
