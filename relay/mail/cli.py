"""``closedset relay mail status``: what the outbox holds, for the relay's operator.

Lists queued and failed deliveries (address, Message-ID, attempts, the smarthost's last
answer) and counts every status; never an envelope or a message. ``--json`` for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from relay.db.mail_models import FAILED, QUEUED, SENT


def _arguments(parser: argparse.ArgumentParser) -> None:
    from relay.cli import _common

    _common(parser)
    parser.add_argument("--all", action="store_true", help="list sent mail too")
    parser.add_argument("--json", action="store_true", help="print the outbox as JSON")


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def status(args: argparse.Namespace) -> int:
    from relay.cli import _fail, _load
    from relay.config import ConfigError
    from relay.db.engine import create_engine, session_factory
    from relay.mail.outbox import list_outbox

    try:
        config = _load(args)
    except (ConfigError, OSError) as exc:
        return _fail(str(exc))
    wanted = (QUEUED, FAILED, SENT) if args.all else (QUEUED, FAILED)

    async def read() -> tuple[list[Any], dict[str, int]]:
        engine = create_engine(config.database_url)
        try:
            return await list_outbox(session_factory(engine), wanted)
        finally:
            await engine.dispose()

    try:
        entries, counts = asyncio.run(read())
    except Exception as exc:  # no database, or one never migrated: the operator's to fix
        return _fail(f"reading the mail outbox at {config.database_url} failed: {exc}")
    if args.json:
        print(json.dumps({"counts": counts, "mail": [asdict(e) for e in entries]}, indent=2))
        return 0
    print(", ".join(f"{count} {name}" for name, count in counts.items()))
    for e in entries:
        when = _time(e.finished_ms) if e.status != QUEUED else "next " + _time(e.next_attempt_ms)
        print(f"#{e.id} {e.status:<6} {e.address} {e.message_id} attempts={e.attempts} {when}")
        if e.last_error:
            print(f"    {e.last_error}")
    return 0


def commands() -> list[Any]:
    return [
        (
            ("relay", "mail", "status"),
            status,
            "List the mail outbox: queued and failed deliveries, and a count of each status.",
            "closedset relay mail status --data-dir /var/lib/closedset --json",
            _arguments,
        ),
    ]
