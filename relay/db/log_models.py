"""Tables of the transparency log: entries, every complete aligned subtree hash, checkpoints.

Rows are only ever inserted, never updated or deleted; one sequencer round inserts its
entries, the subtree hashes they complete and the checkpoint covering them in one transaction.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, LargeBinary, SmallInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from relay.db.base import Base, BigIntegerKey


class LogEntry(Base):
    """One log entry (the opaque 42-byte layout of ``relay.log.entry``) at its index."""

    __tablename__ = "log_entries"

    idx: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=False)
    entry: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class LogNode(Base):
    """The RFC 6962 hash of the complete aligned subtree ``[idx * 2**level, (idx+1) * 2**level)``.

    Level 0 holds leaf hashes. Only complete subtrees are stored, so a row never changes;
    the unaligned right edge of a tree is composed from at most log n of these.
    """

    __tablename__ = "log_nodes"
    # Clustered on (level, idx): a tile is one contiguous range scan, and there is no rowid
    # b-tree to maintain on SQLite.
    __table_args__ = (
        CheckConstraint("level >= 0 AND level < 64", name="level_range"),
        {"sqlite_with_rowid": False},
    )

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)


class LogCheckpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint in a signed note), one per tree size."""

    __tablename__ = "log_checkpoints"

    size: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
