"""The mail outbox: one row per (envelope, member) to deliver by email, and what became of it.

A row is written in the envelope's own log round (``relay.mail.outbox``), so a committed
envelope always has its mail queued. Times are Unix milliseconds. No row holds the message
itself: it is rebuilt from the stored envelope, byte for byte the same on every attempt.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from relay.db.base import Base, BigIntegerKey

QUEUED, SENT, FAILED = "queued", "sent", "failed"


class OutgoingMail(Base):
    """One envelope to one member's email address."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        UniqueConstraint("envelope_hash", "recipient", name="uq_mail_outbox_envelope_recipient"),
        Index("ix_mail_outbox_due", "status", "next_attempt_ms"),
        # The member's previous mail in the thread: what In-Reply-To points at.
        Index("ix_mail_outbox_thread_recipient", "thread_id", "recipient", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    envelope_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    thread_id: Mapped[bytes] = mapped_column(LargeBinary(16), nullable=False)
    recipient: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    """The member's identity key."""
    address: Mapped[str] = mapped_column(String(254), nullable=False)
    message_id: Mapped[str] = mapped_column(String(200), nullable=False)
    in_reply_to: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reference_ids: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The References header's message ids, space-separated (bounded, oldest dropped)."""
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False, default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    lease_until_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """While a worker is sending it; another worker leaves it alone until then."""
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
