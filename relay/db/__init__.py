"""Relay storage: the async engine factory, the declarative base and the log's tables.

Every model shares :class:`Base`, so Alembic sees one metadata (``relay/migrations``).
"""

from relay.db.base import Base
from relay.db.engine import create_engine, session_factory
from relay.db.log_models import LogCheckpoint, LogEntry, LogNode

__all__ = [
    "Base",
    "LogCheckpoint",
    "LogEntry",
    "LogNode",
    "create_engine",
    "session_factory",
]
