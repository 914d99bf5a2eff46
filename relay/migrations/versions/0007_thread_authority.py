"""Authority from the thread: member and invite roles, grants, rosters, one device one identity.

Member roles, invite roles, co-coordinator grants, the roster order of membership changes,
removed members' post budget, and one device one identity.

Existing threads: the creator's row becomes ``ic``; every other member becomes ``performer``
(whatever role their identity states about itself), so a member who acted as IC only because
their identity record said so loses those powers. Joins and removals get roster numbers in the
order they happened (ties: joins first). Device keys certified by two identities before this
revision keep their first owner (the earlier log index); the later one is refused from now on.

Revision ID: 0007_thread_authority
Revises: 0006_envelope_readers
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_thread_authority"
down_revision: str | None = "0006_envelope_readers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DEVICE_PURPOSES = {"closedset/device/v1": "device", "closedset/device-rotation/v1": "new_device"}


def _b64u(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def upgrade() -> None:
    with op.batch_alter_table("threads") as batch:
        batch.add_column(sa.Column("roster", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_threads_creator_created_at", "threads", ["creator", "created_at"])
    with op.batch_alter_table("thread_members") as batch:
        batch.add_column(
            sa.Column("role", sa.String(length=16), nullable=False, server_default="performer")
        )
        batch.add_column(
            sa.Column("joined_roster", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("removed_roster", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("posts_after_removal", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("thread_invites") as batch:
        batch.add_column(
            sa.Column("role", sa.String(length=16), nullable=False, server_default="performer")
        )
    op.create_table(
        "thread_grants",
        sa.Column("thread_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("grantee", sa.LargeBinary(length=32), nullable=False),
        sa.Column("granter", sa.LargeBinary(length=32), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
        sa.Column("roster", sa.BigInteger(), nullable=False),
        sa.Column("previous_role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.thread_id"],
            name=op.f("fk_thread_grants_thread_id_threads"),
        ),
        sa.PrimaryKeyConstraint("thread_id", "grantee", name=op.f("pk_thread_grants")),
        sa.UniqueConstraint("log_index", name=op.f("uq_thread_grants_log_index")),
    )
    op.create_table(
        "device_keys",
        sa.Column("device", sa.LargeBinary(length=32), nullable=False),
        sa.Column("identity_key", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_key"],
            ["identities.identity_key"],
            name=op.f("fk_device_keys_identity_key_identities"),
        ),
        sa.PrimaryKeyConstraint("device", name=op.f("pk_device_keys")),
    )
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    threads = sa.table("threads", sa.column("thread_id"), sa.column("creator"), sa.column("roster"))
    members = sa.table(
        "thread_members",
        sa.column("thread_id"),
        sa.column("identity_key"),
        sa.column("role"),
        sa.column("joined_at"),
        sa.column("removed_at"),
        sa.column("joined_roster"),
        sa.column("removed_roster"),
    )
    creators = dict(conn.execute(sa.select(threads.c.thread_id, threads.c.creator)).all())
    rows = conn.execute(
        sa.select(
            members.c.thread_id, members.c.identity_key, members.c.joined_at, members.c.removed_at
        )
    ).all()
    events: dict[bytes, list[tuple[int, int, bytes, str]]] = {}
    for thread_id, key, joined_at, removed_at in rows:
        events.setdefault(thread_id, []).append((joined_at, 0, key, "join"))
        if removed_at is not None:
            events.setdefault(thread_id, []).append((removed_at, 1, key, "remove"))
    for thread_id, found in events.items():
        creator = creators.get(thread_id)
        number = 0
        for _, _, key, kind in sorted(found, key=lambda e: (e[0], e[1], e[2] != creator)):
            where = sa.and_(members.c.thread_id == thread_id, members.c.identity_key == key)
            if kind == "join":
                value = 0 if key == creator else number + 1
                number = max(number, value)
                role = "ic" if key == creator else "performer"
                conn.execute(members.update().where(where).values(joined_roster=value, role=role))
            else:
                number += 1
                conn.execute(members.update().where(where).values(removed_roster=number))
        conn.execute(threads.update().where(threads.c.thread_id == thread_id).values(roster=number))
    records = sa.table(
        "identity_records",
        sa.column("identity_key"),
        sa.column("record"),
        sa.column("log_index"),
    )
    devices = sa.table("device_keys", sa.column("device"), sa.column("identity_key"))
    owner: dict[bytes, bytes] = {}
    for key, record in conn.execute(
        sa.select(records.c.identity_key, records.c.record).order_by(records.c.log_index)
    ):
        body = json.loads(bytes(record))["body"]
        field = _DEVICE_PURPOSES.get(body.get("purpose"))
        if field is not None:
            owner.setdefault(_b64u(body[field]), bytes(key))
    if owner:
        conn.execute(devices.insert(), [{"device": d, "identity_key": k} for d, k in owner.items()])


def downgrade() -> None:
    op.drop_table("device_keys")
    op.drop_table("thread_grants")
    with op.batch_alter_table("thread_invites") as batch:
        batch.drop_column("role")
    with op.batch_alter_table("thread_members") as batch:
        batch.drop_column("posts_after_removal")
        batch.drop_column("removed_roster")
        batch.drop_column("joined_roster")
        batch.drop_column("role")
    op.drop_index("ix_threads_creator_created_at", table_name="threads")
    # Not a batch: SQLite would recreate the table, which other tables' foreign keys name.
    # Both databases drop a plain column in place (SQLite since 3.35).
    op.execute("ALTER TABLE threads DROP COLUMN roster")
