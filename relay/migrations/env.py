"""Alembic environment: migrates on the connection handed over by ``relay.migrations``.

Run through :func:`relay.migrations.migrate`; there is no alembic.ini and no offline mode.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import relay.db  # noqa: F401  (registers every model on Base.metadata)
from relay.db.base import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "Relay migrations run through relay.migrations.migrate(), which supplies the connection."
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
