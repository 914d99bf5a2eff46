"""Fixtures for the email tests: the relay's databases (SQLite and PostgreSQL), a throwaway
Dovecot for the whole session, and a smarthost that delivers into it over LMTP.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mail.dovecot import Dovecot
from tests.relay.conftest import log_db

__all__ = ["dovecot", "log_db"]

USERS = {f"{name}@mail.test": f"pw-{name}" for name in ("ines", "ana", "ben")}


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot.start(USERS)
    try:
        yield server
    finally:
        server.stop()
