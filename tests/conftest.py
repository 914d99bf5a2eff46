"""Fixtures shared across test packages.

The database fixtures (every backend: SQLite and PostgreSQL) and the running relay live with
the relay's tests; importing them here makes them available to client and end-to-end tests.
"""

from tests.relay.conftest import api, clock, log_db, log_signer, store

__all__ = ["api", "clock", "log_db", "log_signer", "store"]
