"""Create the API tables: identities and their records, threads, members, invites, envelopes.

Revision ID: 0002_api_tables
Revises: 0001_log_tables
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_api_tables"
down_revision: str | None = "0001_log_tables"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(size: int) -> sa.LargeBinary:
    return sa.LargeBinary(length=size)


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("identity_key", _key(32), nullable=False),
        sa.Column("fingerprint", _key(20), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("history", sa.LargeBinary(), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
        sa.Column("devices", sa.LargeBinary(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("registered_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("identity_key", name=op.f("pk_identities")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_identities_fingerprint")),
    )
    op.create_table(
        "identity_records",
        sa.Column("identity_key", _key(32), nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_key"],
            ["identities.identity_key"],
            name=op.f("fk_identity_records_identity_key_identities"),
        ),
        sa.PrimaryKeyConstraint("identity_key", "position", name=op.f("pk_identity_records")),
        sa.UniqueConstraint("log_index", name=op.f("uq_identity_records_log_index")),
    )
    op.create_table(
        "threads",
        sa.Column("thread_id", _key(16), nullable=False),
        sa.Column("creator", _key(32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("envelope_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator"], ["identities.identity_key"], name=op.f("fk_threads_creator_identities")
        ),
        sa.PrimaryKeyConstraint("thread_id", name=op.f("pk_threads")),
    )
    op.create_table(
        "thread_members",
        sa.Column("thread_id", _key(16), nullable=False),
        sa.Column("identity_key", _key(32), nullable=False),
        sa.Column("joined_at", sa.BigInteger(), nullable=False),
        sa.Column("joined_after", sa.BigInteger(), nullable=False),
        sa.Column("invite_id", _key(32), nullable=True),
        sa.Column("join_proof", _key(32), nullable=True),
        sa.Column("removed_at", sa.BigInteger(), nullable=True),
        sa.Column("removed_after", sa.BigInteger(), nullable=True),
        sa.Column("removed_by", _key(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["identity_key"],
            ["identities.identity_key"],
            name=op.f("fk_thread_members_identity_key_identities"),
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.thread_id"], name=op.f("fk_thread_members_thread_id_threads")
        ),
        sa.PrimaryKeyConstraint("thread_id", "identity_key", name=op.f("pk_thread_members")),
    )
    op.create_table(
        "thread_invites",
        sa.Column("invite_id", _key(32), nullable=False),
        sa.Column("thread_id", _key(16), nullable=False),
        sa.Column("inviter", _key(32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_by", _key(32), nullable=True),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.thread_id"], name=op.f("fk_thread_invites_thread_id_threads")
        ),
        sa.PrimaryKeyConstraint("invite_id", name=op.f("pk_thread_invites")),
    )
    op.create_table(
        "envelopes",
        sa.Column("hash", _key(32), nullable=False),
        sa.Column("thread_id", _key(16), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("sender", _key(32), nullable=False),
        sa.Column("prev", _key(32), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.thread_id"], name=op.f("fk_envelopes_thread_id_threads")
        ),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_envelopes")),
        sa.UniqueConstraint("log_index", name=op.f("uq_envelopes_log_index")),
        sa.UniqueConstraint("thread_id", "sequence", name="uq_envelopes_thread_sequence"),
    )
    op.create_index("ix_envelopes_thread_prev", "envelopes", ["thread_id", "prev"])


def downgrade() -> None:
    op.drop_index("ix_envelopes_thread_prev", table_name="envelopes")
    op.drop_table("envelopes")
    op.drop_table("thread_invites")
    op.drop_table("thread_members")
    op.drop_table("threads")
    op.drop_table("identity_records")
    op.drop_table("identities")
