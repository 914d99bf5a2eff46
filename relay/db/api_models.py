"""Tables of the relay's API: identities and their logged records, threads, members, invites,
envelopes. Keys are raw bytes (identity keys 32, thread ids 16, hashes 32); times are Unix
seconds except ``received_ms``, the relay's receipt time that also goes into the log entry.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from relay.db.base import Base


class Identity(Base):
    """A registered identity: its current public history (the bundle) and the role it states
    about itself (a self-description only: authority in a thread comes from the thread)."""

    __tablename__ = "identities"

    identity_key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(20), unique=True, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    history: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    """``keys.identity.encode_history`` of the records 0..record_count-1."""
    record_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    devices: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    """The current device keys (32 bytes each, concatenated): who an envelope may address."""
    revoked: Mapped[bool] = mapped_column(Boolean, nullable=False)
    registered_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


class IdentityRecord(Base):
    """One accepted statement of an identity's history, and where the log holds it."""

    __tablename__ = "identity_records"

    identity_key: Mapped[bytes] = mapped_column(
        LargeBinary(32), ForeignKey("identities.identity_key"), primary_key=True
    )
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    record: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    """The statement's canonical bytes: exactly what was logged."""
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True, nullable=False)


class DeviceKey(Base):
    """Every device key any identity ever certified, and whose it is: one device, one identity."""

    __tablename__ = "device_keys"

    device: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    identity_key: Mapped[bytes] = mapped_column(
        LargeBinary(32), ForeignKey("identities.identity_key"), nullable=False
    )


class Thread(Base):
    """A negotiation thread (one scene); ``envelope_count`` hands out per-thread sequences,
    ``roster`` numbers its membership changes (joins, removals, grants) in order."""

    __tablename__ = "threads"
    __table_args__ = (Index("ix_threads_creator_created_at", "creator", "created_at"),)

    thread_id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    creator: Mapped[bytes] = mapped_column(
        LargeBinary(32), ForeignKey("identities.identity_key"), nullable=False
    )
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    envelope_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    roster: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class Member(Base):
    """A member of a thread; a removed member keeps its row, with where the removal fell."""

    __tablename__ = "thread_members"

    thread_id: Mapped[bytes] = mapped_column(
        LargeBinary(16), ForeignKey("threads.thread_id"), primary_key=True
    )
    identity_key: Mapped[bytes] = mapped_column(
        LargeBinary(32), ForeignKey("identities.identity_key"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="performer")
    """The member's role in this thread (``keys.roles``): ``ic`` for the creator and granted
    co-coordinators, else the role of the invite they joined with."""
    joined_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    joined_after: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """The thread's envelope count when the member joined."""
    joined_roster: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    """The thread's roster number of the join (0: the creator)."""
    invite_id: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    join_proof: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    """The joiner's HMAC over the invite secret; the relay stores it but cannot make one."""
    removed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    removed_after: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The thread's envelope count at removal: the member may read sequences up to it."""
    removed_by: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    removed_roster: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The thread's roster number of the removal: what the removed member may still see."""
    posts_after_removal: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    """Envelopes sent after removal (to the coordinators only), against the relay's budget."""


class Grant(Base):
    """A co-coordinator: the creator's signed grant (logged), and where it falls."""

    __tablename__ = "thread_grants"

    thread_id: Mapped[bytes] = mapped_column(
        LargeBinary(16), ForeignKey("threads.thread_id"), primary_key=True
    )
    grantee: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    granter: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    statement: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    """The grant's canonical bytes (``keys.grant``): exactly what was logged."""
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True, nullable=False)
    granted_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    roster: Mapped[int] = mapped_column(BigInteger, nullable=False)
    previous_role: Mapped[str] = mapped_column(String(16), nullable=False)


class Invite(Base):
    """A single-use invitation, stored by the hash of its secret (the relay never sees it)."""

    __tablename__ = "thread_invites"

    invite_id: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    thread_id: Mapped[bytes] = mapped_column(
        LargeBinary(16), ForeignKey("threads.thread_id"), nullable=False
    )
    inviter: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="performer")
    """The thread role the invite admits (``keys.roles.INVITABLE_ROLES``)."""
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    used_by: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class StoredEnvelope(Base):
    """An accepted envelope: its canonical bytes, its log index and its place in the thread."""

    __tablename__ = "envelopes"
    __table_args__ = (
        UniqueConstraint("thread_id", "sequence", name="uq_envelopes_thread_sequence"),
        # The thread's heads: envelopes that no other envelope names as previous.
        Index("ix_envelopes_thread_prev", "thread_id", "prev"),
    )

    hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    thread_id: Mapped[bytes] = mapped_column(
        LargeBinary(16), ForeignKey("threads.thread_id"), nullable=False
    )
    sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sender: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    prev: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True, nullable=False)
    received_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)


class RequestNonce(Base):
    """A signed request's (key, nonce), kept until its ``created`` time leaves the clock window.

    The replay cache (relay.http.replay): a row is written, and committed, before a signed
    request is answered, so a captured request cannot be replayed after a restart, nor to
    another process on the same database. It is the request's signature, not its content.
    """

    __tablename__ = "request_nonces"

    identity_key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)


class EnvelopeReader(Base):
    """Who may be served an envelope: one row per recipient identity (docs/api.md, "Readers").

    ``reader_sequence`` counts, per thread and reader, the envelopes addressed to that reader
    (1, 2, 3, ...), so a reader who sees a gap knows an envelope meant for them was withheld.
    """

    __tablename__ = "envelope_readers"
    __table_args__ = (
        # A reader's page: their envelopes of a thread in thread order.
        UniqueConstraint("thread_id", "reader", "sequence", name="uq_envelope_readers_sequence"),
        Index("ix_envelope_readers_hash", "hash"),
    )

    thread_id: Mapped[bytes] = mapped_column(
        LargeBinary(16), ForeignKey("threads.thread_id"), primary_key=True
    )
    reader: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    reader_sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hash: Mapped[bytes] = mapped_column(
        LargeBinary(32), ForeignKey("envelopes.hash"), nullable=False
    )
