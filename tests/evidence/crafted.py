"""Envelopes a party could craft with their own key that the relay would never have accepted
(a second first envelope, a previous hash from the future, a content signature that fails),
slipped into a reforged log so that only the crafted part is wrong."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence

import nacl.bindings as sodium

from client.negotiate import SCENE_PURPOSE, wrap
from client.negotiation.statements import Message
from client.profile import Profile
from keys import statement as sig
from keys.encoding import b64u_decode, b64u_encode, canonical_json
from keys.envelope import Envelope, Opened, encode_disclosure, pad, seal
from keys.logentry import RecordType, encode_entry
from tests.evidence import forge


def seal_message(
    sender: Profile,
    readers: Sequence[Profile],
    thread: bytes,
    prev: bytes | None,
    *,
    bad_inner: bool = False,
) -> Opened:
    recipients = [
        r
        for p in {sender.identity_key: sender, **{p.identity_key: p for p in readers}}.values()
        for r in p.own_recipients()
    ]
    text = wrap(Message(tuple(p.identity_key for p in readers), "crafted after the fact"))
    opened = seal(
        text,
        sender=sender.signing_key(),
        recipients=recipients,
        thread=thread,
        prev=prev,
        purpose=SCENE_PURPOSE,
    )
    if not bad_inner:
        return opened
    # Same context and key, but the content is sealed with a signature that is not the sender's.
    e, key = opened.envelope, opened.message_key
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pad(os.urandom(sig.SIGNATURE_SIZE), text), e.context.to_bytes(), e.nonce, key
    )
    unsigned = Envelope(e.context, e.nonce, bytes(ciphertext), e.wrapped_keys, b"")
    outer = sig.sign(sender.signing_key(), sig.ENVELOPE_OUTER, unsigned.unsigned_bytes())
    envelope = Envelope(e.context, e.nonce, bytes(ciphertext), e.wrapped_keys, outer)
    return Opened(envelope, text, key)


def add_crafted_envelope(
    value: forge.Value,
    leaves: list[bytes],
    opened: Opened,
    *,
    at: int,
    received_ms: int,
) -> bytes:
    """Put ``opened`` into the log at leaf ``at`` and into the bundle's entries, disclosed."""
    entry = encode_entry(RecordType.ENVELOPE, opened.envelope.hash, received_ms)
    leaves.insert(at, entry)
    item = {
        "entry": b64u_encode(entry),
        "proof": "",
        "disclosure": json.loads(encode_disclosure(opened)),
    }
    # Keep the entries in log order: after every entry whose leaf comes before it.
    positions = [leaves.index(forge.entry_of(e)) for e in value["entries"]]
    value["entries"].insert(sum(1 for p in positions if p < at), item)
    return entry


def thread_of(value: forge.Value) -> bytes:
    return b64u_decode(value["thread"], length=16)


def envelope_hash(item: forge.Value) -> bytes:
    return hashlib.sha256(canonical_json(item["disclosure"]["envelope"])).digest()
