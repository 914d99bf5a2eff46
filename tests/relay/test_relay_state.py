"""The relay never forks its own log: key, database and signed-size record must belong together.

Each case is what an operator can do by accident (remove the key, lose the database, point
``--db`` at an empty one, put back another key or an older copy of the database): the relay
refuses to start with one sentence that says what to restore, and changes nothing, neither
in the database nor in the data directory. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from keys.checkpoint import Checkpoint, sign_checkpoint
from keys.note import NoteSigner
from relay.log.store import StoredCheckpoint
from relay.logstate import (
    RECORD_NAME,
    KeyOnDisk,
    SignedRecord,
    StartupError,
    decide,
    read_record,
)
from relay.migrations import migrate
from tests.relay.api_support import Person, running_relay, snapshot
from tests.relay.conftest import DbTarget, _asyncpg_dsn, _pg_admin, pg_url

CLOSEDSET = Path(sys.executable).with_name("closedset")


def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "relay-data"  # where running_relay keeps the key


async def grow_log(target: DbTarget, tmp_path: Path, clock: Any, people: int = 2) -> int:
    """Run the relay and register people (each a few log entries); the log's size."""
    async with running_relay(target, tmp_path, clock) as api:
        await api.register(*(Person.new(f"p{n}", "performer") for n in range(people)))
        reply = await api.call(None, "GET", "/healthz")
        assert reply.status == 200, reply.body
        return int(reply.body["tree_size"])


async def stored(target: DbTarget) -> object:
    """The rows of every table, or what stands for "no database" on each backend."""
    if target.backend == "sqlite":
        path = Path(target.url.split("///", 1)[1])
        if not path.exists():
            return "no database"
        # The engine factory makes a 0600 file before SQLite opens it, and a refused start
        # may have opened it: a file with no table in it is still no database.
        conn = sqlite3.connect(path)
        try:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            conn.close()
        if tables == 0:
            return "no database"
    else:
        conn = await asyncpg.connect(_asyncpg_dsn(target.url))
        try:
            count = await conn.fetchval(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
                target.schema or "public",
            )
        finally:
            await conn.close()
        if count == 0:
            return "no tables"
    return await snapshot(target)


async def empty_pg_target() -> DbTarget:
    """A PostgreSQL schema with nothing in it: --db pointing at an empty database."""
    schema = f"cs_test_{uuid.uuid4().hex[:16]}"
    await _pg_admin(pg_url(), f'CREATE SCHEMA "{schema}"')
    options = {"connect_args": {"server_settings": {"search_path": schema}}}
    return DbTarget("postgresql", pg_url(), options, schema)


async def refused(target: DbTarget, tmp_path: Path, clock: Any) -> str:
    before = sorted(p.name for p in data_dir(tmp_path).iterdir())
    rows = await stored(target)
    with pytest.raises(StartupError) as caught:
        async with running_relay(target, tmp_path, clock):
            pass
    message = str(caught.value)
    assert "\n" not in message and message.endswith(".")
    # Nothing was created or changed: no new key, no new record, no row.
    assert sorted(p.name for p in data_dir(tmp_path).iterdir()) == before
    assert await stored(target) == rows
    return message


def run_check(tmp_path: Path, target: DbTarget) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDSET_")}
    where = ["--data-dir", str(data_dir(tmp_path)), "--db", target.url]
    return subprocess.run(
        [str(CLOSEDSET), "relay", "check", *where],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def test_a_removed_key_is_refused_not_replaced(
    log_db: DbTarget, tmp_path: Path, clock: Any
) -> None:
    size = await grow_log(log_db, tmp_path, clock)
    assert size > 0
    (data_dir(tmp_path) / "log-signing.key").unlink()
    message = await refused(log_db, tmp_path, clock)
    assert "log-signing.key is missing" in message and f"size {size}" in message
    assert "restore log-signing.key" in message
    assert not (data_dir(tmp_path) / "log-signing.key").exists()


@pytest.mark.parametrize("how", ["removed", "empty"])
async def test_a_removed_or_empty_database_next_to_a_used_key_is_refused(
    log_db: DbTarget, tmp_path: Path, clock: Any, how: str
) -> None:
    await grow_log(log_db, tmp_path, clock)
    empty = log_db
    if log_db.backend == "sqlite":
        # The database file is gone (the refused start makes at most an empty file, which the
        # engine factory creates 0600 before SQLite opens it), or another, empty (migrated) one
        # is in its place.
        database = Path(log_db.url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        if how == "empty":
            await migrated(log_db)
    elif how == "removed":
        # The database dropped and created again: nothing in it, not even tables.
        await _pg_admin(pg_url(), f'DROP SCHEMA "{log_db.schema}" CASCADE')
        await _pg_admin(pg_url(), f'CREATE SCHEMA "{log_db.schema}"')
    else:
        # --db pointing at another, empty (migrated) PostgreSQL database.
        empty = await empty_pg_target()
        await migrated(empty)
    try:
        message = await refused(empty, tmp_path, clock)
        assert "holds no log" in message and "has signed checkpoints before" in message
        assert "restore the database" in message
    finally:
        if empty is not log_db:
            await _pg_admin(pg_url(), f'DROP SCHEMA "{empty.schema}" CASCADE')


async def migrated(target: DbTarget) -> None:
    engine = target.make_engine()
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def test_a_key_that_did_not_sign_the_log_is_refused(
    log_db: DbTarget, tmp_path: Path, clock: Any
) -> None:
    await grow_log(log_db, tmp_path, clock)
    key_file = data_dir(tmp_path) / "log-signing.key"
    origin = NoteSigner.from_key_string(key_file.read_text().strip()).name
    key_file.write_text(NoteSigner.generate(origin).key_string() + "\n")
    (data_dir(tmp_path) / RECORD_NAME).unlink()  # even without the record to give it away
    message = await refused(log_db, tmp_path, clock)
    assert "was not signed by the log key" in message


async def test_an_older_copy_of_the_database_is_refused_by_the_record(
    tmp_path: Path, clock: Any
) -> None:
    target = DbTarget("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
    database = Path(target.url.split("///", 1)[1])
    first = await grow_log(target, tmp_path, clock, people=1)
    shutil.copy(database, tmp_path / "backup.db")  # the relay is stopped: the file is whole
    second = await grow_log(target, tmp_path, clock, people=2)
    assert second > first
    record = read_record(data_dir(tmp_path) / RECORD_NAME)
    assert record is not None and record.size == second
    shutil.copy(tmp_path / "backup.db", database)
    message = await refused(target, tmp_path, clock)
    assert f"ends at size {first}" in message and f"signed size {second}" in message


async def test_a_first_start_creates_the_log_and_a_restart_continues_it(
    log_db: DbTarget, tmp_path: Path, clock: Any
) -> None:
    first = await grow_log(log_db, tmp_path, clock)
    record = read_record(data_dir(tmp_path) / RECORD_NAME)
    assert record is not None and record.size == first
    assert await grow_log(log_db, tmp_path, clock) > first


async def test_a_log_from_before_the_record_gets_one(
    log_db: DbTarget, tmp_path: Path, clock: Any
) -> None:
    size = await grow_log(log_db, tmp_path, clock)
    (data_dir(tmp_path) / RECORD_NAME).unlink()
    async with running_relay(log_db, tmp_path, clock):
        pass  # started and stopped: nothing new signed
    record = read_record(data_dir(tmp_path) / RECORD_NAME)
    assert record is not None and record.size == size


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def whole_db(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A database a URL alone names (a subprocess cannot be given a schema): a SQLite file, or
    a PostgreSQL database of its own on the shared server, dropped afterwards."""
    if request.param == "sqlite":
        yield DbTarget("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
        return
    name = f"cs_check_{uuid.uuid4().hex[:16]}"
    await _pg_admin(pg_url(), f'CREATE DATABASE "{name}"')
    url = make_url(pg_url()).set(database=name).render_as_string(hide_password=False)
    try:
        yield DbTarget("postgresql", url)
    finally:
        await _pg_admin(pg_url(), f'DROP DATABASE "{name}" WITH (FORCE)')


async def test_relay_check_runs_the_checks_without_serving(
    whole_db: DbTarget, tmp_path: Path, clock: Any
) -> None:
    log_db = whole_db
    size = await grow_log(log_db, tmp_path, clock)
    good = run_check(tmp_path, log_db)
    assert good.returncode == 0, good.stderr
    assert f"size {size}" in good.stdout and "ok: the relay can start" in good.stdout
    (data_dir(tmp_path) / "log-signing.key").unlink()
    rows = await snapshot(log_db)
    bad = run_check(tmp_path, log_db)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert "log-signing.key is missing" in bad.stderr
    assert not (data_dir(tmp_path) / "log-signing.key").exists()
    assert await snapshot(log_db) == rows


def test_init_then_serve_then_init_again_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDSET_")}
    base = [str(CLOSEDSET), "relay"]
    where = ["--data-dir", str(tmp_path / "d")]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *args, *where], capture_output=True, text=True, env=env, timeout=60
        )

    fresh = run("check")
    assert fresh.returncode == 0 and "serve would create a new log" in fresh.stdout
    assert not (tmp_path / "d").exists()  # check created nothing
    made = run("init")
    assert made.returncode == 0, made.stderr
    assert "log verifier key: " in made.stdout
    record = read_record(tmp_path / "d" / RECORD_NAME)
    assert record is not None and record.size is None
    again = run("init")
    assert again.returncode == 1 and "already holds a log key" in again.stderr
    checked = run("check")
    assert checked.returncode == 0 and "nothing signed yet" in checked.stdout


# --- start-up failures: one sentence naming what failed ---------------------------------------


def serve_once(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDSET_")}
    command = [str(CLOSEDSET), "relay", "serve", "--data-dir", str(data_dir(tmp_path))]
    return subprocess.run(
        [*command, "--http", "127.0.0.1:0", *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_an_unreachable_postgresql_at_start_is_one_sentence_without_the_password(
    tmp_path: Path,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    url = f"postgresql+asyncpg://relay:s3cret@127.0.0.1:{port}/closedset"
    message = one_sentence(serve_once(tmp_path, "--db", url))
    assert "s3cret" not in message
    assert f"postgresql+asyncpg://relay:***@127.0.0.1:{port}/closedset" in message
    assert "cannot be reached" in message


def test_a_damaged_sqlite_file_at_start_is_one_sentence(tmp_path: Path) -> None:
    data_dir(tmp_path).mkdir(mode=0o700)
    (data_dir(tmp_path) / "relay.db").write_bytes(b"this is not a database" * 100)
    message = one_sentence(serve_once(tmp_path))
    assert "relay.db" in message


async def test_a_deleted_log_row_at_start_is_one_sentence(tmp_path: Path, clock: Any) -> None:
    target = DbTarget("sqlite", f"sqlite+aiosqlite:///{data_dir(tmp_path) / 'relay.db'}")
    await grow_log(target, tmp_path, clock)
    conn = sqlite3.connect(data_dir(tmp_path) / "relay.db")
    with conn:
        conn.execute("DELETE FROM log_entries WHERE idx = (SELECT max(idx) FROM log_entries)")
    conn.close()
    message = one_sentence(await asyncio.to_thread(serve_once, tmp_path))
    assert "is damaged" in message and "restore the database" in message


def test_a_migration_that_cannot_apply_is_one_sentence_naming_it(tmp_path: Path) -> None:
    # What a crash during a first start left on main before migrations were transactional:
    # tables but no alembic_version row.
    data_dir(tmp_path).mkdir(mode=0o700)
    conn = sqlite3.connect(data_dir(tmp_path) / "relay.db")
    conn.execute("CREATE TABLE log_entries (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL)")
    conn.commit()
    conn.close()
    message = one_sentence(serve_once(tmp_path))
    assert "Migrating the database at sqlite+aiosqlite:///" in message
    assert "from revision (none) to" in message and "log_entries already exists" in message


# --- the decision itself, case by case (pure: no database) ------------------------------------


def _checkpoint(signer: NoteSigner, size: int) -> StoredCheckpoint:
    root = bytes(32)
    return StoredCheckpoint(
        size, root, sign_checkpoint(Checkpoint(signer.name, size, root), signer)
    )


@pytest.mark.parametrize(
    ("key_existed", "record", "latest", "outcome"),
    [
        (False, None, None, "create"),  # a first start
        (False, None, 5, "key is missing"),
        (False, "none", None, "create again"),  # a first start stopped before its key
        (False, 0, None, "shows this machine signed"),  # the key alone was lost
        (True, "none", None, "serve"),  # made by init, not used yet
        (True, None, None, "no record that it never signed"),
        (True, 0, None, "has signed checkpoints before"),
        (True, None, 5, "serve"),  # a log from before the record
        (True, 5, 5, "serve"),
        (True, 3, 5, "serve"),  # the record lags (a crash before it was written)
        (True, 7, 5, "ends at size 5"),  # an older copy of the database
        (True, "other", 5, "belongs to another log key"),
        (True, None, "foreign", "was not signed by the log key"),
    ],
)
def test_decide(key_existed: bool, record: Any, latest: Any, outcome: str) -> None:
    signer = NoteSigner.generate("relay.example/log")
    other = NoteSigner.generate("relay.example/log")
    key = KeyOnDisk(signer, key_existed)
    mine = signer.verifier().key_string()
    records = {
        None: None,
        "none": SignedRecord(mine, None),
        "other": SignedRecord(other.verifier().key_string(), 5),
    }
    stored = records[record] if record in records else SignedRecord(mine, record)
    if latest == "foreign":
        checkpoint = _checkpoint(other, 5)
    else:
        checkpoint = None if latest is None else _checkpoint(signer, latest)
    url = "postgresql+asyncpg://relay:pw@db/closedset"
    if outcome in ("create", "create again", "serve"):
        assert decide(key, Path("/d/log-signing.key"), stored, checkpoint, url) == outcome
    else:
        with pytest.raises(StartupError) as caught:
            decide(key, Path("/d/log-signing.key"), stored, checkpoint, url)
        assert outcome in str(caught.value) and "pw" not in str(caught.value)


async def test_a_first_start_stopped_between_record_and_key_starts_again(
    log_db: DbTarget, tmp_path: Path, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import relay.logstate as logstate

    real = logstate.write_private_file
    calls = []

    def crash_at_the_key(path: Path, data: bytes, *, exclusive: bool = False) -> None:
        calls.append(path.name)
        if path.name == "log-signing.key":
            raise KeyboardInterrupt  # the process stops here
        real(path, data, exclusive=exclusive)

    monkeypatch.setattr(logstate, "write_private_file", crash_at_the_key)
    with pytest.raises(KeyboardInterrupt):
        async with running_relay(log_db, tmp_path, clock):
            pass
    monkeypatch.setattr(logstate, "write_private_file", real)
    assert calls == [RECORD_NAME, "log-signing.key"]
    assert not (data_dir(tmp_path) / "log-signing.key").exists()
    assert await grow_log(log_db, tmp_path, clock) > 0
