"""The exporter's manifest: a statement, signed with the exporter's identity key, listing which
thread entries the bundle discloses and which it withholds, under which checkpoint.

It is what makes a removed disclosure visible: anyone between the party and counsel can strip
an envelope from the file, but not from the signed list. Format: docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nacl.signing

from client.evidence.bundle import MANIFEST_PURPOSE, Bundle
from client.evidence.entries import CheckedEntry
from client.evidence.findings import Findings, short
from client.evidence.identities import CheckedHistory
from keys.checkpoint import Checkpoint
from keys.encoding import b64u_decode, b64u_encode
from keys.errors import KeysError
from keys.statement import Statement, sign_statement

_FIELDS = {
    "purpose",
    "signer",
    "thread",
    "created_at",
    "log_size",
    "log_root",
    "disclosed",
    "withheld",
}


def sign_manifest(
    key: nacl.signing.SigningKey,
    *,
    thread: bytes,
    created_at: int,
    checkpoint: Checkpoint,
    disclosed: Sequence[bytes],
    withheld: Sequence[bytes],
) -> dict[str, Any]:
    """The signed statement, as the JSON object the bundle carries."""
    body = {
        "purpose": MANIFEST_PURPOSE,
        "thread": b64u_encode(thread),
        "created_at": created_at,
        "log_size": checkpoint.size,
        "log_root": b64u_encode(checkpoint.root_hash),
        "disclosed": [b64u_encode(h) for h in disclosed],
        "withheld": [b64u_encode(h) for h in withheld],
    }
    return sign_statement(key, body).to_json()


def check_manifest(
    bundle: Bundle,
    checkpoint: Checkpoint | None,
    entries: list[CheckedEntry],
    people: dict[bytes, CheckedHistory],
    f: Findings,
) -> Statement | None:
    try:
        manifest = Statement.from_json(bundle.manifest).verify(MANIFEST_PURPOSE)
        body = manifest.body
        if set(body) != _FIELDS:
            raise KeysError("it has missing or unexpected fields")
        disclosed = [b64u_decode(h, length=32) for h in body["disclosed"]]
        withheld = [b64u_decode(h, length=32) for h in body["withheld"]]
        root = b64u_decode(body["log_root"], length=32)
    except (KeysError, TypeError, ValueError) as exc:
        f.fail(
            "manifest-signature", f"The exporter's signed list of entries does not verify: {exc}"
        )
        return None
    if manifest.signer not in people:
        f.fail("identity-missing", "The bundle has no identity history for its exporter.")
    present = {c.fields.digest: c for c in entries if c.fields is not None}
    for digest in disclosed:
        c = present.get(digest)
        if c is None or not _has_disclosure(bundle, c):
            where = "" if c is None else f" (log index {c.index})"
            f.fail(
                "disclosure-missing",
                f"The exporter's signed list discloses envelope {short(digest)}{where}, but the "
                "bundle does not contain it: it was removed after export.",
            )
    actual_disclosed = [c.fields.digest for c in entries if c.fields and _has_disclosure(bundle, c)]
    problems = []
    if b64u_decode(body["thread"], length=16) != bundle.thread:
        problems.append("it is for another thread")
    if checkpoint is not None and (body["log_size"], root) != (
        checkpoint.size,
        checkpoint.root_hash,
    ):
        problems.append("it names another checkpoint")
    if [d for d in actual_disclosed if d not in disclosed]:
        problems.append("the bundle discloses envelopes it does not list")
    if set(withheld) | set(disclosed) != set(present) or set(withheld) & set(actual_disclosed):
        problems.append("it lists other entries than the bundle holds")
    if problems:
        f.fail(
            "manifest-mismatch",
            f"The exporter's signed list does not match the bundle: {'; '.join(problems)}.",
        )
    return manifest


def _has_disclosure(bundle: Bundle, c: CheckedEntry) -> bool:
    return bundle.entries[c.position].disclosure is not None
