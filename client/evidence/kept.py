"""Checkpoints counsel keeps from earlier bundles, and how a new bundle must relate to them.

On disk (``--keep DIR``, default ``<home>/kept-checkpoints``), one directory per log origin::

    <DIR>/<origin, percent-encoded>/log-key          the log key first seen for this origin
    <DIR>/<origin, percent-encoded>/<size>.json      {"note": checkpoint, "proofs": {from: [b64u]}}

``compare`` is pure: a new checkpoint of the same size must have the same root (else a split
view); one larger than a kept checkpoint must come with a consistency proof from it; one
smaller must be proven a prefix by a proof kept with the larger one (else a rollback).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from client.evidence.findings import Findings, short
from keys.checkpoint import Checkpoint, ForkedLogError, check_extends
from keys.encoding import b64u_decode, b64u_encode, canonical_json
from keys.errors import KeysError
from keys.keystore import write_private_file
from keys.note import split_note

KEY_FILE = "log-key"


@dataclass(frozen=True)
class KeptCheckpoint:
    checkpoint: Checkpoint
    note: str
    proofs: Mapping[int, tuple[bytes, ...]] = field(default_factory=dict)  # from size -> hashes


@dataclass(frozen=True)
class KeptLog:
    key: str | None
    checkpoints: tuple[KeptCheckpoint, ...] = ()


def compare(
    new: Checkpoint,
    proofs: Mapping[int, tuple[bytes, ...]],
    kept: Sequence[KeptCheckpoint],
    f: Findings,
) -> None:
    """Check ``new`` against the kept checkpoints (themselves consistent with each other)."""
    below = max((k for k in kept if k.checkpoint.size < new.size), default=None, key=_size)
    above = min((k for k in kept if k.checkpoint.size > new.size), default=None, key=_size)
    for k in kept:
        if k.checkpoint.size != new.size:
            continue
        try:
            check_extends(k.checkpoint, new, ())
        except ForkedLogError:
            f.fail(
                "split-view",
                f"SPLIT VIEW: a checkpoint you kept and this bundle's both have {new.size} "
                "entries but different contents, so the log showed two different histories.",
            )
        else:
            f.step(f"kept checkpoint of size {new.size}: same root: ok")
    # Consistency is transitive, so the nearest kept checkpoint on each side is enough.
    if below is not None:
        old = below.checkpoint
        if old.size not in proofs:
            f.fail(
                "consistency-unproven",
                f"You kept a checkpoint of size {old.size}, and the bundle carries no proof "
                f"that its log extends it; ask for an export with --prove-from {old.size}.",
            )
        else:
            _consistent(old, new, proofs[old.size], f)
    if above is not None:
        later = above.checkpoint
        if new.size not in above.proofs:
            f.fail(
                "rollback",
                f"The bundle's checkpoint ({new.size} entries) is older than one you kept "
                f"({later.size} entries) and nothing proves it part of that log: a rollback.",
            )
        else:
            _consistent(new, later, above.proofs[new.size], f)


def _size(k: KeptCheckpoint) -> int:
    return k.checkpoint.size


def _consistent(old: Checkpoint, new: Checkpoint, proof: tuple[bytes, ...], f: Findings) -> None:
    try:
        check_extends(old, new, proof)
    except KeysError as exc:
        f.fail(
            "consistency-invalid",
            f"The log at {new.size} entries is not proven to extend the log at {old.size} "
            f"entries (a split view or a rewritten log): {exc}",
        )
        return
    f.step(
        f"consistency {old.size} -> {new.size}: root {short(old.root_hash)} extends to "
        f"{short(new.root_hash)}: ok"
    )


# --- on disk ------------------------------------------------------------------------------------


def _log_dir(root: Path, origin: str) -> Path:
    return root / quote(origin, safe="")


def load(root: Path, origin: str) -> KeptLog:
    directory = _log_dir(root, origin)
    key_path = directory / KEY_FILE
    key = key_path.read_text("utf-8").strip() if key_path.exists() else None
    kept = []
    for path in sorted(directory.glob("*.json")) if directory.exists() else []:
        try:
            value = json.loads(path.read_bytes())
            text, _ = split_note(value["note"])
            proofs = {
                int(size): tuple(b64u_decode(h, length=32) for h in hashes)
                for size, hashes in value["proofs"].items()
            }
            kept.append(KeptCheckpoint(Checkpoint.parse(text), value["note"], proofs))
        except (KeysError, ValueError, KeyError, TypeError):
            continue  # a damaged file is not evidence of anything; it is simply not used
    return KeptLog(key, tuple(kept))


def store(
    root: Path, key: str, checkpoint: Checkpoint, note: str, proofs: Mapping[int, Sequence[bytes]]
) -> Path:
    """Keep a verified checkpoint and the proofs that reached it (they prove older ones)."""
    directory = _log_dir(root, checkpoint.origin)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (directory / KEY_FILE).exists():
        write_private_file(directory / KEY_FILE, (key + "\n").encode("utf-8"))
    path = directory / f"{checkpoint.size:020d}.json"
    merged: dict[str, list[str]] = {}
    if path.exists():
        merged = json.loads(path.read_bytes()).get("proofs", {})
    merged.update({str(s): [b64u_encode(h) for h in p] for s, p in proofs.items()})
    write_private_file(path, canonical_json({"note": note, "proofs": merged}))
    return path
