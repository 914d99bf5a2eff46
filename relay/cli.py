"""``closedset relay ...`` commands, handed to the client's CLI as plain tuples.

The relay never imports ``client``: the CLI finds this module through the
``closedset.commands`` entry point and calls :func:`commands`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs

CommandSpec = tuple[
    tuple[str, ...],
    Callable[[argparse.Namespace], int],
    str,
    str,
    Callable[[argparse.ArgumentParser], Any] | None,
]

CONFIG_ENV = "CLOSEDSET_RELAY_CONFIG"


def default_data_dir() -> Path:
    return platformdirs.user_data_path("closedset-relay", appauthor=False)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help=f"TOML configuration (or ${CONFIG_ENV})")
    parser.add_argument("--data-dir", metavar="DIR", help="keys and the SQLite database")
    parser.add_argument("--db", metavar="URL", help="sqlite+aiosqlite:// or postgresql+asyncpg://")


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--http", metavar="HOST:PORT", help="HTTP listener (127.0.0.1:8440)")
    parser.add_argument("--smtp", metavar="HOST:PORT", help="SMTP listener (off unless set)")


def _load(args: argparse.Namespace) -> Any:
    from relay.config import load_config

    path = getattr(args, "config", None) or os.environ.get(CONFIG_ENV)
    text = Path(path).read_text("utf-8") if path else None
    overrides = {
        "data_dir": getattr(args, "data_dir", None),
        "database_url": getattr(args, "db", None),
        "http": getattr(args, "http", None),
        "smtp": getattr(args, "smtp", None),
    }
    return load_config(text, os.environ, overrides, default_data_dir=default_data_dir())


def _fail(message: str) -> int:
    print(f"closedset relay: {message}", file=sys.stderr)
    return 1


def serve(args: argparse.Namespace) -> int:
    """Run the relay until SIGINT or SIGTERM; the round in flight is finished first."""
    from relay.config import ConfigError
    from relay.keyfile import LogKeyError
    from relay.logstate import StartupError

    try:
        config = _load(args)
        return asyncio.run(_serve(config))
    except (ConfigError, LogKeyError, StartupError, OSError) as exc:
        return _fail(str(exc))


async def _serve(config: Any) -> int:
    from aiohttp import web

    from relay.app import LOG_KEY, LOG_SIGNER, create_app
    from relay.http.server import RelayRunner
    from relay.mail.runtime import MAIL

    app = create_app(config)
    created = not app[LOG_KEY].existed
    signer = app[LOG_SIGNER]
    runner = RelayRunner(app, limits=config.limits, handle_signals=False)
    try:
        await runner.setup()
    except BaseException:
        await runner.cleanup()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(runner, config.http_host, config.http_port)
        await site.start()
        # With port 0 the operating system picks the port; say which one it is.
        host, port = runner.addresses[0][:2]
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        print(("created" if created else "loaded") + f" log key in {config.data_dir}")
        print(f"log verifier key: {signer.verifier().key_string()}")
        base = f"http://{address}" if config.public_url.endswith(":0") else config.public_url
        print(f"log: {base}/log/checkpoint  api: {base}/openapi.json")
        smtp = app[MAIL].smtp_address
        if smtp is not None:
            print(f"smtp: listening on {smtp[0]}:{smtp[1]} for {config.mail.domain}")
        print(f"listening on http://{address}", flush=True)
        await stop.wait()
        print("shutting down: finishing the log round in flight", flush=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
    return 0


def migrate(args: argparse.Namespace) -> int:
    """Apply every pending Alembic migration to the database, then stop."""
    from relay.config import ConfigError
    from relay.db.engine import create_engine
    from relay.logstate import StartupError, database_failure, migrate_or_explain
    from relay.migrations import current_revision
    from relay.migrations import migrate as run_migrations

    try:
        config = _load(args)
    except (ConfigError, OSError) as exc:
        return _fail(str(exc))
    if config.database_url.startswith("sqlite"):
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def run() -> str | None:
        engine = create_engine(config.database_url, timeout=config.database_timeout)
        try:
            before = await current_revision(engine)
            await migrate_or_explain(engine, config.database_url, before, run_migrations)
            return await current_revision(engine)
        except StartupError:
            raise
        except Exception as exc:
            raise database_failure(exc, config.database_url) from exc
        finally:
            await engine.dispose()

    try:
        revision = asyncio.run(run())
    except StartupError as exc:
        return _fail(str(exc))
    print(f"database is at revision {revision}")
    return 0


def init(args: argparse.Namespace) -> int:
    """Create a new log: its key and record in the data directory, its tables in the database."""
    from relay.config import ConfigError
    from relay.logstate import StartupError

    try:
        config = _load(args)
        verifier_key = asyncio.run(_init(config))
    except (ConfigError, StartupError, OSError) as exc:
        return _fail(str(exc))
    print(f"created a new log {config.log_origin} in {config.data_dir}")
    print(f"log verifier key: {verifier_key}")
    print("back up the data directory's log-signing.key and log-signed-size with the database")
    return 0


async def _init(config: Any) -> str:
    from relay.db.engine import create_engine
    from relay.logstate import (
        KeyOnDisk,
        StartupError,
        establish,
        inspect_state,
        load_key,
        read_record,
        record_path,
        safe_url,
    )
    from relay.migrations import migrate as run_migrations

    record = read_record(record_path(config.log_key_path))
    # A record saying nothing was signed, and no key: an init or first start that stopped.
    unfinished = record is not None and record.size is None
    if config.log_key_path.exists() or (record is not None and not unfinished):
        raise StartupError(
            f"{config.data_dir} already holds a log key or its record; `closedset relay init` "
            "creates a new log only where there is none (use another --data-dir)."
        )
    if config.database_url.startswith("sqlite"):
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = load_key(config.log_key_path, config.log_origin)
    engine = create_engine(config.database_url, timeout=config.database_timeout)
    try:
        state = await inspect_state(engine, config.database_url, key, config.log_key_path)
        if state.action == "serve":  # decide() raised already if the database holds a log
            raise StartupError("The data directory already holds a log.")
        await run_migrations(engine)
        state = await inspect_state(engine, config.database_url, key, config.log_key_path)
        if state.latest is not None:
            raise StartupError(
                f"The database at {safe_url(config.database_url)} already holds a log; "
                "`closedset relay init` needs an empty one."
            )
        establish(
            KeyOnDisk(key.signer, existed=False), config.log_key_path, replace_record=unfinished
        )
    finally:
        await engine.dispose()
    return key.signer.verifier().key_string()


def check(args: argparse.Namespace) -> int:
    """Run every start-up check (configuration, database, migrations, key, record), serving
    nothing and changing nothing."""
    from relay.config import ConfigError
    from relay.logstate import StartupError

    try:
        config = _load(args)
        lines = asyncio.run(_check(config))
    except (ConfigError, StartupError, OSError) as exc:
        return _fail(str(exc))
    for line in lines:
        print(line)
    return 0


async def _check(config: Any) -> list[str]:
    from sqlalchemy.engine import make_url

    from relay.db.engine import create_engine
    from relay.logstate import inspect_state, load_key, safe_url

    key = load_key(config.log_key_path, config.log_origin)
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        # No database file: nothing to open (opening one would create it).
        state = await inspect_state(None, config.database_url, key, config.log_key_path)
    else:
        engine = create_engine(config.database_url, timeout=config.database_timeout)
        try:
            state = await inspect_state(engine, config.database_url, key, config.log_key_path)
        finally:
            await engine.dispose()
    lines = [f"database: {safe_url(config.database_url)} at revision {state.revision or '(none)'}"]
    if state.revision != state.head:
        lines.append(f"migrations: serve will upgrade the database to {state.head}")
    if state.action != "serve":
        lines.append(
            f"log: none yet; serve would create a new log {config.log_origin} in "
            f"{config.data_dir} (or run `closedset relay init`)"
        )
    else:
        size = "nothing signed yet" if state.latest is None else f"size {state.latest.size}"
        lines.append(f"log: {config.log_origin}, {size}, signed by {config.log_key_path}")
        lines.append(f"log verifier key: {key.signer.verifier().key_string()}")
    lines.append("ok: the relay can start")
    return lines


def commands() -> list[CommandSpec]:
    """The relay's commands (the mail ones live beside the mail code)."""
    from relay.mail.cli import commands as mail_commands

    return [
        *mail_commands(),
        (
            ("relay", "serve"),
            serve,
            "Run the relay: HTTP API and audit log (SQLite in its data directory by default).",
            "closedset relay serve --data-dir /var/lib/closedset --http 127.0.0.1:8440",
            _serve_arguments,
        ),
        (
            ("relay", "init"),
            init,
            "Create a new log: its signing key beside an empty database (docs/operating.md).",
            "closedset relay init --data-dir /var/lib/closedset",
            _common,
        ),
        (
            ("relay", "check"),
            check,
            "Run every start-up check (database, migrations, log key, record) and stop.",
            "closedset relay check --data-dir /var/lib/closedset",
            _common,
        ),
        (
            ("relay", "migrate"),
            migrate,
            "Apply the relay's database migrations and stop.",
            "closedset relay migrate --db postgresql+asyncpg://relay@db/closedset",
            _common,
        ),
    ]
