"""Database trouble is answered as such: 503 problem+json with Retry-After, SMTP 451 4.3.0,
an egress worker that backs off and loses nothing, /healthz failing, one log line per failure
with no SQL and no parameters.

The PostgreSQL faults run on a PRIVATE server the tests start (tests/relay/private_pg.py):
frozen with SIGSTOP, and stopped. The full disk is SQLite's ``max_page_count``. The relay's
database timeout is one second here, so every request during a fault is answered within a
few seconds; the HTTP client's own timeout (ten times that) only bounds a hang.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from keys.encoding import b64u_encode
from relay.app import create_app
from relay.db import engine as engine_module
from relay.db.trouble import is_database_trouble
from relay.log.sequencer import Sequencer
from relay.log.store import LogStore
from relay.mail.config import load_mail_config
from relay.mail.egress import outage_delay
from relay.mail.runtime import MAIL
from relay.migrations import migrate
from tests.mail.support import DOMAIN, address, attached, person, smtplib_async
from tests.relay.api_support import Api, FakeClock, Person, open_thread, post, seal_to, small_config
from tests.relay.conftest import DbTarget, _pg_admin
from tests.relay.private_pg import PrivatePostgres, free_port

TIMEOUT = 1.0
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=10 * TIMEOUT)
FORBIDDEN_IN_LOGS = ("[SQL", "[parameters", "INSERT INTO", "SELECT ", "Traceback")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def pg_target(private_pg: PrivatePostgres) -> AsyncIterator[DbTarget]:
    """A database of its own on the private server, for one test."""
    name = f"cs_fault_{uuid.uuid4().hex[:12]}"
    await _pg_admin(private_pg.url, f'CREATE DATABASE "{name}"')
    url = make_url(private_pg.url).set(database=name).render_as_string(hide_password=False)
    target = DbTarget("postgresql", url, {"timeout": TIMEOUT})
    engine = target.make_engine()
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    try:
        yield target
    finally:
        private_pg.thaw()
        if not (private_pg.data / "postmaster.pid").exists():
            private_pg.start()
        await _pg_admin(private_pg.url, f'DROP DATABASE "{name}" WITH (FORCE)')


class Lines(logging.Handler):
    """Every log record of the relay, and an event per message prefix a test waits for."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.waiting: dict[str, asyncio.Event] = {}
        self.loop = asyncio.get_running_loop()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        for prefix, event in self.waiting.items():
            if record.getMessage().startswith(prefix):
                self.loop.call_soon_threadsafe(event.set)

    def event(self, prefix: str) -> asyncio.Event:
        return self.waiting.setdefault(prefix, asyncio.Event())

    def check_clean(self, *secrets: str) -> None:
        """One line per failure: above debug, no traceback, no SQL, no parameter."""
        for record in self.records:
            # aiohttp's access log (one line per request, paths included) is not a failure's.
            if record.levelno < logging.INFO or record.name == "aiohttp.access":
                continue
            text = record.getMessage()
            assert record.exc_info is None, text
            assert "\n" not in text, text
            for bad in (*FORBIDDEN_IN_LOGS, *secrets):
                assert bad not in text, text


@pytest.fixture
async def lines() -> AsyncIterator[Lines]:
    handler = Lines()
    logger = logging.getLogger()  # every logger: the relay's, SQLAlchemy's, asyncpg's, aiohttp's
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@dataclass
class Running:
    api: Api
    app: Any
    smtp_port: int


@asynccontextmanager
async def relay(
    target: DbTarget, tmp_path: Path, clock: FakeClock, mail: dict[str, Any] | None = None
) -> AsyncIterator[Running]:
    config = replace(
        small_config(tmp_path),
        database_timeout=TIMEOUT,
        smtp_host="127.0.0.1",
        smtp_port=0,
        mail=load_mail_config({"domain": DOMAIN, **(mail or {})}, {}),
    )
    app = create_app(config, clock=clock, engine=target.make_engine())
    server = TestServer(app, port=0)
    await server.start_server()
    try:
        smtp = app[MAIL].smtp_address
        assert smtp is not None
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as http:
            yield Running(Api(http, str(server.make_url("")).rstrip("/"), clock), app, smtp[1])
    finally:
        await server.close()


def assert_unavailable(reply: Any) -> None:
    assert reply.status == 503, (reply.status, reply.body)
    assert reply.content_type == "application/problem+json"
    assert reply.body["status"] == 503 and "try again" in reply.body["detail"]
    assert int(reply.headers["Retry-After"]) > 0


class Smarthost:
    """An in-memory smarthost on a port chosen up front (down until started)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[bytes] = []
        self.arrived = threading.Event()
        self.controller: Controller | None = None

    async def handle_DATA(
        self, server: SMTPServer, session: Session, envelope: SmtpEnvelope
    ) -> str:
        self.messages.append(envelope.original_content or b"")
        self.arrived.set()
        return "250 2.0.0 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


# --- PostgreSQL frozen and stopped ------------------------------------------------------------


async def test_a_frozen_postgresql_is_answered_503_with_retry_after_within_the_timeout(
    private_pg: PrivatePostgres, pg_target: DbTarget, tmp_path: Path, lines: Lines
) -> None:
    clock = FakeClock()
    ic = Person.new("Ines", "ic")
    async with relay(pg_target, tmp_path, clock) as running:
        api = running.api
        await api.register(ic)
        thread = os.urandom(16)
        private_pg.freeze()
        try:
            created = await api.call(ic, "POST", "/v1/threads", {"thread": b64u_encode(thread)})
            assert_unavailable(created)
            health = await api.call(None, "GET", "/healthz")
            assert health.status == 503 and health.body["database"] != "ok"
            assert "Retry-After" in health.headers
        finally:
            private_pg.thaw()
        again = await api.call(ic, "POST", "/v1/threads", {"thread": b64u_encode(thread)})
        assert again.status == 201, again.body
        assert (await api.call(None, "GET", "/healthz")).status == 200
    lines.check_clean(thread.hex(), b64u_encode(thread))


async def test_a_stopped_postgresql_http_smtp_and_egress(
    private_pg: PrivatePostgres, pg_target: DbTarget, tmp_path: Path, lines: Lines
) -> None:
    clock = FakeClock()
    smarthost = Smarthost()  # down for now: the mail waits in the outbox
    mail = {
        "smarthost": f"127.0.0.1:{smarthost.port}",
        "smarthost_security": "none",
        "smarthost_timeout": 5,
        "poll_interval": 0.2,
        "retry_first": 1,
    }
    ic = person("Ines", "ic", "ines@example.test")
    ana = person("Ana", "performer", "ana@example.test")
    try:
        async with relay(pg_target, tmp_path, clock, mail) as running:
            api = running.api
            await api.register(ic, ana)
            thread = await open_thread(api, ic, ana)
            first = await post(api, ic, seal_to(ic, thread, [ana], None))
            second = seal_to(ic, thread, [ana], bytes.fromhex(first["hash"]))
            egress_failed = lines.event("Mail egress round failed")

            private_pg.stop()
            reply = await api.call(
                ic, "POST", f"/v1/threads/{b64u_encode(thread)}/envelopes", second.to_bytes()
            )
            assert_unavailable(reply)
            health = await api.call(None, "GET", "/healthz")
            assert health.status == 503 and health.body["status"] == "failing"
            assert_unavailable(await api.call(None, "GET", "/log/checkpoint"))
            over_smtp = await smtplib_async(
                running.smtp_port, [address(thread)], attached(second, address(thread))
            )
            assert over_smtp.code == 451 and "4.3." in over_smtp.text, over_smtp
            await asyncio.wait_for(egress_failed.wait(), 30)

            private_pg.start()
            smarthost.start()
            clock.advance(3600)  # past the mail's own retry time
            running.app[MAIL].wake()
            assert await asyncio.to_thread(smarthost.arrived.wait, 30)
            assert len(smarthost.messages) == 1 and b"ana@example.test" in smarthost.messages[0]
            # The database is back: what was refused is accepted now, and /healthz is 200.
            await post(api, ic, second)
            assert (await api.call(None, "GET", "/healthz")).status == 200
    finally:
        smarthost.stop()
    assert outage_delay(0.2, 1) < outage_delay(0.2, 3) <= 60
    lines.check_clean(thread.hex(), b64u_encode(thread), "ines@example.test")


# --- SQLite: a full disk ----------------------------------------------------------------------


async def test_a_full_sqlite_database_is_answered_503_and_loses_nothing(
    tmp_path: Path, lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = DbTarget("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
    engine = target.make_engine()
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    # Every connection opened from now on may not grow the file (SQLite keeps the limit at
    # the size the file has when it is set): the disk is full.
    pragmas = (*engine_module._SQLITE_PRAGMAS, "PRAGMA max_page_count=1")
    monkeypatch.setattr(engine_module, "_SQLITE_PRAGMAS", pragmas)
    clock = FakeClock()
    async with relay(target, tmp_path, clock) as running:
        api = running.api
        registered: list[Person] = []
        for n in range(300):
            somebody = Person.new(f"p{n}", "performer")
            reply = await api.call(somebody, "POST", "/v1/identities", somebody.bundle())
            if reply.status != 201:
                break
            registered.append(somebody)
        else:
            pytest.fail("the database never filled up")
        assert_unavailable(reply)
        health = await api.call(None, "GET", "/healthz")
        assert health.status == 503 and health.body["sequencer"] != "ok"
        # Everyone acknowledged is still there.
        for somebody in registered:
            # Lookups are signed (docs/api.md, "Identities"): each looks themselves up.
            found = await api.call(somebody, "GET", f"/v1/identities/{somebody.fingerprint}")
            assert found.status == 200
    lines.check_clean()


# --- the sequencer's idle checkpoints ---------------------------------------------------------


async def test_an_idle_sequencer_writes_checkpoints_and_health_fails_without_them(
    log_db: DbTarget, log_signer: Any
) -> None:
    engine = log_db.make_engine()
    now = [0.0]
    beats: asyncio.Queue[int] = asyncio.Queue()
    sequencer = await Sequencer.start(
        LogStore(engine),
        log_signer,
        heartbeat=0.01,
        monotonic=lambda: now[0],
        on_commit=beats.put_nowait,
    )
    try:
        assert await asyncio.wait_for(beats.get(), 10) == 0  # the empty tree, signed at start
        assert await asyncio.wait_for(beats.get(), 10) == 0  # idle: written again
        assert sequencer.health() is None
        now[0] += 0.03  # more than twice the interval since the last success
        assert sequencer.health() is not None
    finally:
        await sequencer.close()
        await engine.dispose()


# --- SQLite: a statement running past the timeout ---------------------------------------------


async def test_a_sqlite_statement_running_past_the_timeout_is_interrupted(tmp_path: Path) -> None:
    engine = engine_module.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'slow.db'}", timeout=0.2)
    endless = text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
        "SELECT count(*) FROM (SELECT i FROM n LIMIT 10000000000)"
    )
    try:
        async with engine.connect() as conn:
            with pytest.raises(OperationalError) as caught:
                await asyncio.wait_for(conn.execute(endless), 30)
            assert is_database_trouble(caught.value)
            assert "interrupted" in str(caught.value.orig)
            # The connection is usable again at once: the clock runs per statement.
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()
