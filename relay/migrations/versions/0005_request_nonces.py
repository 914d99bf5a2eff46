"""Create the replay cache of signed requests (relay.http.replay), so it survives restarts.

Revision ID: 0005_request_nonces
Revises: 0004_log_cosignatures
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_request_nonces"
down_revision: str | None = "0004_log_cosignatures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_nonces",
        sa.Column("identity_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(length=16), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("identity_key", "nonce", name=op.f("pk_request_nonces")),
    )
    op.create_index(
        op.f("ix_request_nonces_expires_at"), "request_nonces", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_request_nonces_expires_at"), table_name="request_nonces")
    op.drop_table("request_nonces")
