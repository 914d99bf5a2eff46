"""Create the table of witness cosignatures on the log's checkpoints (relay.witnessing).

Revision ID: 0004_log_cosignatures
Revises: 0003_mail_outbox
Create Date: 2025-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_log_cosignatures"
down_revision: str | None = "0003_mail_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_cosignatures",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness_key", sa.Text(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("cosigned_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("size", "witness_key", name=op.f("pk_log_cosignatures")),
    )
    op.create_index(
        "ix_log_cosignatures_witness_key_size", "log_cosignatures", ["witness_key", "size"]
    )


def downgrade() -> None:
    op.drop_index("ix_log_cosignatures_witness_key_size", table_name="log_cosignatures")
    op.drop_table("log_cosignatures")
