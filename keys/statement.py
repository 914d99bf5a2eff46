"""Domain-separated Ed25519 signatures and signed statements.

Every signature in Closed Set is made over ``purpose || 0x00 || message`` where
``purpose`` is an ASCII tag such as ``closedset/envelope/outer/v1``; a signature made
for one purpose therefore never verifies for another. A *statement* is a canonical
JSON object (RFC 8785) carrying its own purpose tag and signer, signed as a whole.
See docs/protocol.md, "Signatures and statements".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
import nacl.signing

from keys.encoding import b64u_decode, b64u_encode, canonical_json, parse_canonical_json
from keys.errors import EncodingError, LimitError, SignatureError

# Purpose tags. Each names what a signature is for; the version suffix changes with the format.
ENVELOPE_INNER = "closedset/envelope/inner/v1"
ENVELOPE_OUTER = "closedset/envelope/outer/v1"
IDENTITY_RECORD = "closedset/identity/v1"
DEVICE_CERTIFICATE = "closedset/device/v1"
DEVICE_ROTATION = "closedset/device-rotation/v1"
DEVICE_REVOCATION = "closedset/device-revocation/v1"
IDENTITY_REVOCATION = "closedset/identity-revocation/v1"

PURPOSE_RE = re.compile(r"\Aclosedset/[a-z0-9]+(?:[/-][a-z0-9]+)*/v[1-9][0-9]*\Z")
MAX_PURPOSE_LENGTH = 64
MAX_STATEMENT_BYTES = 16 * 1024
SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 32


def check_purpose(purpose: str) -> str:
    """Return ``purpose`` if it is a well-formed tag, else raise :class:`EncodingError`."""
    if (
        not isinstance(purpose, str)
        or len(purpose) > MAX_PURPOSE_LENGTH
        or not PURPOSE_RE.match(purpose)
    ):
        raise EncodingError(f"{purpose!r} is not a Closed Set purpose tag.")
    return purpose


def signing_input(purpose: str, message: bytes) -> bytes:
    """The exact bytes an Ed25519 signature covers: ``purpose || 0x00 || message``."""
    return check_purpose(purpose).encode("ascii") + b"\x00" + message


def sign(key: nacl.signing.SigningKey, purpose: str, message: bytes) -> bytes:
    """Sign ``message`` for ``purpose``; returns the 64-byte signature."""
    return bytes(key.sign(signing_input(purpose, message)).signature)


def verify(public_key: bytes, purpose: str, message: bytes, signature: bytes) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is valid for this key and purpose."""
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        raise SignatureError(f"The {purpose} signature or its key has the wrong length.")
    try:
        nacl.signing.VerifyKey(public_key).verify(signing_input(purpose, message), signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError) as exc:
        raise SignatureError(f"The {purpose} signature does not verify.") from exc


@dataclass(frozen=True)
class Statement:
    """A signed statement: a canonical JSON body and the signer's signature over it.

    The body always holds ``purpose`` (a tag) and ``signer`` (the Ed25519 identity
    public key, base64url). Encoded as ``{"body": {...}, "signature": "<b64u>"}``.
    """

    body: Mapping[str, Any]
    signature: bytes

    @property
    def purpose(self) -> str:
        return str(self.body["purpose"])

    @property
    def signer(self) -> bytes:
        return b64u_decode(self.body["signer"], length=PUBLIC_KEY_SIZE, what="signer key")

    def to_json(self) -> dict[str, Any]:
        return {"body": dict(self.body), "signature": b64u_encode(self.signature)}

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, value: Any) -> Statement:
        """Check shape and lengths (no cryptography) and build a statement."""
        if not isinstance(value, dict) or set(value) != {"body", "signature"}:
            raise EncodingError("A statement must be an object with exactly body and signature.")
        body = value["body"]
        if not isinstance(body, dict) or "purpose" not in body or "signer" not in body:
            raise EncodingError("A statement body must name its purpose and its signer.")
        check_purpose(body["purpose"])
        signature = b64u_decode(value["signature"], length=SIGNATURE_SIZE, what="signature")
        statement = cls(body=body, signature=signature)
        statement.signer  # noqa: B018 - validates the signer's encoding and length
        return statement

    @classmethod
    def from_bytes(cls, data: bytes) -> Statement:
        if len(data) > MAX_STATEMENT_BYTES:
            raise LimitError(f"A statement may be at most {MAX_STATEMENT_BYTES} bytes.")
        return cls.from_json(parse_canonical_json(data, what="statement"))

    def verify(self, purpose: str | None = None) -> Statement:
        """Check the signature (and, if given, that the purpose is the expected one)."""
        if purpose is not None and self.purpose != purpose:
            raise SignatureError(f"Expected a {purpose} statement, got {self.purpose}.")
        verify(self.signer, self.purpose, canonical_json(dict(self.body)), self.signature)
        return self


def sign_statement(key: nacl.signing.SigningKey, body: Mapping[str, Any]) -> Statement:
    """Sign ``body`` (which must carry ``purpose``; ``signer`` is filled in)."""
    full = dict(body)
    full["signer"] = b64u_encode(bytes(key.verify_key))
    purpose = check_purpose(full.get("purpose", ""))
    return Statement(body=full, signature=sign(key, purpose, canonical_json(full)))
