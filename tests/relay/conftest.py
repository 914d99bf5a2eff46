"""Fixtures for the relay tests: every log test runs on SQLite and on PostgreSQL.

PostgreSQL is the server at CLOSEDSET_TEST_PG_URL (default: the local trust-auth ``test``
database); each test gets a fresh schema, dropped afterwards. If the server cannot be
reached the PostgreSQL half FAILS, unless CLOSEDSET_TEST_SKIP_PG=1 says to skip it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from keys.note import NoteSigner
from relay.db import create_engine
from relay.log.store import LogStore
from relay.migrations import migrate

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
LOG_NAME = "relay.example.test/log"
LOG_SEED = bytes(range(32))


def pg_url() -> str:
    return os.environ.get("CLOSEDSET_TEST_PG_URL", DEFAULT_PG_URL)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class DbTarget:
    """A migrated, empty relay database that a test may open engines on (in any loop)."""

    backend: str
    url: str
    engine_options: dict[str, Any] = field(default_factory=dict)
    schema: str | None = None

    def make_engine(self) -> AsyncEngine:
        return create_engine(self.url, **self.engine_options)


async def _pg_admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _reach_pg_or_fail(url: str) -> None:
    try:
        asyncio.run(_pg_admin(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if os.environ.get("CLOSEDSET_TEST_SKIP_PG") == "1":
            pytest.skip(
                f"!!! PostgreSQL half SKIPPED on request (CLOSEDSET_TEST_SKIP_PG=1); "
                f"{url} is not reachable: {exc}"
            )
        pytest.fail(
            f"PostgreSQL at {url} cannot be reached ({exc}). Start it, point "
            "CLOSEDSET_TEST_PG_URL at a server, or set CLOSEDSET_TEST_SKIP_PG=1 to skip.",
            pytrace=False,
        )


def make_target(backend: str, tmp_path: Path) -> DbTarget:
    """Create and migrate a fresh database for ``backend`` (caller drops it: drop_target)."""
    if backend == "sqlite":
        target = DbTarget("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
    else:
        url = pg_url()
        _reach_pg_or_fail(url)
        schema = f"cs_test_{uuid.uuid4().hex[:16]}"
        asyncio.run(_pg_admin(url, f'CREATE SCHEMA "{schema}"'))
        target = DbTarget(
            "postgresql",
            url,
            {"connect_args": {"server_settings": {"search_path": schema}}},
            schema,
        )

    async def run_migrations() -> None:
        engine = target.make_engine()
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run_migrations())
    return target


def drop_target(target: DbTarget) -> None:
    if target.schema is not None:
        asyncio.run(_pg_admin(target.url, f'DROP SCHEMA "{target.schema}" CASCADE'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def log_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DbTarget]:
    """A freshly migrated relay database on each backend."""
    target = make_target(request.param, tmp_path)
    try:
        yield target
    finally:
        drop_target(target)


@pytest.fixture
async def store(log_db: DbTarget) -> AsyncIterator[LogStore]:
    engine = log_db.make_engine()
    try:
        yield LogStore(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def log_signer() -> NoteSigner:
    return NoteSigner(LOG_NAME, LOG_SEED)


# --- the relay's API over real sockets (helpers in tests/relay/api_support.py) ----------------


@pytest.fixture
def clock() -> Any:
    """The relay's injected clock; tests move it instead of sleeping."""
    from tests.relay.api_support import FakeClock

    return FakeClock()


@pytest.fixture
async def api(log_db: DbTarget, tmp_path: Path, clock: Any) -> AsyncIterator[Any]:
    """A relay on a real socket over each backend, with roomy rate limits, and a caller."""
    from tests.relay.api_support import running_relay

    async with running_relay(log_db, tmp_path, clock) as client:
        yield client
