"""What a stranger can send the relay, over real sockets on SQLite and PostgreSQL (issue 12).

Each test is one finding of the security review: hostile JSON and numbers, aiohttp's own
refusals, requests replayed to another relay or after a restart, connections and streams
hoarded, SMTP sessions trickled, the public log grown without an invite. Each asserts the
status (problem+json, or the SMTP reply) and that no table, the log's included, changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from keys import armor
from keys.encoding import b64u_encode
from keys.httpsig import authority_of
from relay.config import RateLimit
from relay.keyfile import load_or_create_log_key
from relay.logstate import record_path
from tests.mail.support import address, mail_relay, person, smtplib_async
from tests.relay.api_support import (
    Api,
    FakeClock,
    Person,
    Reply,
    open_thread,
    post,
    running_relay,
    seal_to,
    small_config,
    snapshot,
)
from tests.relay.conftest import DbTarget

DEEP = b"[" * 1000 + b"]" * 1000
HUGE = "9" * 5000


async def refused(db: DbTarget, status: int, attempt: Any) -> Reply:
    """Run ``attempt``: the status, a problem+json body, and not a row changed anywhere."""
    before = await snapshot(db)
    reply: Reply = await attempt
    assert reply.status == status, reply.body
    assert reply.content_type == "application/problem+json", reply.body
    assert reply.body["status"] == status and reply.body["detail"]
    assert await snapshot(db) == before
    return reply


@pytest.fixture
async def member(api: Api) -> tuple[Person, bytes]:
    ic = Person.new("Ines", "ic")
    await api.register(ic)
    thread = await open_thread(api, ic)
    await post(api, ic, seal_to(ic, thread, [], None))
    return ic, thread


# --- hostile input is a 4xx, never a 500 ------------------------------------------------------


async def test_deeply_nested_json_is_a_400_on_every_body(
    api: Api, log_db: DbTarget, member: tuple[Person, bytes]
) -> None:
    ic, thread = member
    t = b64u_encode(thread)
    for target in ("/v1/threads", f"/v1/threads/{t}/invites", f"/v1/threads/{t}/join"):
        reply = await refused(log_db, 400, api.call(ic, "POST", target, DEEP))
        assert "nests deeper" in reply.body["detail"]
    await refused(log_db, 400, api.call(ic, "POST", f"/v1/threads/{t}/envelopes", DEEP))
    await refused(log_db, 400, api.call(ic, "POST", "/v1/identities", DEEP))


async def test_huge_integers_are_a_400(
    api: Api, log_db: DbTarget, member: tuple[Person, bytes]
) -> None:
    ic, thread = member
    t = b64u_encode(thread)
    body = b'{"invite_id":"' + b64u_encode(bytes(32)).encode() + b'","expires_at":' + HUGE.encode()
    await refused(log_db, 400, api.call(ic, "POST", f"/v1/threads/{t}/invites", body + b"}"))
    big = f'{{"invite_id":"{b64u_encode(bytes(32))}","expires_at":{2**64}}}'.encode()
    await refused(log_db, 400, api.call(ic, "POST", f"/v1/threads/{t}/invites", big))
    for flavour in ("1.5e3", "true", '"1800000000"'):
        text = f'{{"invite_id":"{b64u_encode(bytes(32))}","expires_at":{flavour}}}'.encode()
        await refused(log_db, 400, api.call(ic, "POST", f"/v1/threads/{t}/invites", text))
    # The public, unauthenticated proof and tile routes too.
    for target in (
        f"/log/proof/inclusion?index={HUGE[:4000]}&size=1",
        f"/log/proof/consistency?from=1&to={HUGE[:4000]}",
        f"/log/proof/tlog/{HUGE[:4000]}",
    ):
        await refused(log_db, 400, api.call(None, "GET", target))


async def test_indices_past_2_63_are_a_400(
    api: Api, log_db: DbTarget, member: tuple[Person, bytes]
) -> None:
    ic, thread = member
    envelopes = f"/v1/threads/{b64u_encode(thread)}/envelopes"
    for value in (2**63, 2**63 + 1, 2**64 - 1):
        await refused(log_db, 400, api.call(ic, "GET", f"{envelopes}?after={value}"))
        await refused(log_db, 400, api.call(ic, "GET", f"{envelopes}?limit={value}"))
        await refused(log_db, 400, api.call(None, "GET", f"/log/proof/tlog/{value}"))
        await refused(
            log_db, 400, api.call(None, "GET", f"/log/proof/inclusion?index={value}&size={value}")
        )
        tile = _tile_path(value // 256)
        await refused(log_db, 400, api.call(None, "GET", f"/log/tile/0/{tile}"))
        await refused(log_db, 400, api.call(None, "GET", f"/log/tile/entries/{tile}"))
    deep_tile = "/".join(["x001"] * 2000) + "/000"
    await refused(log_db, 400, api.call(None, "GET", f"/log/tile/0/{deep_tile}"))


def _tile_path(index: int) -> str:
    path = f"{index % 1000:03d}"
    index //= 1000
    while index:
        path = f"x{index % 1000:03d}/{path}"
        index //= 1000
    return path


async def test_nested_json_over_smtp_is_a_permanent_refusal(
    log_db: DbTarget, tmp_path: Path
) -> None:
    async with mail_relay(log_db, tmp_path) as relay:
        ic, ana = person("Ines", "ic"), person("Ana", "performer")
        await relay.api.register(ic, ana)
        thread = await open_thread(relay.api, ic, ana)
        to = address(thread)
        for document in (DEEP, b'{"a":' * 2000 + b"1" + b"}" * 2000, b"[" + HUGE.encode() + b"]"):
            text = armor.armor(document, armor.ENVELOPE)
            message = (
                f"From: a@sender.test\r\nTo: {to}\r\nSubject: Closed Set\r\n\r\n{text}"
            ).encode()
            before = await snapshot(log_db)
            outcome = await smtplib_async(relay.smtp_port, [to], message)
            assert outcome.stage == "DATA" and 500 <= outcome.code < 600, outcome
            assert await snapshot(log_db) == before


# --- aiohttp's own refusals -------------------------------------------------------------------


async def _raw(api: Api, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection and read until the relay closes it."""
    host, port = api.base.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _problem(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, json.loads(body)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /v1/threads HTTP/1.1\r\nHost: x\r\nX-Evil<script>: y\r\n\r\n",
        b"G<script>T /v1/threads HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/threads HTTP/1.1\r\nHost: x\r\nX-Long: " + b"A<script>" * 2000 + b"\r\n\r\n",
        b"GET /<script> HTTP/9.9\r\n\r\n",
        b"\x16\x03\x01\x00\xa5<script>\r\n\r\n",
    ],
)
async def test_aiohttp_refusals_are_problems_that_echo_nothing(
    api: Api, log_db: DbTarget, request_bytes: bytes
) -> None:
    before = await snapshot(log_db)
    raw = await _raw(api, request_bytes)
    status, headers, body = _problem(raw)
    assert 400 <= status < 500
    assert headers["content-type"].startswith("application/problem+json")
    assert body["status"] == status and body["detail"]
    assert b"script" not in raw and b"Evil" not in raw
    assert await snapshot(log_db) == before


# --- requests are bound to one relay, and replays survive restarts ----------------------------


async def test_request_signed_for_another_relay_is_refused(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    ic = Person.new("Ines", "ic")
    share_log_key(tmp_path / "a", tmp_path / "b")
    async with (
        running_relay(log_db, tmp_path / "a", clock) as a,
        running_relay(log_db, tmp_path / "b", clock) as b,
    ):
        await a.register(ic)
        await open_thread(a, ic)
        # A captured GET /v1/threads from relay A, replayed to relay B (same database).
        reply = await a.call(ic, "GET", "/v1/threads")
        assert reply.status == 200 and reply.body["threads"]
        method, target, body, headers = a.sent[-1]
        replayed = await refused(log_db, 401, b.send(method, target, body, headers))
        assert "does not verify for this relay" in replayed.body["detail"]
        # And a captured stream upgrade.
        upgrade = a.sign(ic, "GET", "/v1/stream", b"")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
            await b.http.ws_connect(b.base + "/v1/stream", headers=upgrade)
        assert refusal.value.status == 401


async def test_replay_after_a_restart_is_refused(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    ic = Person.new("Ines", "ic")
    public = {"public_url": "https://relay.example.test"}
    async with running_relay(log_db, tmp_path, clock, config=public) as first:
        assert authority_of(first.signed_for) == "relay.example.test"
        await first.register(ic)
        reply = await first.call(ic, "POST", "/v1/threads", {"thread": b64u_encode(os.urandom(16))})
        assert reply.status == 201
        captured = first.sent[-1]
    async with running_relay(log_db, tmp_path, clock, config=public) as second:
        method, target, body, headers = captured
        nonces = await nonce_count(log_db)
        assert nonces >= 2  # the registration's and the thread's, committed before answering
        reply = await refused(log_db, 401, second.send(method, target, body, headers))
        assert "already received" in reply.body["detail"]
        # Nor does a refused signature (replayed, unsigned, for another relay) leave a row.
        await refused(log_db, 401, second.send(method, target, body, {}))
        assert await nonce_count(log_db) == nonces
        # A fresh signature from the same person still works after the restart.
        reply = await second.call(ic, "GET", "/v1/threads")
        assert reply.status == 200


async def nonce_count(db: DbTarget) -> int:
    from sqlalchemy import func, select

    from relay.db import RequestNonce

    engine = db.make_engine()
    try:
        async with engine.connect() as conn:
            count = await conn.execute(select(func.count()).select_from(RequestNonce))
            return int(count.scalar_one())
    finally:
        await engine.dispose()


# --- connections, streams and sessions are bounded --------------------------------------------


async def test_connections_per_address_are_capped(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    async with running_relay(log_db, tmp_path, clock, connections_per_address=3) as api:
        host, port = api.base.removeprefix("http://").rsplit(":", 1)
        held = [await asyncio.open_connection(host, int(port)) for _ in range(3)]
        try:
            before = await snapshot(log_db)
            status, headers, body = _problem(await _raw(api, b""))
            assert status == 429 and headers["retry-after"] == "1"
            assert "Too many open connections" in body["detail"]
            assert await snapshot(log_db) == before
        finally:
            for _, writer in held:
                writer.close()
        # Once they are closed, the address may connect again.
        for _, writer in held:
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        reply = await api.call(None, "GET", "/log/key")
        assert reply.status == 200


async def test_slow_headers_get_408(log_db: DbTarget, tmp_path: Path, clock: FakeClock) -> None:
    async with running_relay(log_db, tmp_path, clock, header_timeout=0.3) as api:
        before = await snapshot(log_db)
        # A slowloris: the head never ends. The relay answers 408 and closes.
        status, _, body = _problem(await _raw(api, b"GET /v1/threads HTTP/1.1\r\nHost: x\r\n"))
        assert status == 408 and "did not arrive in time" in body["detail"]
        assert await snapshot(log_db) == before


async def test_slow_body_gets_408(log_db: DbTarget, tmp_path: Path, clock: FakeClock) -> None:
    async with running_relay(log_db, tmp_path, clock, body_timeout=0.3) as api:
        before = await snapshot(log_db)
        head = b"POST /v1/threads HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
        status, _, body = _problem(await _raw(api, head))
        assert status == 408 and "did not arrive within" in body["detail"]
        assert await snapshot(log_db) == before


async def test_idle_and_kept_alive_connections_are_closed(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    async with running_relay(log_db, tmp_path, clock, keepalive_timeout=0.3) as api:
        # Idle from the start: closed without a word (nothing was asked).
        assert await _raw(api, b"") == b""
        # After one answered request, the kept-alive connection is closed too.
        raw = await _raw(api, b"GET /log/key HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 200") and raw.count(b"HTTP/1.1") == 1


async def test_streams_per_identity_and_address_are_capped(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    limits = {"streams_per_identity": 2, "streams_per_address": 3}
    async with running_relay(log_db, tmp_path, clock, **limits) as api:
        ana, ben = Person.new("Ana", "performer"), Person.new("Ben", "performer")
        await api.register(ana, ben)
        opened = []
        try:
            for who in (ana, ana, ben):
                opened.append(await api.stream(who))
            before = await snapshot(log_db)
            for who, why in ((ana, "identity"), (ben, "address")):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
                    await api.stream(who)
                assert refusal.value.status == 429, why
            assert await snapshot(log_db) == before
        finally:
            for ws in opened:
                await ws.close()
        # Closed streams free their places.
        ws = await api.stream(ana)
        await ws.close()


async def test_requests_in_progress_per_identity_are_capped(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    limits = {"requests_per_identity": 2, "streams_per_identity": 10}
    async with running_relay(log_db, tmp_path, clock, **limits) as api:
        ana, ben = Person.new("Ana", "performer"), Person.new("Ben", "performer")
        await api.register(ana, ben)
        streams = []
        try:
            for _ in range(2):  # an open stream is a request in progress
                streams.append(await api.stream(ana))
            reply = await refused(log_db, 429, api.call(ana, "GET", "/v1/threads"))
            assert "in progress" in reply.body["detail"]
            # Another identity from the same address is not held up.
            assert (await api.call(ben, "GET", "/v1/threads")).status == 200
        finally:
            for ws in streams:
                await ws.close()


async def _smtp_line(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readline(), 30)


async def test_smtp_sessions_per_address_are_capped(log_db: DbTarget, tmp_path: Path) -> None:
    async with mail_relay(log_db, tmp_path, smtp_sessions_per_address=2) as relay:
        held = [await asyncio.open_connection("127.0.0.1", relay.smtp_port) for _ in range(2)]
        try:
            for reader, _ in held:
                assert (await _smtp_line(reader)).startswith(b"220")
            before = await snapshot(log_db)
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.smtp_port)
            assert (await _smtp_line(reader)).startswith(b"421 4.7.0 Too many open sessions")
            assert await reader.read() == b""
            writer.close()
            assert await snapshot(log_db) == before
        finally:
            for _, w in held:
                w.close()


async def test_idle_and_endless_smtp_sessions_are_closed_with_421(
    log_db: DbTarget, tmp_path: Path
) -> None:
    async with mail_relay(log_db, tmp_path, smtp_idle_timeout=0.3) as relay:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.smtp_port)
        assert (await _smtp_line(reader)).startswith(b"220")
        writer.write(b"EHLO client.test\r\n")
        while not (await _smtp_line(reader)).startswith(b"250 "):
            pass
        assert (await _smtp_line(reader)).startswith(b"421 4.4.2 No command for too long")
        assert await reader.read() == b""
        writer.close()
    share_log_key(tmp_path, tmp_path / "2")
    async with mail_relay(
        log_db, tmp_path / "2", smtp_idle_timeout=60, smtp_session_timeout=0.5
    ) as relay:
        ic, ana = person("Ines", "ic"), person("Ana", "performer")
        await relay.api.register(ic, ana)
        thread = await open_thread(relay.api, ic, ana)
        before = await snapshot(log_db)
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.smtp_port)
        assert (await _smtp_line(reader)).startswith(b"220")
        # A session that keeps within the idle timeout (60 s here) still ends at its lifetime.
        writer.write(b"EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\n")
        writer.write(f"RCPT TO:<{address(thread)}>\r\nDATA\r\nSubject: x\r\n".encode())
        line = b""
        while not line.startswith(b"421"):
            line = await _smtp_line(reader)
            assert line, "the session was closed without a 421"
        assert line.startswith(b"421 4.4.2 This session has lasted too long"), line
        writer.close()
        assert await snapshot(log_db) == before


# --- the public log does not grow at a stranger's will ----------------------------------------


async def test_registration_is_rate_limited_and_capped_per_address(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    limits = {"identities_per_address_hour": 2}
    async with running_relay(log_db, tmp_path, clock, **limits) as api:
        first, second = Person.new("A", "performer"), Person.new("B", "performer")
        await api.register(first, second)
        third = Person.new("C", "performer")
        reply = await refused(
            log_db, 429, api.call(third, "POST", "/v1/identities", third.bundle())
        )
        assert "new identities" in reply.body["detail"] and int(reply.headers["Retry-After"]) > 0
        # An identity already registered may still send its bundle again (extensions).
        again = await api.call(first, "POST", "/v1/identities", first.bundle())
        assert again.status == 200
        # An hour later the address may register again.
        clock.advance(3601)
        await api.register(third)
    slow = {"registrations_per_identity": RateLimit(0.001, 2)}
    share_log_key(tmp_path, tmp_path / "2")
    async with running_relay(log_db, tmp_path / "2", clock, **slow) as api:
        someone = Person.new("D", "performer")
        await api.register(someone)
        await api.call(someone, "POST", "/v1/identities", someone.bundle())
        await refused(log_db, 429, api.call(someone, "POST", "/v1/identities", someone.bundle()))
    slow = {"registrations_per_address": RateLimit(0.001, 1)}
    share_log_key(tmp_path, tmp_path / "3")
    async with running_relay(log_db, tmp_path / "3", clock, **slow) as api:
        await api.register(Person.new("E", "performer"))
        other = Person.new("F", "performer")
        await refused(log_db, 429, api.call(other, "POST", "/v1/identities", other.bundle()))


# --- the relay's files ----------------------------------------------------------------------


async def test_every_file_the_relay_writes_is_0600(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    old = os.umask(0o022)
    try:
        async with running_relay(log_db, tmp_path, clock) as api:
            ic = Person.new("Ines", "ic")
            await api.register(ic)
            data_dir = tmp_path / "relay-data"
            files = [p for p in data_dir.rglob("*") if p.is_file()]
            assert files
            for path in files:
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            if log_db.backend == "sqlite":
                db = Path(log_db.url.split("///", 1)[1])
                for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                    if path.exists():
                        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        os.umask(old)


async def test_sqlite_database_made_by_the_relay_is_0600(tmp_path: Path) -> None:
    from relay.db.engine import create_engine

    old = os.umask(0o022)
    try:
        db = tmp_path / "fresh" / "relay.db"
        engine = create_engine(f"sqlite+aiosqlite:///{db}")
        try:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
                await conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        finally:
            await engine.dispose()
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            if path.exists():
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        os.umask(old)


async def test_replay_cache_sorts_a_batch_with_a_replay_in_it(log_db: DbTarget) -> None:
    from relay.http.replay import ReplayGuard

    engine = log_db.make_engine()
    try:
        key, now = os.urandom(32), 1_800_000_000.0
        seen, fresh = os.urandom(16), [os.urandom(16) for _ in range(5)]
        assert await ReplayGuard(engine).claim(key, seen, int(now) + 600, now)
        restarted = ReplayGuard(engine)  # a new process: nothing in its memory
        answers = await asyncio.gather(
            *(restarted.claim(key, n, int(now) + 600, now) for n in [*fresh[:2], seen, *fresh[2:]])
        )
        assert answers == [True, True, False, True, True, True]
        assert await nonce_count(log_db) == 6
    finally:
        await engine.dispose()


def share_log_key(first: Path, *others: Path) -> None:
    """Relays over one database share its log key and record (a relay with a key of its own
    refuses to start there: it would fork the log; relay.logstate)."""
    source = small_config(first)
    load_or_create_log_key(source.log_key_path, source.log_origin)
    for other in others:
        target = small_config(other)
        target.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for path in (source.log_key_path, record_path(source.log_key_path)):
            shutil.copy(path, target.data_dir / path.name)
