"""Identities: an Ed25519 identity key that certifies X25519 device keys.

An identity's public history is a list of signed statements, all by the identity
key: one identity record (name, role, optional email), then device certificates,
rotations and revocations in time order. :class:`KeyHistory` folds that list into
"which device keys were valid when". Fingerprints and safety numbers are derived
from the identity public key only. Formats: docs/protocol.md, "Identities".
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import nacl.public
import nacl.signing

from keys.encoding import b64u_decode, b64u_encode, canonical_json, parse_canonical_json
from keys.errors import EncodingError, LimitError, SignatureError, VerificationError
from keys.statement import (
    DEVICE_CERTIFICATE,
    DEVICE_REVOCATION,
    DEVICE_ROTATION,
    IDENTITY_RECORD,
    IDENTITY_REVOCATION,
    PUBLIC_KEY_SIZE,
    Statement,
    sign_statement,
)

Role = Literal["performer", "ic", "counsel"]
ROLES: tuple[Role, ...] = ("performer", "ic", "counsel")
MAX_NAME_LENGTH = 128
MAX_EMAIL_LENGTH = 254
MAX_REASON_LENGTH = 256
MAX_HISTORY_RECORDS = 256
MAX_TIME = 2**53 - 1  # JSON integers stay exact up to here (RFC 8785, I-JSON)

FINGERPRINT_DOMAIN = b"closedset/fingerprint/v1\x00"
FINGERPRINT_SIZE = 20  # bytes; 32 base32 characters, 8 groups of 4
SAFETY_NUMBER_ITERATIONS = 5200  # as Signal's displayable fingerprint
SAFETY_NUMBER_DOMAIN = b"closedset/safety-number/v1\x00"
_EMAIL_RE = re.compile(r"\A[^@\s]{1,64}@[^@\s]{1,189}\Z")


class KeyHistoryError(VerificationError):
    """An identity's public history is inconsistent (wrong order, wrong signer, unknown key)."""


# --- fingerprints and safety numbers ----------------------------------------------------------


@dataclass(frozen=True, order=True)
class Fingerprint:
    """The short name of an identity key: SHA-256 over a domain tag and the key, 20 bytes."""

    digest: bytes

    @classmethod
    def of(cls, identity_key: bytes) -> Fingerprint:
        _check_key(identity_key, "identity key")
        return cls(hashlib.sha256(FINGERPRINT_DOMAIN + identity_key).digest()[:FINGERPRINT_SIZE])

    @classmethod
    def parse(cls, text: str) -> Fingerprint:
        """Read a fingerprint typed in any grouping: spaces, dashes and case do not matter."""
        compact = re.sub(r"[\s\-:]", "", text).upper()
        if len(compact) != 32 or not re.fullmatch(r"[A-Z2-7]{32}", compact):
            raise EncodingError(
                f"{text!r} is not a fingerprint: expected 32 letters and digits 2-7, "
                "as `closedset id show` prints them."
            )
        return cls(base64.b32decode(compact))

    @property
    def compact(self) -> str:
        return base64.b32encode(self.digest).decode("ascii")

    def grouped(self) -> str:
        """Eight groups of four characters, easy to read aloud: ``ABCD EFGH ...``."""
        c = self.compact
        return " ".join(c[i : i + 4] for i in range(0, len(c), 4))

    def __str__(self) -> str:
        return self.grouped()


def _safety_digits(identity_key: bytes) -> str:
    digest = SAFETY_NUMBER_DOMAIN + identity_key
    for _ in range(SAFETY_NUMBER_ITERATIONS):
        digest = hashlib.sha512(digest + identity_key).digest()
    # Six chunks of five bytes, each read as a big-endian integer mod 100000: 30 digits.
    return "".join(
        f"{int.from_bytes(digest[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5)
    )


def safety_number(key_a: bytes, key_b: bytes) -> str:
    """The 60-digit code two people compare aloud; the same whichever of them computes it."""
    _check_key(key_a, "identity key")
    _check_key(key_b, "identity key")
    halves = sorted([_safety_digits(key_a), _safety_digits(key_b)])
    digits = "".join(halves)
    return " ".join(digits[i : i + 5] for i in range(0, 60, 5))


# --- statements about an identity ----------------------------------------------------------


def _check_key(key: bytes, what: str) -> bytes:
    if not isinstance(key, bytes) or len(key) != PUBLIC_KEY_SIZE:
        raise EncodingError(f"The {what} must be {PUBLIC_KEY_SIZE} bytes.")
    return key


def _check_time(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TIME:
        raise EncodingError(f"The {what} must be a whole number of seconds since 1970.")
    return value


def _check_text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise EncodingError(f"The {what} must be non-empty text of at most {limit} characters.")
    if any(ord(ch) < 0x20 for ch in value):
        raise EncodingError(f"The {what} must not contain control characters.")
    return value


def make_identity_record(
    key: nacl.signing.SigningKey,
    *,
    name: str,
    role: Role,
    issued_at: int,
    email: str | None = None,
) -> Statement:
    """The self-signed record that introduces an identity: who, in which role."""
    body: dict[str, Any] = {
        "purpose": IDENTITY_RECORD,
        "name": _check_text(name, "name", MAX_NAME_LENGTH),
        "role": role,
        "issued_at": _check_time(issued_at, "issue time"),
    }
    if role not in ROLES:
        raise EncodingError(f"The role must be one of {', '.join(ROLES)}.")
    if email is not None:
        if len(email) > MAX_EMAIL_LENGTH or not _EMAIL_RE.match(email):
            raise EncodingError(f"{email!r} is not an email address.")
        body["email"] = email
    return sign_statement(key, body)


def certify_device(key: nacl.signing.SigningKey, device_key: bytes, *, issued_at: int) -> Statement:
    """A device certificate: the identity vouches for an X25519 encryption key from now on."""
    return sign_statement(
        key,
        {
            "purpose": DEVICE_CERTIFICATE,
            "device": b64u_encode(_check_key(device_key, "device key")),
            "issued_at": _check_time(issued_at, "issue time"),
        },
    )


def rotate_device(
    key: nacl.signing.SigningKey, old_device: bytes, new_device: bytes, *, issued_at: int
) -> Statement:
    """Replace one device key by another in a single statement (old stops, new starts)."""
    if old_device == new_device:
        raise EncodingError("A rotation must name a new device key.")
    return sign_statement(
        key,
        {
            "purpose": DEVICE_ROTATION,
            "old_device": b64u_encode(_check_key(old_device, "old device key")),
            "new_device": b64u_encode(_check_key(new_device, "new device key")),
            "issued_at": _check_time(issued_at, "issue time"),
        },
    )


def revoke_device(
    key: nacl.signing.SigningKey, device_key: bytes, *, issued_at: int, reason: str
) -> Statement:
    """Withdraw a device key: nothing may be encrypted to it from ``issued_at`` on."""
    return sign_statement(
        key,
        {
            "purpose": DEVICE_REVOCATION,
            "device": b64u_encode(_check_key(device_key, "device key")),
            "issued_at": _check_time(issued_at, "issue time"),
            "reason": _check_text(reason, "reason", MAX_REASON_LENGTH),
        },
    )


def revoke_identity(key: nacl.signing.SigningKey, *, issued_at: int, reason: str) -> Statement:
    """Retire the identity itself: every device key and signature after this is invalid."""
    return sign_statement(
        key,
        {
            "purpose": IDENTITY_REVOCATION,
            "issued_at": _check_time(issued_at, "issue time"),
            "reason": _check_text(reason, "reason", MAX_REASON_LENGTH),
        },
    )


# --- the fold: an identity's history ---------------------------------------------------------

_FIELDS: dict[str, frozenset[str]] = {
    IDENTITY_RECORD: frozenset({"purpose", "signer", "name", "role", "issued_at", "email"}),
    DEVICE_CERTIFICATE: frozenset({"purpose", "signer", "device", "issued_at"}),
    DEVICE_ROTATION: frozenset({"purpose", "signer", "old_device", "new_device", "issued_at"}),
    DEVICE_REVOCATION: frozenset({"purpose", "signer", "device", "issued_at", "reason"}),
    IDENTITY_REVOCATION: frozenset({"purpose", "signer", "issued_at", "reason"}),
}
_REQUIRED_LESS = {IDENTITY_RECORD: frozenset({"email"})}


def check_identity_statement(statement: Statement) -> Statement:
    """Verify one history statement: known purpose, exact fields, valid values, good signature."""
    purpose = statement.purpose
    allowed = _FIELDS.get(purpose)
    if allowed is None:
        raise EncodingError(f"{purpose} is not an identity statement.")
    keys_present = set(statement.body)
    required = allowed - _REQUIRED_LESS.get(purpose, frozenset())
    if not required <= keys_present <= allowed:
        raise EncodingError(f"The {purpose} statement has missing or unexpected fields.")
    body = statement.body
    _check_time(body["issued_at"], "issue time")
    if purpose == IDENTITY_RECORD:
        _check_text(body["name"], "name", MAX_NAME_LENGTH)
        if body["role"] not in ROLES:
            raise EncodingError(f"The role must be one of {', '.join(ROLES)}.")
        if "email" in body and (
            not isinstance(body["email"], str) or not _EMAIL_RE.match(body["email"])
        ):
            raise EncodingError("The identity record's email is not an email address.")
    for name in ("device", "old_device", "new_device"):
        if name in body:
            b64u_decode(body[name], length=PUBLIC_KEY_SIZE, what=name.replace("_", " ") + " key")
    if "reason" in body:
        _check_text(body["reason"], "reason", MAX_REASON_LENGTH)
    return statement.verify()


@dataclass(frozen=True)
class DeviceSpan:
    """When one device key was valid: from ``since`` until ``until`` (None: still valid)."""

    device: bytes
    since: int
    until: int | None = None

    def valid_at(self, when: int) -> bool:
        return self.since <= when and (self.until is None or when < self.until)


@dataclass(frozen=True)
class KeyHistory:
    """An identity's verified public history, and what follows from it."""

    records: tuple[Statement, ...]
    identity_key: bytes
    name: str
    role: Role
    email: str | None
    created_at: int
    spans: tuple[DeviceSpan, ...] = field(default=())
    revoked_at: int | None = None

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint.of(self.identity_key)

    def devices_at(self, when: int) -> list[bytes]:
        """Device keys valid at ``when`` (none once the identity is revoked)."""
        if self.revoked_at is not None and when >= self.revoked_at:
            return []
        return [s.device for s in self.spans if s.valid_at(when)]

    def current_devices(self) -> list[bytes]:
        return [s.device for s in self.spans if s.until is None] if self.revoked_at is None else []

    def identity_valid_at(self, when: int) -> bool:
        return self.created_at <= when and (self.revoked_at is None or when < self.revoked_at)

    @classmethod
    def from_records(cls, records: Sequence[Statement]) -> KeyHistory:
        """Verify and fold a history; raise :class:`KeyHistoryError` on any inconsistency."""
        if not records:
            raise KeyHistoryError("An identity history needs at least its identity record.")
        if len(records) > MAX_HISTORY_RECORDS:
            raise LimitError(f"An identity history may hold at most {MAX_HISTORY_RECORDS} records.")
        first = check_identity_statement(records[0])
        if first.purpose != IDENTITY_RECORD:
            raise KeyHistoryError("An identity history must start with its identity record.")
        signer = first.signer
        body = first.body
        spans: dict[bytes, DeviceSpan] = {}
        last_time = int(body["issued_at"])
        revoked_at: int | None = None
        for record in records[1:]:
            check_identity_statement(record)
            if record.signer != signer:
                raise KeyHistoryError("A record in this identity history is signed by another key.")
            when = int(record.body["issued_at"])
            if when < last_time:
                raise KeyHistoryError("The records of this identity history are out of time order.")
            if revoked_at is not None:
                raise KeyHistoryError(
                    "This identity history continues after the identity was revoked."
                )
            last_time = when
            purpose = record.purpose
            if purpose == IDENTITY_RECORD:
                raise KeyHistoryError("An identity history holds exactly one identity record.")
            if purpose == IDENTITY_REVOCATION:
                revoked_at = when
            elif purpose == DEVICE_CERTIFICATE:
                device = b64u_decode(record.body["device"], length=PUBLIC_KEY_SIZE)
                _start(spans, device, when)
            elif purpose == DEVICE_REVOCATION:
                device = b64u_decode(record.body["device"], length=PUBLIC_KEY_SIZE)
                _stop(spans, device, when)
            elif purpose == DEVICE_ROTATION:
                old = b64u_decode(record.body["old_device"], length=PUBLIC_KEY_SIZE)
                new = b64u_decode(record.body["new_device"], length=PUBLIC_KEY_SIZE)
                _stop(spans, old, when)
                _start(spans, new, when)
        return cls(
            records=tuple(records),
            identity_key=signer,
            name=str(body["name"]),
            role=body["role"],
            email=body.get("email"),
            created_at=int(body["issued_at"]),
            spans=tuple(spans.values()),
            revoked_at=revoked_at,
        )

    def to_bytes(self) -> bytes:
        """The public identity bundle: ``{"records": [statement, ...]}`` in canonical JSON."""
        return encode_history(self.records)


def _start(spans: dict[bytes, DeviceSpan], device: bytes, when: int) -> None:
    if device in spans:
        raise KeyHistoryError("A device key is certified twice in this identity history.")
    spans[device] = DeviceSpan(device=device, since=when)


def _stop(spans: dict[bytes, DeviceSpan], device: bytes, when: int) -> None:
    span = spans.get(device)
    if span is None or span.until is not None:
        raise KeyHistoryError("A record retires a device key that is not currently certified.")
    spans[device] = DeviceSpan(device=device, since=span.since, until=when)


def encode_history(records: Iterable[Statement]) -> bytes:
    return canonical_json({"records": [r.to_json() for r in records]})


def decode_history(data: bytes) -> KeyHistory:
    """Parse and verify a public identity bundle (the bytes of ``closedset id export``)."""
    if len(data) > MAX_HISTORY_RECORDS * 2048:
        raise LimitError("This identity bundle is too large.")
    value = parse_canonical_json(data, what="identity bundle")
    if (
        not isinstance(value, dict)
        or set(value) != {"records"}
        or not isinstance(value["records"], list)
    ):
        raise EncodingError("An identity bundle is an object with one list, records.")
    if len(value["records"]) > MAX_HISTORY_RECORDS:
        raise LimitError(f"An identity history may hold at most {MAX_HISTORY_RECORDS} records.")
    try:
        return KeyHistory.from_records([Statement.from_json(r) for r in value["records"]])
    except SignatureError as exc:
        raise KeyHistoryError(f"This identity bundle does not verify: {exc}") from exc


@dataclass(frozen=True)
class DeviceKeyPair:
    """An X25519 device key pair (the private half lives only in the keystore)."""

    private: nacl.public.PrivateKey

    @classmethod
    def generate(cls) -> DeviceKeyPair:
        return cls(nacl.public.PrivateKey.generate())

    @property
    def public(self) -> bytes:
        return bytes(self.private.public_key)
