"""The mail wrapping: a whole envelope (its keys and context included) sealed for transport by
email, so that a mail provider sees a padded, anonymous ciphertext and nothing it could turn
into a name (docs/email.md, "Sealed for the pipe"; byte layout in docs/protocol.md,
"Mail seal").

Egress (relay -> member): sealed to the member's current device keys. Ingress (member ->
relay, through the member's own provider): sealed to the relay's mail ingress key, which the
relay publishes signed by its log key (:func:`ingress_key_statement`).

    SEALED = 0x01 || n (1 byte, 1..16) || n x crypto_box_seal(k, pk_i) (80 bytes each)
             || nonce (24) || XChaCha20-Poly1305(k, nonce, ad = "closedset/mail-seal/v1" ||
                0x00 || SEALED[0 : 2 + 80n], uint32be(len(E)) || E || zeros)

padded so that the AEAD output is a power of two of at least 1 KiB. ``crypto_box_seal`` uses
a fresh ephemeral key per recipient and says nothing about whose key it was sealed to. Random
draws: message key, then one ephemeral seed per key in order, then the nonce.
"""

from __future__ import annotations

from collections.abc import Sequence

import nacl.bindings as sodium
import nacl.exceptions
import nacl.public

from keys import randomness
from keys import statement as sig
from keys.envelope import _wrap_key as wrap_key
from keys.errors import DecryptionError, EncodingError, LimitError
from keys.note import NoteSigner

VERSION = 1
MAX_KEYS = 16
WRAPPED_SIZE = 80
NONCE_SIZE = 24
KEY_SIZE = 32
TAG_SIZE = 16
LENGTH_SIZE = 4
AD_PREFIX = b"closedset/mail-seal/v1\x00"
MIN_BUCKET = 1024
MAX_SEALED_PLAINTEXT = 1024 * 1024  # an envelope is at most 512 KiB; room for that, doubled
INGRESS_KEY_PURPOSE = "closedset/mail-ingress-key/v1"
_INGRESS_DERIVATION = b"closedset/mail-ingress-key/v1\x00"


class MailSealError(EncodingError):
    """The bytes are not a mail seal this version defines."""


def _bucket(length: int) -> int:
    bucket = MIN_BUCKET
    while bucket < LENGTH_SIZE + length + TAG_SIZE:
        bucket *= 2
    return bucket


def seal_for(data: bytes, keys: Sequence[bytes]) -> bytes:
    """Seal ``data`` (an envelope's canonical bytes) to every X25519 public key in ``keys``."""
    if not 1 <= len(keys) <= MAX_KEYS:
        raise LimitError(f"A mail seal is for 1 to {MAX_KEYS} device keys.")
    if len(data) > MAX_SEALED_PLAINTEXT:
        raise LimitError("This is too large to seal for mail.")
    message_key = randomness.random_bytes(KEY_SIZE)
    # crypto_box_seal, spelled out as for envelopes so its ephemeral keys come from the
    # (vector-patchable) random source; crypto_box_seal_open opens it.
    header = bytes([VERSION, len(keys)]) + b"".join(wrap_key(message_key, key) for key in keys)
    nonce = randomness.random_bytes(NONCE_SIZE)
    body = len(data).to_bytes(LENGTH_SIZE, "big") + data
    body += bytes(_bucket(len(data)) - TAG_SIZE - len(body))
    sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        body, AD_PREFIX + header, nonce, message_key
    )
    return header + nonce + bytes(sealed)


def is_sealed(data: bytes) -> bool:
    """Whether ``data`` looks like a mail seal (and not an envelope's JSON)."""
    return len(data) > 2 and data[0] == VERSION and 1 <= data[1] <= MAX_KEYS


def open_sealed(data: bytes, devices: Sequence[nacl.public.PrivateKey]) -> bytes:
    """The sealed bytes, opened with whichever of ``devices`` they were sealed to."""
    if len(data) > 2 * MAX_SEALED_PLAINTEXT + 4096:
        raise LimitError("This mail seal is larger than any envelope can be.")
    if not is_sealed(data):
        raise MailSealError("This is not a Closed Set mail seal (version 1).")
    count = data[1]
    end = 2 + WRAPPED_SIZE * count
    if len(data) < end + NONCE_SIZE + MIN_BUCKET:
        raise MailSealError("This mail seal is truncated.")
    header, nonce, sealed = data[:end], data[end : end + NONCE_SIZE], data[end + NONCE_SIZE :]
    if len(sealed) < MIN_BUCKET or len(sealed) & (len(sealed) - 1):
        raise MailSealError("This mail seal is not padded to a size bucket.")
    message_key = None
    for device in devices:
        public, secret = bytes(device.public_key), bytes(device)
        for i in range(count):
            wrapped = header[2 + WRAPPED_SIZE * i : 2 + WRAPPED_SIZE * (i + 1)]
            try:
                message_key = bytes(sodium.crypto_box_seal_open(wrapped, public, secret))
                break
            except nacl.exceptions.CryptoError:
                continue
        if message_key is not None:
            break
    if message_key is None:
        raise DecryptionError("This mail was not sealed to any of this profile's devices.")
    try:
        body = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed, AD_PREFIX + header, nonce, message_key
        )
    except nacl.exceptions.CryptoError as exc:
        raise DecryptionError("This mail seal was altered on the way.") from exc
    length = int.from_bytes(body[:LENGTH_SIZE], "big")
    inner_end = LENGTH_SIZE + length
    if inner_end > len(body) or body[inner_end:].count(0) != len(body) - inner_end:
        raise DecryptionError("This mail seal's padding is malformed.")
    return bytes(body[LENGTH_SIZE:inner_end])


# --- the relay's ingress key ------------------------------------------------------------------


def ingress_private_key(log_key: NoteSigner) -> nacl.public.PrivateKey:
    """The relay's mail ingress X25519 key, derived from its log key's seed: a key of its own
    (never used to sign), with nothing more to store or to back up."""
    return nacl.public.PrivateKey(log_key.derive_secret(_INGRESS_DERIVATION))


def ingress_key_signature(log_key: NoteSigner, ingress_public: bytes) -> bytes:
    """The log key's signature over the ingress key: clients check it with the pinned key."""
    return log_key.sign_statement_bytes(INGRESS_KEY_PURPOSE, ingress_public)


def verify_ingress_key(log_public_key: bytes, ingress_public: bytes, signature: bytes) -> bytes:
    """``ingress_public`` if the relay's log key signed it, else ``SignatureError``."""
    if len(ingress_public) != KEY_SIZE:
        raise MailSealError(f"A mail ingress key is {KEY_SIZE} bytes.")
    sig.verify(log_public_key, INGRESS_KEY_PURPOSE, ingress_public, signature)
    return ingress_public
