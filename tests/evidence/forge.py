"""What a dishonest party or relay could do to a bundle, as small helpers for the tests.

``reforge`` rebuilds the whole log under the relay's real key with entries edited (a second
history under the same key: what a split view or a backdated record needs); ``resign`` is the
exporter re-signing the manifest after changing the bundle, so that only the tampering itself
is left for the verifier to find.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from client.evidence.bundle import Bundle, parse_bundle
from client.evidence.manifest import sign_manifest
from client.negotiate import unwrap
from client.negotiation.statements import Statement
from client.profile import Profile
from keys.checkpoint import Checkpoint, sign_checkpoint
from keys.encoding import b64u_decode, b64u_encode, canonical_json
from keys.envelope import open_disclosure
from keys.merkle import hash_leaf
from keys.note import NoteSigner, split_note
from keys.tlogproof import TlogProof
from tests.relay.reference import NaiveTree

Value = dict[str, Any]


def load(data: bytes) -> Value:
    return json.loads(data)  # type: ignore[no-any-return]


def dump(value: Value) -> bytes:
    return canonical_json(value)


def statement_at(value: Value, position: int) -> Statement | None:
    disclosure = value["entries"][position]["disclosure"]
    if disclosure is None:
        return None
    return unwrap(open_disclosure(canonical_json(disclosure)).plaintext)


def find(value: Value, kind: str, nth: int = 0, sender: bytes | None = None) -> int:
    """The position of the nth disclosed statement of this kind (and sender) in the entries."""
    hits = []
    for position, item in enumerate(value["entries"]):
        statement = statement_at(value, position)
        if statement is None or type(statement).__name__ != kind:
            continue
        envelope_sender = b64u_decode(item["disclosure"]["envelope"]["context"]["sender"])
        if sender is None or envelope_sender == sender:
            hits.append(position)
    return hits[nth]


def withheld(value: Value) -> list[int]:
    return [n for n, item in enumerate(value["entries"]) if item["disclosure"] is None]


def entry_of(item: Value) -> bytes:
    return b64u_decode(item["entry"])


def index_of(item: Value) -> int:
    return TlogProof.parse(item["proof"]).index


def set_note(value: Value, note: str) -> None:
    """Put ``note`` as the checkpoint, in the bundle and in every tlog-proof."""
    value["log"]["checkpoint"] = note
    for item in _logged(value):
        proof = TlogProof.parse(item["proof"])
        item["proof"] = TlogProof(proof.index, proof.hashes, note).to_text()


def _logged(value: Value) -> list[Value]:
    records = [r for h in value["identities"] for r in h["records"]]
    return [*value["entries"], *records]


def checkpoint_of(value: Value) -> Checkpoint:
    return Checkpoint.parse(split_note(value["log"]["checkpoint"])[0])


def resign(value: Value, exporter: Profile) -> Value:
    """The exporter signs a fresh manifest for the bundle as it now stands."""
    bundle: Bundle = parse_bundle(dump({**value, "manifest": value["manifest"]}))
    digests = [(hashlib.sha256(e.entry).digest(), e) for e in bundle.entries]
    value["manifest"] = sign_manifest(
        exporter.signing_key(),
        thread=bundle.thread,
        created_at=int(value["manifest"]["body"]["created_at"]),
        checkpoint=checkpoint_of(value),
        disclosed=[e.entry[2:34] for _, e in digests if e.disclosure is not None],
        withheld=[e.entry[2:34] for _, e in digests if e.disclosure is None],
    )
    return value


def reforge(
    value: Value,
    leaves: list[bytes],
    signer: NoteSigner,
    edit: Callable[[list[bytes]], dict[bytes, bytes]],
) -> Value:
    """Rebuild the log with ``edit`` applied to its entries, signed with the log's real key.

    ``edit`` changes the list in place and returns old entry -> new entry for entries the
    bundle carries that it replaced; every proof in the bundle is then made afresh.
    """
    leaves = list(leaves)
    renamed = edit(leaves)
    tree = NaiveTree([hash_leaf(e) for e in leaves])
    size = len(leaves)
    note = sign_checkpoint(Checkpoint(signer.name, size, tree.root(size)), signer)
    value["log"]["checkpoint"] = note
    value["log"]["consistency"] = []
    for item in _logged(value):
        entry = renamed.get(entry_of(item), entry_of(item))
        index = leaves.index(entry)
        item["entry"] = b64u_encode(entry)
        item["proof"] = TlogProof(index, tuple(tree.path(index, size)), note).to_text()
    return value


def signed_at(leaves: list[bytes], signer: NoteSigner, size: int) -> str:
    """The checkpoint the log would have signed at ``size``."""
    tree = NaiveTree([hash_leaf(e) for e in leaves])
    return sign_checkpoint(Checkpoint(signer.name, size, tree.root(size)), signer)


def proof_for(leaves: list[bytes], index: int, note: str) -> str:
    size = Checkpoint.parse(split_note(note)[0]).size
    tree = NaiveTree([hash_leaf(e) for e in leaves[:size]])
    return TlogProof(index, tuple(tree.path(index, size)), note).to_text()


def consistency(leaves: list[bytes], first: int, second: int) -> list[bytes]:
    return NaiveTree([hash_leaf(e) for e in leaves]).proof(first, second)
