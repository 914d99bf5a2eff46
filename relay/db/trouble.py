"""Database trouble, told apart from everything else and described without SQL or parameters.

:func:`is_database_trouble` says whether an exception means the database is unavailable, full,
frozen or timed out (the relay answers 503 with ``Retry-After``, SMTP ``451 4.3.0``), as opposed
to a bug. :func:`describe_failure` is the one line the relay logs for it: the exception's class
and, for database errors, the driver's error name or SQLSTATE, never the statement or its
parameters (SQLAlchemy's own message quotes both). Tracebacks are for the debug level.
"""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import exc as sa_exc

# SQLSTATE classes: 08 connection exception, 53 insufficient resources (disk full, out of
# memory, too many connections), 57 operator intervention (statement timeout, shutdown),
# 58 system error; and lock or statement timeouts, serialization failures and deadlocks.
_PG_CLASSES = ("08", "53", "57", "58")
_PG_CODES = frozenset({"55P03", "40001", "40P01"})
_SQLITE_ERRORS = frozenset(
    {
        "SQLITE_BUSY",
        "SQLITE_LOCKED",
        "SQLITE_FULL",
        "SQLITE_IOERR",
        "SQLITE_CANTOPEN",
        "SQLITE_INTERRUPT",
        "SQLITE_READONLY",
        "SQLITE_PROTOCOL",
        "SQLITE_NOLFS",
    }
)


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        if isinstance(current, sa_exc.DBAPIError) and current.orig is not None:
            current = current.orig
        else:
            current = current.__cause__ or current.__context__
    return seen


def _sqlstate(error: BaseException) -> str | None:
    for name in ("sqlstate", "pgcode"):
        value = getattr(error, name, None)
        if isinstance(value, str) and len(value) == 5:
            return value
    return None


def is_database_trouble(error: BaseException) -> bool:
    """True if ``error`` says the database cannot serve right now (try again later).

    A driver error is judged by the driver's own code (SQLite's error name, PostgreSQL's
    SQLSTATE), not by SQLAlchemy's class: "table already exists" is an OperationalError too.
    """
    for link in _chain(error):
        if isinstance(link, sa_exc.DBAPIError):
            if link.connection_invalidated:
                return True
            continue  # judged by the driver's error, next in the chain
        if isinstance(
            link,
            sa_exc.TimeoutError | sa_exc.DisconnectionError | TimeoutError | asyncio.TimeoutError,
        ):
            return True
        if isinstance(link, sqlite3.Error):
            name = getattr(link, "sqlite_errorname", "") or ""
            if any(name == e or name.startswith(e + "_") for e in _SQLITE_ERRORS):
                return True
            continue
        if isinstance(link, ConnectionError | OSError) and not isinstance(
            link, FileNotFoundError | PermissionError
        ):
            return True
        state = _sqlstate(link)
        if state is not None and (state[:2] in _PG_CLASSES or state in _PG_CODES):
            return True
        module = type(link).__module__
        if module.startswith("asyncpg") and type(link).__name__ in (
            "ConnectionDoesNotExistError",
            "InterfaceError",
            "InternalClientError",
            "ConnectionFailureError",
            "CannotConnectNowError",
            "TooManyConnectionsError",
        ):
            return True
    return False


def describe_failure(error: BaseException) -> str:
    """One line for the log: class names and error codes only (no SQL, no parameters)."""
    parts: list[str] = []
    for link in _chain(error):
        name = type(link).__name__
        detail = getattr(link, "sqlite_errorname", None) or _sqlstate(link)
        if isinstance(link, ConnectionError | OSError) and link.errno is not None:
            detail = f"errno {link.errno}"
        part = f"{name} ({detail})" if detail else name
        if part not in parts:
            parts.append(part)
    return " <- ".join(parts)
