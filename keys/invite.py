"""Invitations to a scene's thread, in the spirit of Delta Chat's SecureJoin.

An invite code carries the relay's address, the thread, the inviter's identity key and a
one-time secret. The relay stores only ``invite_id(secret)``, so it can check single use
and expiry without being able to join. The joiner proves they hold the secret with
``join_proof`` (HMAC-SHA256 keyed by the secret over thread and joiner key): the inviter,
who knows the secret, learns which key joined through it; the relay cannot forge that.
The joiner checks the inviter's identity against the fingerprint the code carries.
Format: docs/protocol.md, "Invitations".
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from keys.encoding import b64u_decode, b64u_encode, canonical_json, parse_canonical_json
from keys.errors import EncodingError, LimitError, VerificationError
from keys.identity import MAX_TIME, Fingerprint
from keys.roles import INVITABLE_ROLES

PREFIX = "closedset-invite:v1:"
SECRET_SIZE = 32
THREAD_SIZE = 16
MAX_RELAY_URL = 256
MAX_CODE_LENGTH = 1024
INVITE_ID_DOMAIN = b"closedset/invite-id/v1\x00"
JOIN_DOMAIN = b"closedset/join/v1\x00"
_FIELDS = frozenset({"relay", "thread", "inviter", "secret", "expires_at", "role"})


class JoinProofError(VerificationError):
    """A join proof was not made with this invite's secret for this thread and key."""


@dataclass(frozen=True)
class Invite:
    relay: str
    thread: bytes
    inviter: bytes
    secret: bytes
    expires_at: int
    role: str = "performer"
    """The thread role the invite admits (``keys.roles``); the relay enforces it."""

    def __post_init__(self) -> None:
        if self.role not in INVITABLE_ROLES:
            raise EncodingError(
                f"An invite admits one of {', '.join(INVITABLE_ROLES)}, not {self.role!r}."
            )

    @property
    def inviter_fingerprint(self) -> Fingerprint:
        return Fingerprint.of(self.inviter)

    @property
    def invite_id(self) -> bytes:
        return invite_id(self.secret)

    def to_json(self) -> dict[str, Any]:
        return {
            "relay": self.relay,
            "thread": b64u_encode(self.thread),
            "inviter": b64u_encode(self.inviter),
            "secret": b64u_encode(self.secret),
            "expires_at": self.expires_at,
            "role": self.role,
        }

    def encode(self) -> str:
        """The code to hand to the invitee: ``closedset-invite:v1:<base64url canonical JSON>``."""
        return PREFIX + b64u_encode(canonical_json(self.to_json()))

    @classmethod
    def decode(cls, code: str) -> Invite:
        code = "".join(code.split())  # chat apps and mail wrap long codes
        if len(code) > MAX_CODE_LENGTH:
            raise LimitError("This invite code is longer than any Closed Set invite.")
        if not code.startswith(PREFIX):
            raise EncodingError(
                "This is not a Closed Set invite code; it starts with closedset-invite:v1:."
            )
        raw = b64u_decode(code[len(PREFIX) :], what="invite code")
        value = parse_canonical_json(raw, what="invite code")
        if not isinstance(value, dict) or set(value) != _FIELDS:
            raise EncodingError("This invite code is damaged; ask for a new one.")
        relay = value["relay"]
        if (
            not isinstance(relay, str)
            or not relay.startswith(("http://", "https://"))
            or len(relay) > MAX_RELAY_URL
        ):
            raise EncodingError("The invite code's relay address is not an http(s) URL.")
        expires_at = value["expires_at"]
        if (
            not isinstance(expires_at, int)
            or isinstance(expires_at, bool)
            or not (0 <= expires_at <= MAX_TIME)
        ):
            raise EncodingError("The invite code's expiry is not a time.")
        return cls(
            relay=relay,
            thread=b64u_decode(value["thread"], length=THREAD_SIZE, what="thread id"),
            inviter=b64u_decode(value["inviter"], length=32, what="inviter key"),
            secret=b64u_decode(value["secret"], length=SECRET_SIZE, what="invite secret"),
            expires_at=expires_at,
            role=value["role"] if isinstance(value["role"], str) else "",
        )


def invite_id(secret: bytes) -> bytes:
    """What the relay stores for an invite: SHA-256 over a domain tag and the secret."""
    if len(secret) != SECRET_SIZE:
        raise EncodingError(f"An invite secret is {SECRET_SIZE} bytes.")
    return hashlib.sha256(INVITE_ID_DOMAIN + secret).digest()


def join_proof(secret: bytes, thread: bytes, joiner: bytes) -> bytes:
    """HMAC-SHA256(secret, domain || thread || joiner identity key)."""
    if len(secret) != SECRET_SIZE or len(thread) != THREAD_SIZE or len(joiner) != 32:
        raise EncodingError("A join proof needs a 32-byte secret, 16-byte thread, 32-byte key.")
    return hmac.new(secret, JOIN_DOMAIN + thread + joiner, hashlib.sha256).digest()


def verify_join_proof(secret: bytes, thread: bytes, joiner: bytes, proof: bytes) -> None:
    if not hmac.compare_digest(join_proof(secret, thread, joiner), proof):
        raise JoinProofError(
            "The joiner's proof was not made with this invite; do not trust this member."
        )
