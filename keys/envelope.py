"""The envelope: one statement, encrypted once, readable by its recipients' devices only.

Sealing (sender) and opening (recipient, or counsel holding a disclosed message key):

1. ``context`` = version, purpose tag, thread id, sender identity key, sorted recipient
   list (identity key, device key), hash of the previous envelope the sender saw.
2. inner signature = Ed25519(``closedset/envelope/inner/v1``, SHA-256(JCS(context)) || plaintext)
3. ciphertext = XChaCha20-Poly1305-IETF(message key, nonce, aad = JCS(context),
   inner signature || uint32be(len(plaintext)) || plaintext || zero padding), padded so that
   the ciphertext is exactly one of :data:`BUCKETS` long (format version 2); the message key
   is fresh for every envelope. Version 1 (no length, no padding) is still read, never sealed.
4. one sealed box (libsodium ``crypto_box_seal`` construction) of the message key per device.
5. outer signature = Ed25519(``closedset/envelope/outer/v1``, JCS(envelope without signature)).

Every length and count is checked before any cryptography. The envelope's identity is
SHA-256 of its canonical bytes. Byte layout: docs/protocol.md, "Envelope".
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import nacl.bindings as sodium
import nacl.exceptions
import nacl.public
import nacl.signing

from keys import randomness
from keys import statement as sig
from keys.encoding import b64u_decode, b64u_encode, canonical_json, parse_canonical_json
from keys.errors import DecryptionError, EncodingError, LimitError

VERSION = 2  # what seal() writes: padded to a bucket
VERSIONS = frozenset({1, 2})  # what a reader accepts: 1 is unpadded, kept for old threads
MAX_RECIPIENTS = 64  # device keys, the sender's own included
LENGTH_SIZE = 4  # uint32be length of the plaintext, inside the AEAD (version 2)
# Version 2 ciphertext lengths (AEAD output, tag included): powers of two from 1 KiB to 256 KiB.
BUCKETS = tuple(1024 << k for k in range(9))
V1_MAX_PLAINTEXT_BYTES = 256 * 1024
MAX_ENVELOPE_BYTES = 512 * 1024  # canonical bytes; covers base64 growth of the largest plaintext
THREAD_ID_SIZE = 16
HASH_SIZE = 32
KEY_SIZE = 32  # XChaCha20-Poly1305 key, X25519 and Ed25519 public keys
NONCE_SIZE = 24
TAG_SIZE = 16
# The largest plaintext that fits the largest bucket with its inner signature, length and tag.
MAX_PLAINTEXT_BYTES = BUCKETS[-1] - TAG_SIZE - sig.SIGNATURE_SIZE - LENGTH_SIZE
WRAPPED_KEY_SIZE = 32 + KEY_SIZE + 16  # ephemeral public key, sealed message key, MAC

_ENVELOPE_FIELDS = frozenset({"context", "nonce", "ciphertext", "keys", "signature"})
_CONTEXT_FIELDS = frozenset({"v", "purpose", "thread", "sender", "recipients", "prev"})
_RECIPIENT_FIELDS = frozenset({"identity", "device"})


class EnvelopeFormatError(EncodingError):
    """The envelope is not in the one canonical form this version defines."""


class NotARecipientError(DecryptionError):
    """None of this device's keys is among the envelope's recipients."""


@dataclass(frozen=True, order=True)
class Recipient:
    """One device that can open the envelope, and the identity that certified it."""

    identity: bytes
    device: bytes

    def to_json(self) -> dict[str, str]:
        return {"identity": b64u_encode(self.identity), "device": b64u_encode(self.device)}


@dataclass(frozen=True)
class Context:
    """What an envelope is about, authenticated by the AEAD and by both signatures."""

    purpose: str
    thread: bytes
    sender: bytes
    recipients: tuple[Recipient, ...]
    prev: bytes | None
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.version,
            "purpose": self.purpose,
            "thread": b64u_encode(self.thread),
            "sender": b64u_encode(self.sender),
            "recipients": [r.to_json() for r in self.recipients],
            "prev": None if self.prev is None else b64u_encode(self.prev),
        }

    def to_bytes(self) -> bytes:
        return self._bytes

    @cached_property
    def _bytes(self) -> bytes:
        return canonical_json(self.to_json())

    def _known_bytes(self, data: bytes) -> Context:
        """Remember ``data`` as this context's canonical bytes (cut from a parsed envelope)."""
        self.__dict__["_bytes"] = data
        return self

    @property
    def recipient_identities(self) -> frozenset[bytes]:
        return frozenset(r.identity for r in self.recipients)


@dataclass(frozen=True)
class Envelope:
    """An encrypted, twice-signed statement, as it travels and is stored."""

    context: Context
    nonce: bytes
    ciphertext: bytes
    wrapped_keys: tuple[bytes, ...]
    signature: bytes
    # The canonical bytes this envelope was parsed from, if any: they are its identity, so
    # they are kept rather than encoded again.
    raw: bytes | None = field(default=None, compare=False, repr=False)

    def _unsigned_json(self) -> dict[str, Any]:
        return {
            "context": self.context.to_json(),
            "nonce": b64u_encode(self.nonce),
            "ciphertext": b64u_encode(self.ciphertext),
            "keys": [b64u_encode(k) for k in self.wrapped_keys],
        }

    def to_json(self) -> dict[str, Any]:
        value = self._unsigned_json()
        value["signature"] = b64u_encode(self.signature)
        return value

    def to_bytes(self) -> bytes:
        return self.raw if self.raw is not None else self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        return canonical_json(self.to_json())

    @cached_property
    def hash(self) -> bytes:
        """SHA-256 of the canonical bytes: the envelope's identity in threads and the log."""
        return hashlib.sha256(self.to_bytes()).digest()

    def unsigned_bytes(self) -> bytes:
        """The canonical bytes of the envelope without its signature: what the outer signs."""
        if self.raw is not None:
            # In canonical form "signature" is the last member, and its value is base64url,
            # so the unsigned object is the raw bytes with that member cut off.
            suffix = b',"signature":"' + b64u_encode(self.signature).encode() + b'"}'
            if self.raw.endswith(suffix):
                return self.raw[: -len(suffix)] + b"}"
        return canonical_json(self._unsigned_json())

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        """Parse and check shape, lengths and limits; no cryptography happens here."""
        if len(data) > MAX_ENVELOPE_BYTES:
            raise LimitError(f"An envelope may be at most {MAX_ENVELOPE_BYTES} bytes.")
        return cls.from_json(parse_canonical_json(data, what="envelope"), raw=bytes(data))

    @classmethod
    def from_json(cls, value: Any, *, raw: bytes | None = None) -> Envelope:
        _require_fields(value, _ENVELOPE_FIELDS, "envelope")
        context = _parse_context(value["context"])
        keys = value["keys"]
        # Checked before the context is sliced out of ``raw``: the slice ends where the
        # ``keys`` list begins.
        if type(keys) is not list or len(keys) != len(context.recipients):
            raise EnvelopeFormatError("The envelope must carry one wrapped key per recipient.")
        if raw is not None:
            context = context._known_bytes(_context_slice(raw))
        ciphertext = b64u_decode(value["ciphertext"], what="ciphertext")
        if context.version == 1:
            if (
                not TAG_SIZE + sig.SIGNATURE_SIZE
                <= len(ciphertext)
                <= (V1_MAX_PLAINTEXT_BYTES + sig.SIGNATURE_SIZE + TAG_SIZE)
            ):
                raise LimitError("The envelope's ciphertext is shorter or longer than allowed.")
        elif len(ciphertext) not in _BUCKET_SET:
            raise LimitError(
                "The envelope's ciphertext is not padded to one of the size buckets "
                "(1 KiB to 256 KiB, powers of two)."
            )
        return cls(
            context=context,
            nonce=b64u_decode(value["nonce"], length=NONCE_SIZE, what="nonce"),
            ciphertext=ciphertext,
            wrapped_keys=tuple(
                b64u_decode(k, length=WRAPPED_KEY_SIZE, what="wrapped key") for k in keys
            ),
            signature=b64u_decode(value["signature"], length=sig.SIGNATURE_SIZE, what="signature"),
            raw=raw,
        )

    def verify_outer(self) -> Envelope:
        """Check the sender's outer signature; what a relay can check without reading."""
        sig.verify(
            self.context.sender,
            sig.ENVELOPE_OUTER,
            self.unsigned_bytes(),
            self.signature,
        )
        return self


@dataclass(frozen=True)
class Opened:
    """A verified, decrypted envelope."""

    envelope: Envelope
    plaintext: bytes
    message_key: bytes

    @property
    def context(self) -> Context:
        return self.envelope.context

    @property
    def sender(self) -> bytes:
        return self.envelope.context.sender


_CONTEXT_START = b'","context":'
_CONTEXT_END = b',"keys":['


def _context_slice(raw: bytes) -> bytes:
    # ``raw`` is canonical, so its members come in the order ciphertext, context, keys, nonce,
    # signature, and nothing before or inside the context (base64url, purpose tags, fixed
    # member names) can spell either marker: the context's bytes lie exactly between them.
    start = raw.find(_CONTEXT_START)
    end = raw.find(_CONTEXT_END, start)
    if start < 0 or end < 0:
        raise EnvelopeFormatError("The envelope's members are not in their canonical places.")
    return raw[start + len(_CONTEXT_START) : end]


def _require_fields(value: Any, fields: frozenset[str], what: str) -> None:
    if type(value) is not dict or value.keys() != fields:
        raise EnvelopeFormatError(f"The {what} must have exactly the fields {sorted(fields)}.")


def _parse_context(value: Any) -> Context:
    _require_fields(value, _CONTEXT_FIELDS, "envelope context")
    version = value["v"]
    if type(version) is not int or version not in VERSIONS:
        raise EnvelopeFormatError(
            f"This envelope is format version {version!r}; only 1 and 2 are known."
        )
    raw = value["recipients"]
    if not isinstance(raw, list) or not raw:
        raise EnvelopeFormatError("The envelope must name at least one recipient.")
    if len(raw) > MAX_RECIPIENTS:
        raise LimitError(f"An envelope may have at most {MAX_RECIPIENTS} recipient devices.")
    pairs = []
    for item in raw:
        _require_fields(item, _RECIPIENT_FIELDS, "recipient")
        pairs.append(
            (
                b64u_decode(item["identity"], length=KEY_SIZE, what="recipient identity"),
                b64u_decode(item["device"], length=KEY_SIZE, what="recipient device key"),
            )
        )
    sender = b64u_decode(value["sender"], length=KEY_SIZE, what="sender key")
    _check_recipients(sender, pairs)
    return Context(
        purpose=sig.check_purpose(value["purpose"]),
        thread=b64u_decode(value["thread"], length=THREAD_ID_SIZE, what="thread id"),
        sender=sender,
        recipients=tuple(Recipient(identity, device) for identity, device in pairs),
        prev=None
        if value["prev"] is None
        else b64u_decode(value["prev"], length=HASH_SIZE, what="previous hash"),
        version=version,
    )


_BUCKET_SET = frozenset(BUCKETS)


def bucket_for(plaintext_length: int) -> int:
    """The ciphertext length (a bucket) of a version 2 envelope with this plaintext length."""
    needed = sig.SIGNATURE_SIZE + LENGTH_SIZE + plaintext_length + TAG_SIZE
    for bucket in BUCKETS:
        if needed <= bucket:
            return bucket
    raise LimitError(f"A statement may be at most {MAX_PLAINTEXT_BYTES} bytes.")


def pad(inner: bytes, plaintext: bytes) -> bytes:
    """The version 2 AEAD plaintext: inner signature, length, plaintext, zeros to a bucket."""
    # inner signature || uint32be(len) || plaintext || zeros, TAG_SIZE short of a bucket.
    body = inner + len(plaintext).to_bytes(LENGTH_SIZE, "big") + plaintext
    return body + bytes(bucket_for(len(plaintext)) - TAG_SIZE - len(body))


def _unpad(padded: bytes) -> bytes:
    # The inverse of _pad after the inner signature: one length, then only zero bytes.
    if len(padded) < LENGTH_SIZE:
        raise DecryptionError("The envelope's padded plaintext is too short for its length.")
    length = int.from_bytes(padded[:LENGTH_SIZE], "big")
    end = LENGTH_SIZE + length
    if end > len(padded) or padded[end:].count(0) != len(padded) - end:
        raise DecryptionError(
            "The envelope's padding is malformed (a length beyond the data, or non-zero bytes)."
        )
    return padded[LENGTH_SIZE:end]


def _check_recipients(sender: bytes, pairs: list[tuple[bytes, bytes]]) -> None:
    # On (identity, device) tuples, the order Recipient defines, without building objects.
    if pairs != sorted(pairs) or len({device for _, device in pairs}) != len(pairs):
        raise EnvelopeFormatError("The recipients must be sorted and each device named once.")
    if sender not in {identity for identity, _ in pairs}:
        raise EnvelopeFormatError("The sender's own devices must be among the recipients.")


# --- sealing ------------------------------------------------------------------------------------


def _wrap_key(message_key: bytes, device: bytes) -> bytes:
    # libsodium's crypto_box_seal, spelled out so that its ephemeral key comes from
    # random_bytes (patched only by the vector generator): epk || box(m, blake2b(epk||pk)).
    # Opened with crypto_box_seal_open; tests check both spellings agree.
    epk, esk = sodium.crypto_box_seed_keypair(randomness.random_bytes(32))
    nonce = sodium.crypto_generichash_blake2b_salt_personal(epk + device, digest_size=24)
    return bytes(epk + sodium.crypto_box(message_key, nonce, device, esk))


def seal(
    plaintext: bytes,
    *,
    sender: nacl.signing.SigningKey,
    recipients: Sequence[Recipient],
    thread: bytes,
    prev: bytes | None,
    purpose: str,
) -> Opened:
    """Encrypt ``plaintext`` to ``recipients`` (include the sender's own devices).

    Returns the envelope together with its message key, which the sender keeps for
    selective disclosure to counsel.
    """
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise LimitError(f"A statement may be at most {MAX_PLAINTEXT_BYTES} bytes.")
    if len(recipients) > MAX_RECIPIENTS:
        raise LimitError(f"An envelope may have at most {MAX_RECIPIENTS} recipient devices.")
    context = Context(
        purpose=sig.check_purpose(purpose),
        thread=thread,
        sender=bytes(sender.verify_key),
        recipients=tuple(sorted(set(recipients))),
        prev=prev,
    )
    # Round-trip the context through the parser so a sender can never produce what a
    # recipient would refuse (lengths, ordering, sender among recipients).
    context = _parse_context(context.to_json())
    context_bytes = context.to_bytes()
    inner = sig.sign(sender, sig.ENVELOPE_INNER, hashlib.sha256(context_bytes).digest() + plaintext)
    message_key = randomness.random_bytes(KEY_SIZE)
    nonce = randomness.random_bytes(NONCE_SIZE)
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pad(inner, plaintext), context_bytes, nonce, message_key
    )
    unsigned = Envelope(
        context=context,
        nonce=nonce,
        ciphertext=bytes(ciphertext),
        wrapped_keys=tuple(_wrap_key(message_key, r.device) for r in context.recipients),
        signature=b"",
    )
    outer = sig.sign(sender, sig.ENVELOPE_OUTER, canonical_json(unsigned._unsigned_json()))
    envelope = Envelope(
        context=context,
        nonce=nonce,
        ciphertext=unsigned.ciphertext,
        wrapped_keys=unsigned.wrapped_keys,
        signature=outer,
    )
    return Opened(envelope=envelope, plaintext=plaintext, message_key=message_key)


# --- opening ------------------------------------------------------------------------------------


def open_with_message_key(envelope: Envelope, message_key: bytes) -> Opened:
    """Open one envelope with its message key: both signatures, then the AEAD.

    This is how counsel opens a disclosed envelope; recipients reach the same point
    through :func:`open_envelope`.
    """
    if len(message_key) != KEY_SIZE:
        raise DecryptionError(f"A message key is {KEY_SIZE} bytes.")
    envelope.verify_outer()
    return _decrypt_after_outer(envelope, message_key)


def _decrypt_after_outer(envelope: Envelope, message_key: bytes) -> Opened:
    # The AEAD and the inner signature, for an envelope whose outer signature was checked.
    context_bytes = envelope.context.to_bytes()
    try:
        inner_and_plaintext = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            envelope.ciphertext, context_bytes, envelope.nonce, message_key
        )
    except nacl.exceptions.CryptoError as exc:
        raise DecryptionError(
            "This envelope cannot be decrypted with this key; "
            "the key is wrong or the envelope was altered."
        ) from exc
    inner, plaintext = (
        inner_and_plaintext[: sig.SIGNATURE_SIZE],
        inner_and_plaintext[sig.SIGNATURE_SIZE :],
    )
    if envelope.context.version >= 2:
        plaintext = _unpad(plaintext)
    sig.verify(
        envelope.context.sender,
        sig.ENVELOPE_INNER,
        hashlib.sha256(context_bytes).digest() + plaintext,
        inner,
    )
    return Opened(envelope=envelope, plaintext=bytes(plaintext), message_key=message_key)


def open_envelope(envelope: Envelope, device: nacl.public.PrivateKey) -> Opened:
    """Open an envelope addressed to this device key."""
    public = bytes(device.public_key)
    for recipient, wrapped in zip(envelope.context.recipients, envelope.wrapped_keys, strict=True):
        if recipient.device == public:
            envelope.verify_outer()
            try:
                message_key = sodium.crypto_box_seal_open(wrapped, public, bytes(device))
            except nacl.exceptions.CryptoError as exc:
                raise DecryptionError(
                    "This device's wrapped key in the envelope does not open; "
                    "the envelope was altered."
                ) from exc
            return _decrypt_after_outer(envelope, bytes(message_key))
    raise NotARecipientError("This envelope was not encrypted to this device.")


# --- selective disclosure ------------------------------------------------------------------------

_DISCLOSURE_FIELDS = frozenset({"envelope", "message_key"})


def encode_disclosure(opened: Opened) -> bytes:
    """``{"envelope": <envelope>, "message_key": b64u}``: opens this envelope and no other."""
    return canonical_json(
        {"envelope": opened.envelope.to_json(), "message_key": b64u_encode(opened.message_key)}
    )


def open_disclosure(data: bytes) -> Opened:
    if len(data) > MAX_ENVELOPE_BYTES + 128:
        raise LimitError("This disclosure is larger than any envelope can be.")
    value = parse_canonical_json(data, what="disclosure")
    _require_fields(value, _DISCLOSURE_FIELDS, "disclosure")
    envelope = Envelope.from_json(value["envelope"])
    key = b64u_decode(value["message_key"], length=KEY_SIZE, what="message key")
    return open_with_message_key(envelope, key)
