"""Create the mail outbox: queued, sent and failed deliveries of envelopes by email.

Revision ID: 0003_mail_outbox
Revises: 0002_api_tables
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_mail_outbox"
down_revision: str | None = "0002_api_tables"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("envelope_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("thread_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("recipient", sa.LargeBinary(length=32), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("in_reply_to", sa.String(length=200), nullable=True),
        sa.Column("reference_ids", sa.Text(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger(), nullable=False),
        sa.Column("lease_until_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("finished_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        sa.UniqueConstraint("envelope_hash", "recipient", name="uq_mail_outbox_envelope_recipient"),
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["status", "next_attempt_ms"])
    op.create_index(
        "ix_mail_outbox_thread_recipient", "mail_outbox", ["thread_id", "recipient", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_thread_recipient", table_name="mail_outbox")
    op.drop_index("ix_mail_outbox_due", table_name="mail_outbox")
    op.drop_table("mail_outbox")
