"""Relay storage: the async engine factory, the declarative base, and every table (the log's,
the API's, the mail outbox).

Every model shares :class:`Base`, so Alembic sees one metadata (``relay/migrations``).
"""

from relay.db.api_models import (
    DeviceKey,
    Grant,
    Identity,
    IdentityRecord,
    Invite,
    Member,
    RequestNonce,
    StoredEnvelope,
    Thread,
)
from relay.db.base import Base
from relay.db.engine import create_engine, session_factory
from relay.db.log_models import LogCheckpoint, LogEntry, LogNode
from relay.db.mail_models import OutgoingMail

__all__ = [
    "Base",
    "DeviceKey",
    "Grant",
    "Identity",
    "IdentityRecord",
    "Invite",
    "LogCheckpoint",
    "LogEntry",
    "LogNode",
    "Member",
    "OutgoingMail",
    "RequestNonce",
    "StoredEnvelope",
    "Thread",
    "create_engine",
    "session_factory",
]
