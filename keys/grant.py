"""Thread grants: the creator of a thread (its IC) makes another member a co-coordinator.

A grant is a signed statement (``keys.statement``) with purpose ``closedset/thread-grant/v1``
and exactly the fields ``purpose``, ``signer`` (the granting identity key), ``thread`` (16
bytes), ``grantee`` (the identity key made coordinator), ``role`` and ``issued_at``. The relay
logs it (log record type 3) and enforces it; members verify it and show who granted whom.
The grantable roles are ``keys.roles.GRANTABLE_ROLES`` (today only ``ic``).
Format: docs/protocol.md, "Thread grants".
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.signing

from keys.encoding import b64u_decode, b64u_encode
from keys.errors import EncodingError, LimitError
from keys.identity import MAX_TIME
from keys.roles import GRANTABLE_ROLES
from keys.statement import MAX_STATEMENT_BYTES, PUBLIC_KEY_SIZE, Statement, sign_statement

THREAD_GRANT = "closedset/thread-grant/v1"
THREAD_SIZE = 16
MAX_GRANT_BYTES = 1024
_FIELDS = frozenset({"purpose", "signer", "thread", "grantee", "role", "issued_at"})


@dataclass(frozen=True)
class Grant:
    """A verified grant: ``granter`` makes ``grantee`` a ``role`` of ``thread``."""

    statement: Statement
    granter: bytes
    thread: bytes
    grantee: bytes
    role: str
    issued_at: int

    def to_bytes(self) -> bytes:
        """The canonical bytes: what the relay logs and what its SHA-256 names."""
        return self.statement.to_bytes()


def make_grant(
    key: nacl.signing.SigningKey, *, thread: bytes, grantee: bytes, role: str, issued_at: int
) -> Grant:
    """Sign a grant (the relay accepts it only from the thread's creator)."""
    if len(thread) != THREAD_SIZE or len(grantee) != PUBLIC_KEY_SIZE:
        raise EncodingError("A grant names a 16-byte thread and a 32-byte identity key.")
    statement = sign_statement(
        key,
        {
            "purpose": THREAD_GRANT,
            "thread": b64u_encode(thread),
            "grantee": b64u_encode(grantee),
            "role": role,
            "issued_at": issued_at,
        },
    )
    return check_grant_statement(statement)


def check_grant_statement(statement: Statement) -> Grant:
    """Verify a statement as a grant: exact fields, valid values, then the signature."""
    body = statement.body
    if statement.purpose != THREAD_GRANT:
        raise EncodingError(f"{statement.purpose} is not a thread grant.")
    if set(body) != _FIELDS:
        raise EncodingError(
            "A thread grant has exactly the fields purpose, signer, thread, grantee, role and "
            "issued_at."
        )
    role = body["role"]
    if role not in GRANTABLE_ROLES:
        raise EncodingError(
            f"A thread grant can make a member {', '.join(GRANTABLE_ROLES)}, not {role!r}."
        )
    issued_at = body["issued_at"]
    if (
        not isinstance(issued_at, int)
        or isinstance(issued_at, bool)
        or not (0 <= issued_at <= MAX_TIME)
    ):
        raise EncodingError("A thread grant's issued_at must be a whole number of seconds.")
    thread = b64u_decode(body["thread"], length=THREAD_SIZE, what="thread id")
    grantee = b64u_decode(body["grantee"], length=PUBLIC_KEY_SIZE, what="grantee key")
    statement.verify(THREAD_GRANT)
    return Grant(statement, statement.signer, thread, grantee, str(role), issued_at)


def decode_grant(data: bytes) -> Grant:
    """Parse and verify a grant's canonical bytes (the body of ``POST .../grants``)."""
    if len(data) > min(MAX_GRANT_BYTES, MAX_STATEMENT_BYTES):
        raise LimitError(f"A thread grant is at most {MAX_GRANT_BYTES} bytes.")
    return check_grant_statement(Statement.from_bytes(data))
