"""Regenerate the known-answer vectors (envelopes, identities, grants, invites) from fixed keys.

    python tests/vectors/generate.py           write tests/vectors/*/...
    python tests/vectors/generate.py --check   regenerate in memory; exit 1 naming every
                                               file whose bytes differ (or is stale/missing)

Keys come from fixed seeds (``SHA-256("closedset/vectors/v1/seed/" || label)``) and, only
inside this script, ``keys.randomness.random_bytes`` is replaced by a counter-based stream
(``SHA-256("closedset/vectors/v1/random/" || label || "/" || uint64be(counter))``, blocks
concatenated, each call taking the next bytes). Invalid vectors are deterministic mutations of
valid ones, each file named after what is wrong with it. Format: docs/protocol.md, "Vectors".
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
import nacl.public
import nacl.signing

import keys.randomness
from keys import armor, mailseal
from keys import statement as sig
from keys.encoding import b64u_encode, canonical_json
from keys.envelope import (
    MAX_RECIPIENTS,
    Opened,
    Recipient,
    _wrap_key,
    encode_disclosure,
    pad,
    seal,
)
from keys.grant import THREAD_GRANT, make_grant
from keys.identity import (
    Fingerprint,
    KeyHistory,
    certify_device,
    encode_history,
    make_identity_record,
    revoke_device,
    revoke_identity,
    rotate_device,
    safety_number,
)
from keys.invite import Invite, join_proof
from keys.logentry import RecordType
from keys.statement import Statement, sign_statement

HERE = Path(__file__).resolve().parent
SEED_PREFIX = b"closedset/vectors/v1/seed/"
RANDOM_PREFIX = b"closedset/vectors/v1/random/"

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
HOUR = 3600
DAY = 86_400

THREAD = hashlib.sha256(b"closedset/vectors/v1/thread/scene-12").digest()[:16]
OTHER_THREAD = hashlib.sha256(b"closedset/vectors/v1/thread/scene-13").digest()[:16]
PURPOSE = "closedset/scene/boundary-sheet/v1"
PLAINTEXTS = {
    "note": "Note to self: ask about the closed set for Thursday.",
    "sheet": "Scene 12 boundary sheet: hands on shoulders yes; kissing on the cheek only; "
    "no nudity — closed set, IC present.",
    "counter": "Counter-proposal: keep the kiss off camera; robe between takes.",
    "wide": "Rider draft v1 for scene 12, shared with the whole closed set.",
}


# --- fixed keys ---------------------------------------------------------------------------------


def seed(label: str) -> bytes:
    return hashlib.sha256(SEED_PREFIX + label.encode("ascii")).digest()


def identity_key(name: str) -> nacl.signing.SigningKey:
    """Ed25519 identity key whose 32-byte seed is ``seed("identity/<name>")``."""
    return nacl.signing.SigningKey(seed(f"identity/{name}"))


def device_key(name: str, number: int = 1) -> nacl.public.PrivateKey:
    """X25519 device key whose secret scalar is ``seed("device/<name>/<number>")``."""
    return nacl.public.PrivateKey(seed(f"device/{name}/{number}"))


def recipient(name: str, number: int = 1) -> Recipient:
    return Recipient(
        identity=bytes(identity_key(name).verify_key),
        device=bytes(device_key(name, number).public_key),
    )


def party(name: str, numbers: tuple[int, ...] = (1,)) -> dict[str, Any]:
    key = identity_key(name)
    return {
        "identity_seed_hex": seed(f"identity/{name}").hex(),
        "identity_key": b64u_encode(bytes(key.verify_key)),
        "devices": [
            {
                "number": n,
                "device_seed_hex": seed(f"device/{name}/{n}").hex(),
                "device_key": b64u_encode(bytes(device_key(name, n).public_key)),
            }
            for n in numbers
        ],
    }


# --- deterministic randomness (this script only) -----------------------------------------------


class CounterStream:
    """``SHA-256(RANDOM_PREFIX || label || "/" || uint64be(counter))`` blocks, consumed in order."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.counter = 0
        self.buffer = b""
        self.draws: list[bytes] = []

    def __call__(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.buffer += hashlib.sha256(
                RANDOM_PREFIX + self.label.encode("ascii") + b"/" + self.counter.to_bytes(8, "big")
            ).digest()
            self.counter += 1
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        self.draws.append(out)
        return out


@contextlib.contextmanager
def patched_random(source: Callable[[int], bytes]) -> Iterator[None]:
    """Replace ``keys.randomness.random_bytes`` everywhere the trust core bound it by name."""
    original = keys.randomness.random_bytes
    patched = [
        module
        for name, module in sorted(sys.modules.items())
        if (name == "keys" or name.startswith("keys."))
        and getattr(module, "random_bytes", None) is original
    ]
    for module in patched:
        module.random_bytes = source  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in patched:
            module.random_bytes = original  # type: ignore[attr-defined]


def seal_deterministically(label: str, plaintext: bytes, **kwargs: Any) -> tuple[Opened, list]:
    stream = CounterStream(label)
    with patched_random(stream):
        opened = seal(plaintext, **kwargs)
    return opened, stream.draws


# --- valid envelopes ----------------------------------------------------------------------------

# Each valid envelope: (file stem, sender, recipients as (name, device number), plaintext key,
# previous envelope stem or None, description).
ENVELOPES: list[tuple[str, str, list[tuple[str, int]], str, str | None, str]] = [
    (
        "one-recipient-note-to-self",
        "alice",
        [("alice", 1)],
        "note",
        None,
        "A note to self: the sender's own device is the only recipient; first in its thread.",
    ),
    (
        "three-recipients-first-in-thread",
        "alice",
        [("alice", 1), ("bob", 1), ("carol", 1)],
        "sheet",
        None,
        "Alice (IC) writes to Bob and Carol; first envelope in the thread, so prev is null.",
    ),
    (
        "three-recipients-chained",
        "bob",
        [("alice", 1), ("bob", 1), ("carol", 1)],
        "counter",
        "three-recipients-first-in-thread",
        "Bob answers in the same thread; prev is the hash of the envelope he saw last.",
    ),
    (
        "ten-recipients",
        "alice",
        [("alice", 1), ("alice", 2)]
        + [(n, 1) for n in ("bob", "carol", "dan", "erin", "frank", "grace", "heidi", "ivan")],
        "wide",
        "three-recipients-chained",
        "Ten recipient devices, two of them the sender's own; chained after Bob's answer.",
    ),
]


def _draw_uses(opened: Opened) -> list[str]:
    uses = ["message key", "AEAD nonce"]
    uses += [
        f"ephemeral X25519 seed for recipient {i} (crypto_box_seed_keypair)"
        for i in range(len(opened.envelope.context.recipients))
    ]
    return uses


def build_valid_envelopes() -> dict[str, tuple[dict[str, Any], Opened]]:
    built: dict[str, tuple[dict[str, Any], Opened]] = {}
    for stem, sender, rcpts, text_key, prev_stem, description in ENVELOPES:
        plaintext = PLAINTEXTS[text_key].encode("utf-8")
        prev = None if prev_stem is None else built[prev_stem][1].envelope.hash
        label = f"envelope/{stem}"
        opened, draws = seal_deterministically(
            label,
            plaintext,
            sender=identity_key(sender),
            recipients=[recipient(n, d) for n, d in rcpts],
            thread=THREAD,
            prev=prev,
            purpose=PURPOSE,
        )
        envelope = opened.envelope
        uses = _draw_uses(opened)
        assert len(uses) == len(draws)
        order = {r: i for i, r in enumerate(envelope.context.recipients)}
        names: dict[str, list[int]] = {}
        for n, d in rcpts:
            names.setdefault(n, []).append(d)
        padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            envelope.ciphertext, envelope.context.to_bytes(), envelope.nonce, opened.message_key
        )
        inner = padded[: sig.SIGNATURE_SIZE]
        vector = {
            "description": description,
            "kind": "envelope",
            "parties": {n: party(n, tuple(ds)) for n, ds in names.items()},
            "inputs": {
                "sender": sender,
                "recipients": [
                    {"name": n, "device_number": d, "index": order[recipient(n, d)]}
                    for n, d in rcpts
                ],
                "thread_hex": THREAD.hex(),
                "prev_hex": None if prev is None else prev.hex(),
                "prev_is_hash_of": None if prev_stem is None else f"valid/{prev_stem}.json",
                "purpose": PURPOSE,
                "plaintext_utf8": plaintext.decode("utf-8"),
                "plaintext_hex": plaintext.hex(),
                "random_label": label,
                "random_draws": [
                    {"use": use, "hex": draw.hex()} for use, draw in zip(uses, draws, strict=True)
                ],
            },
            "expected": {
                "context_jcs": envelope.context.to_bytes().decode("ascii"),
                "context_sha256_hex": hashlib.sha256(envelope.context.to_bytes()).hexdigest(),
                "inner_signature_hex": bytes(inner).hex(),
                "padded_plaintext_length": len(padded),
                "padded_plaintext_sha256_hex": hashlib.sha256(padded).hexdigest(),
                "ciphertext_length": len(envelope.ciphertext),
                "outer_signature_hex": envelope.signature.hex(),
                "message_key_hex": opened.message_key.hex(),
                "envelope": envelope.to_bytes().decode("ascii"),
                "envelope_sha256_hex": envelope.hash.hex(),
                "disclosure": _disclosure(opened).decode("ascii"),
            },
        }
        built[stem] = (vector, opened)
    return built


def _disclosure(opened: Opened) -> bytes:
    return encode_disclosure(opened)


def disclosure_vector(opened: Opened, source: str) -> dict[str, Any]:
    return {
        "description": "Bob hands counsel the message key of his answer: it opens that "
        "envelope (and, see the invalid set, no other).",
        "kind": "disclosure",
        "derived_from": source,
        "input": _disclosure(opened).decode("ascii"),
        "expected": {
            "plaintext_utf8": opened.plaintext.decode("utf-8"),
            "plaintext_hex": opened.plaintext.hex(),
            "sender": b64u_encode(opened.sender),
            "envelope_sha256_hex": opened.envelope.hash.hex(),
        },
    }


# --- invalid envelopes --------------------------------------------------------------------------


def _json(opened: Opened) -> dict[str, Any]:
    return copy.deepcopy(opened.envelope.to_json())


def _bytes(value: Any) -> bytes:
    return canonical_json(value)


def _resign(value: dict[str, Any], key: nacl.signing.SigningKey) -> dict[str, Any]:
    unsigned = {k: v for k, v in value.items() if k != "signature"}
    value["signature"] = b64u_encode(sig.sign(key, sig.ENVELOPE_OUTER, canonical_json(unsigned)))
    return value


def _swap_base64url_alphabet(text: str) -> str:
    for i, ch in enumerate(text):
        if ch in "-_":
            return text[:i] + {"-": "+", "_": "/"}[ch] + text[i + 1 :]
    raise AssertionError("no '-' or '_' to swap")


def build_invalid_envelopes(
    valid: dict[str, tuple[dict[str, Any], Opened]],
) -> dict[str, dict[str, Any]]:
    base_stem = "three-recipients-first-in-thread"
    base = valid[base_stem][1]
    chained_stem = "three-recipients-chained"
    chained = valid[chained_stem][1]
    alice, bob = identity_key("alice"), identity_key("bob")
    out: dict[str, dict[str, Any]] = {}

    def add(
        name: str,
        why: str,
        data: bytes,
        error: str,
        *,
        source: str = base_stem,
        open_as: tuple[str, int] | None = ("bob", 1),
        kind: str = "envelope",
        module: str = "keys.errors",
    ) -> None:
        vector: dict[str, Any] = {
            "description": why,
            "kind": kind,
            "derived_from": f"valid/{source}.json",
            "input": data.decode("utf-8"),
        }
        if kind == "envelope":
            assert open_as is not None
            vector["open_as"] = {
                "name": open_as[0],
                "device_number": open_as[1],
                "device_seed_hex": seed(f"device/{open_as[0]}/{open_as[1]}").hex(),
            }
        vector["error"] = error
        vector["error_module"] = module
        out[name] = vector

    env_mod = "keys.envelope"
    v = _json(base)

    # Signatures and who made them.
    w = _json(base)
    w["signature"] = b64u_encode(
        sig.sign(bob, sig.ENVELOPE_OUTER, _bytes({k: x for k, x in w.items() if k != "signature"}))
    )
    add(
        "outer-signature-by-other-member",
        "The outer signature is Bob's over the very same bytes, but the sender field says Alice.",
        _bytes(w),
        "SignatureError",
    )
    w = _json(base)
    w["context"]["sender"] = b64u_encode(bytes(bob.verify_key))
    _resign(w, bob)
    add(
        "resigned-by-other-member-as-sender",
        "Bob swapped the sender field to himself and re-signed the outer layer; the AEAD "
        "binds the original context, so decryption fails.",
        _bytes(w),
        "DecryptionError",
        open_as=("carol", 1),
    )
    w = _json(base)
    unsigned = _bytes({k: x for k, x in w.items() if k != "signature"})
    w["signature"] = b64u_encode(sig.sign(alice, sig.ENVELOPE_INNER, unsigned))
    add(
        "outer-signature-made-for-inner-purpose",
        "The outer signature is Alice's over the right bytes but under the inner purpose tag.",
        _bytes(w),
        "SignatureError",
    )

    # Context moved, re-addressed or replayed (signature left as it was).
    w = _json(base)
    w["context"]["thread"] = b64u_encode(OTHER_THREAD)
    add("thread-swapped", "The envelope was moved to another thread.", _bytes(w), "SignatureError")
    w = _json(chained)
    w["context"]["prev"] = b64u_encode(hashlib.sha256(b"another envelope").digest())
    add(
        "prev-hash-changed",
        "Replayed with another previous-envelope hash.",
        _bytes(w),
        "SignatureError",
        source=chained_stem,
        open_as=("alice", 1),
    )
    w = _json(chained)
    w["context"]["prev"] = None
    add(
        "prev-hash-removed",
        "A chained envelope replayed as if it were the first in its thread.",
        _bytes(w),
        "SignatureError",
        source=chained_stem,
        open_as=("alice", 1),
    )
    # Bob knows the message key, so he can wrap it for Mallory; the outer signature is Alice's.
    extra = Recipient(
        identity=bytes(identity_key("mallory").verify_key),
        device=bytes(device_key("mallory").public_key),
    )
    with patched_random(CounterStream("envelope/invalid/recipient-added")):
        mallory_wrapped = _wrap_key(base.message_key, extra.device)
    pairs = list(zip(base.envelope.context.recipients, base.envelope.wrapped_keys, strict=True))
    added = sorted([*pairs, (extra, mallory_wrapped)], key=lambda p: p[0])
    w = _json(base)
    w["context"]["recipients"] = [r.to_json() for r, _ in added]
    w["keys"] = [b64u_encode(k) for _, k in added]
    add(
        "recipient-added",
        "Mallory was added to the recipients with a correctly wrapped message key.",
        _bytes(w),
        "SignatureError",
        open_as=("mallory", 1),
    )
    removed = [p for p in pairs if p[0] != recipient("carol")]
    w = _json(base)
    w["context"]["recipients"] = [r.to_json() for r, _ in removed]
    w["keys"] = [b64u_encode(k) for _, k in removed]
    add("recipient-removed", "Carol was removed from the recipients.", _bytes(w), "SignatureError")
    replaced = sorted(
        [p for p in pairs if p[0] != recipient("carol")] + [(extra, mallory_wrapped)],
        key=lambda p: p[0],
    )
    w = _json(base)
    w["context"]["recipients"] = [r.to_json() for r, _ in replaced]
    w["keys"] = [b64u_encode(k) for _, k in replaced]
    add(
        "recipient-replaced",
        "Carol's entry was replaced by Mallory's, with a correctly wrapped key.",
        _bytes(w),
        "SignatureError",
        open_as=("mallory", 1),
    )
    add(
        "not-a-recipient",
        "A valid envelope opened by Mallory, who is not among its recipients.",
        base.envelope.to_bytes(),
        "NotARecipientError",
        open_as=("mallory", 1),
        module=env_mod,
    )

    # Shape of the recipient list.
    w = _json(base)
    w["context"]["recipients"] = list(reversed(w["context"]["recipients"]))
    w["keys"] = list(reversed(w["keys"]))
    add(
        "recipient-list-unsorted",
        "The recipient list (and its keys) in reverse order.",
        _bytes(w),
        "EnvelopeFormatError",
        module=env_mod,
    )
    w = _json(base)
    keep = [
        i
        for i, r in enumerate(base.envelope.context.recipients)
        if r.identity != base.envelope.context.sender
    ]
    w["context"]["recipients"] = [w["context"]["recipients"][i] for i in keep]
    w["keys"] = [w["keys"][i] for i in keep]
    _resign(w, alice)
    add(
        "sender-not-a-recipient",
        "The sender's own device is missing from the recipients (outer signature valid).",
        _bytes(w),
        "EnvelopeFormatError",
        module=env_mod,
    )
    w = _json(base)
    many = sorted(
        list(base.envelope.context.recipients)
        + [
            Recipient(
                identity=bytes(identity_key(f"extra-{i}").verify_key),
                device=bytes(device_key(f"extra-{i}").public_key),
            )
            for i in range(MAX_RECIPIENTS + 1 - len(base.envelope.context.recipients))
        ]
    )
    w["context"]["recipients"] = [r.to_json() for r in many]
    w["keys"] = [w["keys"][0]] * len(many)
    add(
        "too-many-recipients",
        f"{MAX_RECIPIENTS + 1} recipient devices, one over the limit.",
        _bytes(w),
        "LimitError",
    )
    w = _json(base)
    w["context"]["recipients"].insert(1, w["context"]["recipients"][1])
    w["keys"].insert(1, w["keys"][1])
    add(
        "duplicate-device",
        "The same recipient device is named twice.",
        _bytes(w),
        "EnvelopeFormatError",
        module=env_mod,
    )
    w = _json(base)
    w["keys"] = w["keys"][:-1]
    add(
        "missing-wrapped-key",
        "One wrapped key fewer than recipients.",
        _bytes(w),
        "EnvelopeFormatError",
        module=env_mod,
    )

    # Encodings.
    canonical = base.envelope.to_bytes()
    add(
        "non-canonical-json-whitespace",
        "The canonical bytes with a space after the first colon.",
        canonical.replace(b":", b": ", 1),
        "EncodingError",
    )
    add(
        "non-canonical-json-key-order",
        "The same object with its members not in RFC 8785 order.",
        _reordered(v),
        "EncodingError",
    )
    w = _json(base)
    w["context"]["thread"] += "=="
    add(
        "padded-base64",
        "The thread id in base64url with '=' padding.",
        _bytes(w),
        "EncodingError",
    )
    w = _json(base)
    w["ciphertext"] = _swap_base64url_alphabet(w["ciphertext"])
    add(
        "standard-base64-alphabet",
        "The ciphertext uses '+' or '/' from the standard alphabet instead of '-' or '_'.",
        _bytes(w),
        "EncodingError",
    )
    w = _json(base)
    w["nonce"] = b64u_encode(base.envelope.nonce[:-1])
    add("nonce-too-short", "A 23-byte nonce.", _bytes(w), "EncodingError")
    w = _json(base)
    w["keys"][0] = b64u_encode(base.envelope.wrapped_keys[0][:-1])
    add("wrapped-key-truncated", "A 79-byte wrapped key.", _bytes(w), "EncodingError")
    w = _json(base)
    w["context"]["purpose"] = "boundary-sheet"
    add(
        "purpose-not-a-tag",
        "The context's purpose is not a closedset/.../vN tag.",
        _bytes(w),
        "EncodingError",
    )

    # Format version and fields.
    w = _json(base)
    w["context"]["v"] = 3
    add("unknown-version", "Format version 3.", _bytes(w), "EnvelopeFormatError", module=env_mod)
    w = _json(base)
    w["context"]["v"] = True
    add(
        "version-true-instead-of-1",
        "The version is JSON true, which some languages equate with 1.",
        _bytes(w),
        "EnvelopeFormatError",
        module=env_mod,
    )
    w = _json(base)
    del w["context"]["prev"]
    add(
        "missing-field",
        "The context has no prev member (null is required for a first envelope).",
        _bytes(w),
        "EnvelopeFormatError",
        module=env_mod,
    )
    w = _json(base)
    w["comment"] = "hi"
    add(
        "unexpected-field",
        "The envelope carries a member the format does not define.",
        _bytes(w),
        "EnvelopeFormatError",
        module=env_mod,
    )

    # Ciphertext and keys.
    w = _json(base)
    w["ciphertext"] = b64u_encode(base.envelope.ciphertext[:-1])
    _resign(w, alice)
    add(
        "truncated-ciphertext",
        "The ciphertext lost its last byte (outer signature redone), so its length is no "
        "longer a size bucket; refused before any cryptography.",
        _bytes(w),
        "LimitError",
    )
    add(
        "padding-not-zero",
        "Version 2, outer signature valid, AEAD valid, but the last padding byte is 0x01.",
        _repadded(base, lambda p: p[:-1] + b"\x01"),
        "DecryptionError",
    )
    add(
        "padding-length-beyond-data",
        "Version 2, outer signature valid, AEAD valid, but the length field says more bytes "
        "than the padded plaintext holds.",
        _repadded(
            base,
            lambda p: (
                p[: sig.SIGNATURE_SIZE]
                + (len(p) - sig.SIGNATURE_SIZE).to_bytes(4, "big")
                + p[sig.SIGNATURE_SIZE + 4 :]
            ),
        ),
        "DecryptionError",
    )
    w = _json(base)
    w["ciphertext"] = b64u_encode(base.envelope.ciphertext[: sig.SIGNATURE_SIZE + 15])
    add(
        "ciphertext-shorter-than-signature-and-tag",
        "The ciphertext is shorter than an inner signature plus the AEAD tag (80 bytes).",
        _bytes(w),
        "LimitError",
    )
    w = _json(base)
    ct = bytearray(base.envelope.ciphertext)
    ct[0] ^= 0x01
    w["ciphertext"] = b64u_encode(bytes(ct))
    _resign(w, alice)
    add(
        "ciphertext-altered-under-valid-outer-signature",
        "The sender re-signed after a bit of the ciphertext flipped; the AEAD refuses it.",
        _bytes(w),
        "DecryptionError",
    )
    w = _json(base)
    w["keys"][0], w["keys"][1] = w["keys"][1], w["keys"][0]
    _resign(w, alice)
    bob_index = base.envelope.context.recipients.index(recipient("bob"))
    add(
        "wrapped-key-for-another-device",
        "Two wrapped keys swapped places (outer signature valid): Bob's slot holds a key "
        "sealed to another device.",
        _bytes(w),
        "DecryptionError",
        open_as=("bob", 1) if bob_index in (0, 1) else ("alice", 1),
    )
    add(
        "inner-signature-from-other-key",
        "Outer signature valid (Alice), but the inner signature inside the ciphertext is Bob's.",
        _inner_signed_by(base, bob, sig.ENVELOPE_INNER),
        "SignatureError",
    )
    add(
        "inner-signature-made-for-outer-purpose",
        "Outer signature valid, but the inner signature was made under the outer purpose tag.",
        _inner_signed_by(base, alice, sig.ENVELOPE_OUTER),
        "SignatureError",
    )

    # Disclosures.
    wrong = json.loads(_disclosure(base))
    wrong["message_key"] = b64u_encode(chained.message_key)
    add(
        "wrong-message-key",
        "A disclosure that pairs an envelope with the message key of another envelope in the "
        "same thread with the same recipients.",
        _bytes(wrong),
        "DecryptionError",
        kind="disclosure",
    )
    short = json.loads(_disclosure(base))
    short["message_key"] = b64u_encode(base.message_key[:16])
    add(
        "disclosure-message-key-too-short",
        "A disclosure whose message key is 16 bytes.",
        _bytes(short),
        "EncodingError",
        kind="disclosure",
    )
    return out


def _reordered(value: dict[str, Any]) -> bytes:
    # Members in reverse order, otherwise compact: valid JSON, but not RFC 8785.
    def rev(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: rev(x[k]) for k in sorted(x, reverse=True)}
        if isinstance(x, list):
            return [rev(i) for i in x]
        return x

    return json.dumps(rev(value), separators=(",", ":")).encode("ascii")


def _repadded(base: Opened, change: Callable[[bytes], bytes]) -> bytes:
    """Rebuild ``base`` with its padded AEAD plaintext changed by ``change``, re-signed."""
    envelope = base.envelope
    context_bytes = envelope.context.to_bytes()
    padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        envelope.ciphertext, context_bytes, envelope.nonce, base.message_key
    )
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        change(bytes(padded)), context_bytes, envelope.nonce, base.message_key
    )
    w = envelope.to_json()
    w["ciphertext"] = b64u_encode(bytes(ciphertext))
    _resign(w, identity_key("alice"))
    return canonical_json(w)


def legacy_vector(valid: dict[str, tuple[dict[str, Any], Opened]]) -> dict[str, Any]:
    """A format version 1 envelope (unpadded, as sealed before padding): still read."""
    stem = "three-recipients-first-in-thread"
    base = valid[stem][1]
    w = base.envelope.to_json()
    w["context"]["v"] = 1
    context_bytes = canonical_json(w["context"])
    inner = sig.sign(
        identity_key("alice"),
        sig.ENVELOPE_INNER,
        hashlib.sha256(context_bytes).digest() + base.plaintext,
    )
    w["ciphertext"] = b64u_encode(
        bytes(
            sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
                inner + base.plaintext, context_bytes, base.envelope.nonce, base.message_key
            )
        )
    )
    _resign(w, identity_key("alice"))
    data = canonical_json(w)
    return {
        "description": "Format version 1, as sealed before padding: ciphertext = AEAD(inner || "
        "plaintext), no length, no padding. Readers still open it (old threads); nothing seals "
        "it any more. Same keys, nonce and message key as the v2 vector it is derived from.",
        "kind": "legacy-envelope",
        "derived_from": f"valid/{stem}.json",
        "open_as": [
            {"name": n, "device_seed_hex": seed(f"device/{n}/1").hex()}
            for n in ("alice", "bob", "carol")
        ],
        "expected": {
            "envelope": data.decode("ascii"),
            "envelope_sha256_hex": hashlib.sha256(data).hexdigest(),
            "message_key_hex": base.message_key.hex(),
            "plaintext_hex": base.plaintext.hex(),
        },
    }


def mail_seal_vector(valid: dict[str, tuple[dict[str, Any], Opened]]) -> dict[str, Any]:
    """An envelope sealed for the mail pipe (keys.mailseal) to Bob's two devices."""
    stem = "three-recipients-first-in-thread"
    data = valid[stem][1].envelope.to_bytes()
    devices = [bytes(device_key("bob", n).public_key) for n in (1, 2)]
    label = "mail/sealed-to-two-devices"
    stream = CounterStream(label)
    with patched_random(stream):
        sealed = mailseal.seal_for(data, devices)
    return {
        "description": "The envelope of valid/three-recipients-first-in-thread.json sealed for "
        "mail to Bob's devices 1 and 2 (docs/protocol.md, 'Mail seal'). Either device opens it "
        "with crypto_box_seal_open of its wrapped key, then the AEAD.",
        "kind": "mail-seal",
        "derived_from": f"envelope/valid/{stem}.json",
        "inputs": {
            "plaintext_is_envelope_of": f"envelope/valid/{stem}.json",
            "device_seeds_hex": [seed(f"device/bob/{n}").hex() for n in (1, 2)],
            "device_keys_hex": [d.hex() for d in devices],
            "random_label": label,
            "random_draws": [
                {"use": use, "hex": draw.hex()}
                for use, draw in zip(
                    [
                        "message key",
                        "ephemeral seed for key 0",
                        "ephemeral seed for key 1",
                        "AEAD nonce",
                    ],
                    stream.draws,
                    strict=True,
                )
            ],
        },
        "expected": {
            "sealed_hex": sealed.hex(),
            "sealed_length": len(sealed),
            "aead_length": len(sealed) - 2 - 2 * mailseal.WRAPPED_SIZE - mailseal.NONCE_SIZE,
            "armored": armor.armor(sealed, armor.SEALED),
        },
    }


def _inner_signed_by(base: Opened, key: nacl.signing.SigningKey, purpose: str) -> bytes:
    """Rebuild ``base`` by hand with the same primitives but another inner signature."""
    envelope = base.envelope
    context_bytes = envelope.context.to_bytes()
    inner = sig.sign(key, purpose, hashlib.sha256(context_bytes).digest() + base.plaintext)
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pad(inner, base.plaintext), context_bytes, envelope.nonce, base.message_key
    )
    w = envelope.to_json()
    w["ciphertext"] = b64u_encode(bytes(ciphertext))
    _resign(w, identity_key("alice"))
    return canonical_json(w)


# --- identities ---------------------------------------------------------------------------------


def alice_history() -> list[Statement]:
    alice = identity_key("alice")
    d1, d2, d3 = (bytes(device_key("alice", n).public_key) for n in (1, 2, 3))
    return [
        make_identity_record(
            alice, name="Alice Ng", role="ic", issued_at=T0, email="alice@example.org"
        ),
        certify_device(alice, d1, issued_at=T0 + 60),
        certify_device(alice, d2, issued_at=T0 + HOUR),
        rotate_device(alice, d1, d3, issued_at=T0 + DAY),
        revoke_device(alice, d2, issued_at=T0 + 2 * DAY, reason="laptop lost"),
    ]


def bob_history() -> list[Statement]:
    bob = identity_key("bob")
    return [
        make_identity_record(bob, name="Bob Diaz", role="performer", issued_at=T0),
        certify_device(bob, bytes(device_key("bob").public_key), issued_at=T0 + 10),
    ]


def mallory_history() -> list[Statement]:
    mallory = identity_key("mallory")
    return [
        make_identity_record(mallory, name="Mallory Voss", role="counsel", issued_at=T0),
        certify_device(mallory, bytes(device_key("mallory").public_key), issued_at=T0 + 10),
        revoke_identity(mallory, issued_at=T0 + 3 * DAY, reason="left the production"),
    ]


IDENTITIES: list[tuple[str, str, Callable[[], list[Statement]], list[int], str]] = [
    (
        "history-with-rotation-and-revocation",
        "alice",
        alice_history,
        [T0, T0 + 60, T0 + HOUR, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY],
        "Alice's record, two device certificates, a rotation of device 1 to device 3, and the "
        "revocation of device 2.",
    ),
    (
        "record-and-one-device",
        "bob",
        bob_history,
        [T0, T0 + 10, T0 + DAY],
        "The smallest useful history: an identity record and one device certificate.",
    ),
    (
        "identity-revoked",
        "mallory",
        mallory_history,
        [T0 + 10, T0 + 3 * DAY - 1, T0 + 3 * DAY],
        "An identity that was revoked: no device key is valid from the revocation on.",
    ),
]


def build_valid_identities() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for stem, name, history, times, description in IDENTITIES:
        records = history()
        bundle = encode_history(records)
        folded = KeyHistory.from_records(records)
        numbers = sorted(
            {
                n
                for n in range(1, 4)
                if any(
                    b64u_encode(bytes(device_key(name, n).public_key)) in r.to_bytes().decode()
                    for r in records
                )
            }
        )
        other = "bob" if name != "bob" else "alice"
        other_key = bytes(identity_key(other).verify_key)
        fingerprint = Fingerprint.of(folded.identity_key)
        out[stem] = {
            "description": description,
            "kind": "identity",
            "parties": {name: party(name, tuple(numbers)), other: party(other, ())},
            "inputs": {
                "records": [
                    {
                        "purpose": r.purpose,
                        "issued_at": r.body["issued_at"],
                        "statement": r.to_bytes().decode("utf-8"),
                    }
                    for r in records
                ],
            },
            "expected": {
                "bundle": bundle.decode("utf-8"),
                "bundle_sha256_hex": hashlib.sha256(bundle).hexdigest(),
                "identity_key": b64u_encode(folded.identity_key),
                "name": folded.name,
                "role": folded.role,
                "email": folded.email,
                "created_at": folded.created_at,
                "revoked_at": folded.revoked_at,
                "fingerprint_hex": fingerprint.digest.hex(),
                "fingerprint": fingerprint.grouped(),
                "safety_number_with": {
                    "name": other,
                    "identity_key": b64u_encode(other_key),
                    "safety_number": safety_number(folded.identity_key, other_key),
                },
                "devices_at": [
                    {"time": t, "devices": [b64u_encode(d) for d in folded.devices_at(t)]}
                    for t in times
                ],
                "current_devices": [b64u_encode(d) for d in folded.current_devices()],
            },
        }
    return out


def build_invalid_identities() -> dict[str, dict[str, Any]]:
    alice, bob = identity_key("alice"), identity_key("bob")
    good = alice_history()
    d1, d2, d4 = (bytes(device_key("alice", n).public_key) for n in (1, 2, 4))
    src = "valid/history-with-rotation-and-revocation.json"
    out: dict[str, dict[str, Any]] = {}

    def add(name: str, why: str, records: list[Statement] | bytes, error: str, module: str) -> None:
        data = records if isinstance(records, bytes) else encode_history(records)
        out[name] = {
            "description": why,
            "kind": "identity",
            "derived_from": src,
            "input": data.decode("utf-8"),
            "error": error,
            "error_module": module,
        }

    ident = "keys.identity"
    add(
        "history-out-of-order",
        "The rotation (day 1) and the device revocation (day 2) swapped places.",
        [*good[:3], good[4], good[3]],
        "KeyHistoryError",
        ident,
    )
    add(
        "history-signed-by-other-key",
        "A device certificate in Alice's history is validly signed, but by Bob.",
        [*good[:2], certify_device(bob, d2, issued_at=T0 + HOUR), *good[3:]],
        "KeyHistoryError",
        ident,
    )
    add(
        "device-certified-twice",
        "Device 1 is certified a second time while it is still valid.",
        [*good[:3], certify_device(alice, d1, issued_at=T0 + 2 * HOUR), *good[3:]],
        "KeyHistoryError",
        ident,
    )
    add(
        "rotated-device-certified-again",
        "Device 1, retired by the rotation, is certified again later.",
        [*good, certify_device(alice, d1, issued_at=T0 + 3 * DAY)],
        "KeyHistoryError",
        ident,
    )
    add(
        "rotation-of-uncertified-device",
        "A rotation retires device 4, which was never certified.",
        [*good[:3], rotate_device(alice, d4, d1, issued_at=T0 + DAY)],
        "KeyHistoryError",
        ident,
    )
    add(
        "device-revoked-twice",
        "Device 2 is revoked a second time.",
        [*good, revoke_device(alice, d2, issued_at=T0 + 3 * DAY, reason="again")],
        "KeyHistoryError",
        ident,
    )
    add(
        "history-continues-after-identity-revocation",
        "A device certificate follows the revocation of the identity itself.",
        [
            *good,
            revoke_identity(alice, issued_at=T0 + 3 * DAY, reason="retired"),
            certify_device(alice, d4, issued_at=T0 + 4 * DAY),
        ],
        "KeyHistoryError",
        ident,
    )
    add(
        "history-starts-without-identity-record",
        "The identity record is missing; the history starts with a device certificate.",
        good[1:],
        "KeyHistoryError",
        ident,
    )
    add(
        "two-identity-records",
        "A second identity record (a new name) appears in the middle of the history.",
        [
            *good[:2],
            make_identity_record(alice, name="A. Ng", role="ic", issued_at=T0 + 120),
            *good[2:],
        ],
        "KeyHistoryError",
        ident,
    )
    renamed = Statement(body={**good[0].body, "name": "Alice Ngo"}, signature=good[0].signature)
    add(
        "record-altered-after-signing",
        "The name in the identity record was changed after it was signed.",
        [renamed, *good[1:]],
        "KeyHistoryError",
        ident,
    )
    body = dict(good[1].body)
    wrong_purpose = Statement(
        body=body, signature=sig.sign(alice, sig.DEVICE_ROTATION, canonical_json(body))
    )
    add(
        "signature-made-for-other-purpose",
        "A device certificate whose signature was made under the device-rotation purpose tag.",
        [good[0], wrong_purpose, *good[2:]],
        "KeyHistoryError",
        ident,
    )
    foreign = sign_statement(alice, {"purpose": sig.ENVELOPE_INNER, "issued_at": T0 + 5})
    add(
        "foreign-purpose-in-history",
        "A statement with the envelope inner purpose tag inside an identity history.",
        [good[0], foreign, *good[1:]],
        "EncodingError",
        "keys.errors",
    )
    extra = sign_statement(
        alice,
        {
            "purpose": sig.DEVICE_CERTIFICATE,
            "device": b64u_encode(d4),
            "issued_at": T0 + 3 * DAY,
            "label": "phone",
        },
    )
    add(
        "statement-with-unexpected-field",
        "A correctly signed device certificate with a member the format does not define.",
        [*good, extra],
        "EncodingError",
        "keys.errors",
    )
    as_text = sign_statement(
        alice,
        {"purpose": sig.DEVICE_CERTIFICATE, "device": b64u_encode(d4), "issued_at": str(T0)},
    )
    add(
        "issued-at-not-an-integer",
        "A correctly signed device certificate whose time is a string.",
        [*good, as_text],
        "EncodingError",
        "keys.errors",
    )
    add(
        "bundle-non-canonical-json",
        "The bundle with a newline after its opening brace.",
        encode_history(good).replace(b"{", b"{\n", 1),
        "EncodingError",
        "keys.errors",
    )
    value = json.loads(encode_history(good))
    value["records"][1]["body"]["device"] = b64u_encode(d1) + "="
    add(
        "device-key-padded-base64",
        "A device key written with base64 '=' padding.",
        canonical_json(value),
        "EncodingError",
        "keys.errors",
    )
    return out


# --- signed requests (keys.httpsig) ------------------------------------------------------------


def _request_nonce(label: str) -> bytes:
    return hashlib.sha256(b"closedset/vectors/v1/request-nonce/" + label.encode("ascii")).digest()[
        :16
    ]


REQUESTS = {
    "get-threads": ("alice", "GET", "relay.example", "/v1/threads", b""),
    "get-page-with-query": (
        "bob",
        "GET",
        "127.0.0.1:8440",
        "/v1/threads/" + b64u_encode(THREAD) + "/envelopes?after=3&limit=50",
        b"",
    ),
    "post-thread": (
        "alice",
        "POST",
        "relay.example:8443",
        "/v1/threads",
        b'{"thread":"' + b64u_encode(THREAD).encode("ascii") + b'"}',
    ),
}
REQUEST_CREATED = 1_767_225_600


def build_requests() -> dict[str, dict[str, Any]]:
    """RFC 9421 signed requests: inputs, the signature base, and the three headers."""
    from keys.httpsig import content_digest, sign_request, signature_base

    out = {}
    for stem, (name, method, authority, target, body) in REQUESTS.items():
        key = identity_key(name)
        nonce = _request_nonce(stem)
        headers = sign_request(
            key, method, target, body, authority=authority, created=REQUEST_CREATED, nonce=nonce
        )
        params = headers["Signature-Input"].removeprefix("sig1=")
        base = signature_base(method, authority, target, content_digest(body), params)
        out[stem] = {
            "description": f"{method} {target} signed by {name} for the relay at {authority}",
            "kind": "request",
            "parties": [party(name)],
            "inputs": {
                "signer": name,
                "method": method,
                "authority": authority,
                "target": target,
                "body": body.decode("ascii"),
                "created": REQUEST_CREATED,
                "nonce_hex": nonce.hex(),
            },
            "expected": {"signature_base": base.decode("ascii"), "headers": headers},
        }
    return out


# --- scene statements of rule set 2 (docs/negotiation.md) ----------------------------------------


def build_statements() -> dict[str, dict[str, Any]]:
    """Each statement format rule set 2 added or extended: its canonical plaintext and hash.
    The scene envelope wraps it as ``{"purpose": tag, "statement": {...}}`` (docs/protocol.md)."""
    from client.negotiation import statements as st
    from client.negotiation.brief import Participant
    from client.negotiation.rider import PerformerTerms, RiderAct
    from client.negotiation.sheet import ClosedSet, Signals

    def key(name: str) -> bytes:
        return bytes(identity_key(name).verify_key)

    ic, ana, ben, gina, uma = (key(n) for n in ("ines", "ana", "ben", "gina", "uma"))
    call = T0 + 30 * DAY
    brief = st.SceneBrief(
        title="The Lighthouse", scene="12", pages="31-33", call_time=call,
        valid_from=call - 30 * DAY, valid_until=call + 30 * DAY,
        participants=(
            Participant(ic, "ic", "Ines"), Participant(ana, "performer", "Ana", minor=True),
            Participant(ben, "performer", "Ben"), Participant(gina, "guardian", "Gina", of=ana),
            Participant(uma, "union-rep", "Uma"),
        ),
        union_agreement=False,
    )  # fmt: skip
    signals = {p: Signals(nonverbal=f"two taps ({n})") for p, n in ((ana, "Ana"), (ben, "Ben"))}
    rider = st.Rider(
        version=1, previous=None, pages="31-33", description="A kiss on the hand at the door.",
        call_time=call, valid_from=call - 30 * DAY, valid_until=call + 30 * DAY,
        acts=(RiderAct("holding-hands", ana, ben, ("hands",), 3, ask_first=True,
                       discussed="Discussed with Ana and Gina on Monday."),),
        performers=(PerformerTerms(ana, signals=signals[ana]),
                    PerformerTerms(ben, garments=("barrier-cushion",), signals=signals[ben])),
        signals=Signals(nonverbal="each performer's own, in their terms"),
        closed_set=ClosedSet(("chaperone",)),
    )  # fmt: skip
    cases: dict[str, Any] = {
        "scene-brief-rule-set-2": brief,
        "rider-markers-and-signals": rider,
        "waiver": st.Waiver(1, rider.hash, "Schedule moved by the studio; all agreed in person."),
        "annex": st.Annex(
            1, ben, seed("annex/ben/1"), ("trailer",), note="Only the wide shot, never a close-up."
        ),
        "repair-plan": st.RepairPlan(
            hashlib.sha256(b"the report's plaintext").digest(),
            "Two takes at most, and a check-in after each.",
            (ana,),
        ),
        "re-grant": st.ReGrant(("act:holding-hands",), "Talked it over with Ines; yes again."),
        "replica-consent": st.ReplicaConsent(
            "A face scan for the two storm shots, this film only."
        ),
        "filmed-with-notice": st.FilmedMark(
            1,
            rider.hash,
            ("holding-hands",),
            "takes 1-3",
            ("Rider version 1 was agreed 30.0 hours before call time.",),
        ),
        "report-to-union-rep": st.TransgressionReport(
            "crossing",
            "The take ran on after the slow word.",
            call,
            (ic,),
            send_to_union_rep=True,
        ),
    }
    out = {}
    for stem, statement in cases.items():
        plaintext = statement.to_bytes()
        out[stem] = {
            "kind": "statement",
            "purpose": statement.PURPOSE,
            "plaintext": plaintext.decode("utf-8"),
            "sha256_hex": hashlib.sha256(plaintext).hexdigest(),
        }
    return out


# --- thread grants and invite codes ----------------------------------------------------------

GRANT_THREAD = hashlib.sha256(b"closedset/vectors/v1/thread/grant").digest()[:16]


def _grant_body(grantee: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "purpose": THREAD_GRANT,
        "thread": b64u_encode(GRANT_THREAD),
        "grantee": b64u_encode(bytes(identity_key(grantee).verify_key)),
        "role": "ic",
        "issued_at": T0 + DAY,
    }
    body.update(changes)
    return body


def build_valid_grants() -> dict[str, dict[str, Any]]:
    grant = make_grant(
        identity_key("alice"),
        thread=GRANT_THREAD,
        grantee=bytes(identity_key("bob").verify_key),
        role="ic",
        issued_at=T0 + DAY,
    )
    data = grant.to_bytes()
    return {
        "alice-grants-bob-co-coordination": {
            "description": "Alice, the thread's creator (its IC), makes Bob a co-coordinator.",
            "kind": "grant",
            "parties": {"alice": party("alice", ()), "bob": party("bob", ())},
            "inputs": {
                "thread": b64u_encode(GRANT_THREAD),
                "grantee": "bob",
                "role": "ic",
                "issued_at": T0 + DAY,
            },
            "expected": {
                "signing_input_hex": sig.signing_input(
                    THREAD_GRANT, canonical_json(dict(grant.statement.body))
                ).hex(),
                "grant": data.decode("utf-8"),
                "grant_sha256_hex": hashlib.sha256(data).hexdigest(),
                "log_entry_record_type": int(RecordType.THREAD_GRANT),
            },
        }
    }


def build_invalid_grants() -> dict[str, dict[str, Any]]:
    alice, bob = identity_key("alice"), identity_key("bob")
    src = "valid/alice-grants-bob-co-coordination.json"
    out: dict[str, dict[str, Any]] = {}

    def add(name: str, why: str, data: bytes, error: str, module: str) -> None:
        out[name] = {
            "description": why,
            "kind": "grant",
            "derived_from": src,
            "input": data.decode("utf-8"),
            "error": error,
            "error_module": module,
        }

    def signed(body: dict[str, Any], key: nacl.signing.SigningKey = alice) -> bytes:
        return sign_statement(key, body).to_bytes()

    good = sign_statement(alice, _grant_body("bob"))
    add(
        "grant-role-not-grantable",
        "The grant would make Bob a performer: only coordinating roles are granted.",
        signed(_grant_body("bob", role="performer")),
        "EncodingError",
        "keys.errors",
    )
    add(
        "grant-with-unexpected-field",
        "The grant carries a member the format does not have.",
        signed({**_grant_body("bob"), "until": T0 + 2 * DAY}),
        "EncodingError",
        "keys.errors",
    )
    add(
        "grant-thread-too-short",
        "The grant's thread id is 15 bytes, not 16.",
        signed(_grant_body("bob", thread=b64u_encode(GRANT_THREAD[:15]))),
        "EncodingError",
        "keys.errors",
    )
    forged = dict(good.to_json())
    forged["body"] = {**forged["body"], "grantee": b64u_encode(bytes(alice.verify_key))}
    add(
        "grant-altered-after-signing",
        "The grantee was changed from Bob to Alice after Alice signed.",
        canonical_json(forged),
        "SignatureError",
        "keys.errors",
    )
    other = sign_statement(bob, {**_grant_body("bob"), "purpose": "closedset/identity/v1"})
    add(
        "grant-with-another-purpose",
        "A statement signed for another purpose is not a grant.",
        other.to_bytes(),
        "EncodingError",
        "keys.errors",
    )
    return out


def build_invites() -> dict[str, dict[str, Any]]:
    invite = Invite(
        relay="https://relay.example",
        thread=GRANT_THREAD,
        inviter=bytes(identity_key("alice").verify_key),
        secret=hashlib.sha256(b"closedset/vectors/v1/invite-secret").digest(),
        expires_at=T0 + 3 * DAY,
        role="performer",
    )
    code = invite.encode()
    joiner = bytes(identity_key("bob").verify_key)
    return {
        "performer-invite": {
            "description": "Alice invites one performer; the code names the role it admits.",
            "kind": "invite",
            "parties": {"alice": party("alice", ()), "bob": party("bob", ())},
            "inputs": invite.to_json(),
            "expected": {
                "code": code,
                "code_json": canonical_json(invite.to_json()).decode("utf-8"),
                "invite_id_hex": invite.invite_id.hex(),
                "join_proof_for_bob_hex": join_proof(invite.secret, GRANT_THREAD, joiner).hex(),
            },
        }
    }


# --- writing and checking -----------------------------------------------------------------------


def render(vector: dict[str, Any]) -> bytes:
    return (json.dumps(vector, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def build_all() -> dict[str, bytes]:
    """Every vector file, as relative path -> exact bytes."""
    files: dict[str, bytes] = {}
    valid = build_valid_envelopes()
    for stem, (vector, _) in valid.items():
        files[f"envelope/valid/{stem}.json"] = render(vector)
    files["envelope/valid/disclosure.json"] = render(
        disclosure_vector(valid["three-recipients-chained"][1], "valid/three-recipients-chained")
    )
    for stem, vector in build_invalid_envelopes(valid).items():
        files[f"envelope/invalid/{stem}.json"] = render(vector)
    files["envelope/legacy/version-1-unpadded.json"] = render(legacy_vector(valid))
    files["mail/valid/sealed-to-two-devices.json"] = render(mail_seal_vector(valid))
    for stem, vector in build_valid_identities().items():
        files[f"identity/valid/{stem}.json"] = render(vector)
    for stem, vector in build_invalid_identities().items():
        files[f"identity/invalid/{stem}.json"] = render(vector)
    for stem, vector in build_requests().items():
        files[f"request/valid/{stem}.json"] = render(vector)
    for stem, vector in build_statements().items():
        files[f"statement/valid/{stem}.json"] = render(vector)
    for stem, vector in build_valid_grants().items():
        files[f"grant/valid/{stem}.json"] = render(vector)
    for stem, vector in build_invalid_grants().items():
        files[f"grant/invalid/{stem}.json"] = render(vector)
    for stem, vector in build_invites().items():
        files[f"invite/valid/{stem}.json"] = render(vector)
    return files


def existing_files() -> set[str]:
    found = set()
    for group in ("envelope", "identity", "request", "statement", "mail", "grant", "invite"):
        for path in (HERE / group).glob("*/*.json"):
            found.add(path.relative_to(HERE).as_posix())
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    files = build_all()
    if args.check:
        problems = []
        for rel, data in sorted(files.items()):
            path = HERE / rel
            if not path.exists():
                problems.append(f"missing: {rel}")
            elif path.read_bytes() != data:
                problems.append(f"differs: {rel}")
        stale = sorted(existing_files() - set(files))
        problems += [f"stale (not generated): {rel}" for rel in stale]
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"{len(problems)} vector file(s) out of date.", file=sys.stderr)
            return 1
        print(f"All {len(files)} vector files reproduce byte for byte.")
        return 0
    for rel in sorted(existing_files() - set(files)):
        (HERE / rel).unlink()
    for rel, data in files.items():
        path = HERE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    print(f"Wrote {len(files)} vector files under {HERE}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
