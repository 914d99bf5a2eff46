"""Create the table of each envelope's readers, numbered per reader, filled from the stored.

Each envelope already stored gets one row per recipient identity, numbered per reader in
thread order.

Revision ID: 0006_envelope_readers
Revises: 0005_request_nonces
Create Date: 2026-12-01
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_envelope_readers"
down_revision: str | None = "0005_request_nonces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _identities(body: bytes) -> list[bytes]:
    recipients = json.loads(body)["context"]["recipients"]
    return sorted({_b64u(r["identity"]) for r in recipients})


def _b64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def upgrade() -> None:
    table = op.create_table(
        "envelope_readers",
        sa.Column("thread_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("reader", sa.LargeBinary(length=32), nullable=False),
        sa.Column("reader_sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["hash"], ["envelopes.hash"], name=op.f("fk_envelope_readers_hash_envelopes")
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.thread_id"],
            name=op.f("fk_envelope_readers_thread_id_threads"),
        ),
        sa.PrimaryKeyConstraint(
            "thread_id", "reader", "reader_sequence", name=op.f("pk_envelope_readers")
        ),
        sa.UniqueConstraint("thread_id", "reader", "sequence", name="uq_envelope_readers_sequence"),
    )
    op.create_index("ix_envelope_readers_hash", "envelope_readers", ["hash"])
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT hash, thread_id, sequence, body FROM envelopes ORDER BY thread_id, sequence"
        )
    )
    counters: dict[tuple[bytes, bytes], int] = {}
    values = []
    for digest, thread_id, sequence, body in rows:
        for reader in _identities(bytes(body)):
            key = (bytes(thread_id), reader)
            counters[key] = counters.get(key, 0) + 1
            values.append(
                {
                    "thread_id": bytes(thread_id),
                    "reader": reader,
                    "reader_sequence": counters[key],
                    "sequence": sequence,
                    "hash": bytes(digest),
                }
            )
    if values:
        op.bulk_insert(table, values)


def downgrade() -> None:
    op.drop_index("ix_envelope_readers_hash", table_name="envelope_readers")
    op.drop_table("envelope_readers")
