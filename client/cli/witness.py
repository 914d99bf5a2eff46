"""``closedset witness serve|key`` (a C2SP tlog-witness) and ``closedset log watch`` (a monitor).

Thin adapters: the checks live in ``client.witness`` and ``client.monitor``; here are only
arguments, the listening socket, output and exit codes (3 means a split view was caught).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import textwrap
from typing import Any

import aiohttp
from aiohttp import web

from client.cli.context import Context
from client.cli.registry import Command, add_command
from client.errors import UsageError
from client.monitor import HttpLogSource, Monitor, MonitorState, Observation, SplitViewError
from client.witness.core import Witness
from client.witness.http import create_witness_app
from client.witness.state import load_or_create_key, load_state, state_writer
from keys.errors import KeysError
from keys.note import NoteVerifier

DEFAULT_LISTEN = "127.0.0.1:7380"
DEFAULT_INTERVAL = 30.0
EXIT_SPLIT_VIEW = 3


# --- witness -----------------------------------------------------------------------------------


def parse_log_option(value: str) -> tuple[str, NoteVerifier]:
    """``ORIGIN=VERIFIER_KEY`` (or a bare key, whose name is the origin) -> (origin, key)."""
    origin, sep, key = value.partition("=")
    # A bare key string has '+' before any '=' (base64 padding comes last).
    if not sep or "+" in origin:
        origin, key = "", value
    try:
        verifier = NoteVerifier.from_key_string(key)
    except KeysError as exc:
        raise UsageError(f"--log {value!r} does not hold a log verifier key: {exc}") from exc
    if origin and origin != verifier.name:
        raise UsageError(
            f"--log names origin {origin!r} but the key is named {verifier.name!r}; a log's "
            "key is named after its origin."
        )
    return verifier.name, verifier


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen {value!r} must be HOST:PORT, such as {DEFAULT_LISTEN}.")
    return host, int(port)


def build_witness(ctx: Context, name: str | None, log_options: list[str]) -> Witness:
    logs: dict[str, list[NoteVerifier]] = {}
    for option in log_options:
        origin, verifier = parse_log_option(option)
        logs.setdefault(origin, []).append(verifier)
    signer, created = load_or_create_key(ctx.home, name)
    if created:
        ctx.note(f"Created the witness key {signer.name} in {ctx.home}.")
    return Witness(signer, logs, load_state(ctx.home), state_writer(ctx.home))


def serve_command(ctx: Context, args: argparse.Namespace) -> int:
    host, port = _listen(args.listen)
    witness = build_witness(ctx, args.name, args.log)
    asyncio.run(_serve(ctx, witness, host, port))
    return 0


async def _serve(ctx: Context, witness: Witness, host: str, port: int) -> None:
    runner = web.AppRunner(create_witness_app(witness, ctx.clock))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from exc
        key = witness.signer.verifier().key_string()
        ctx.emit(
            {
                "name": witness.signer.name,
                "key": key,
                "listen": f"{host}:{port}",
                "logs": sorted(witness.logs),
            },
            f"Witness {witness.signer.name} listening on http://{host}:{port}/add-checkpoint\n"
            f"cosignature key: {key}\n"
            f"logs: {', '.join(sorted(witness.logs))}",
        )
        ctx.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def key_command(ctx: Context, args: argparse.Namespace) -> int:
    signer, created = load_or_create_key(ctx.home, args.name)
    if created:
        ctx.note(f"Created the witness key {signer.name} in {ctx.home}.")
    key = signer.verifier().key_string()
    ctx.emit({"name": signer.name, "key": key}, key)
    return 0


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT", help=f"default {DEFAULT_LISTEN}"
    )
    parser.add_argument("--name", help="the witness's key name on first start (a schema-less URL)")
    parser.add_argument(
        "--log",
        action="append",
        required=True,
        metavar="ORIGIN=VERIFIER_KEY",
        help="a log to witness, by origin and note verifier key; repeat for more logs",
    )


def _key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="the witness's key name, if the key is created now")


# --- log watch ---------------------------------------------------------------------------------


def watch_command(ctx: Context, args: argparse.Namespace) -> int:
    if not args.interval > 0:
        raise UsageError("--interval must be a positive number of seconds.")
    return asyncio.run(_watch(ctx, args))


async def _watch(ctx: Context, args: argparse.Namespace) -> int:
    state = MonitorState.load(ctx.home)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        monitor = Monitor(
            args.relay,
            HttpLogSource(args.relay, session),
            state,
            log_key=args.log_key,
            clock=ctx.clock,
            note=ctx.note,
        )

        def report(observation: Observation) -> None:
            # A long watch only speaks when something changed; --once always answers.
            if args.once or observation.status != "unchanged":
                ctx.emit(observation.to_json(), observation.describe)
                ctx.stdout.flush()

        try:
            await monitor.watch(args.interval, report=report, sleep=asyncio.sleep, once=args.once)
        except SplitViewError as exc:
            _print_split_view(ctx, monitor.relay, exc)
            ctx.stderr.write(
                f"closedset: {exc} Both checkpoints are printed above and kept as evidence "
                f"in {state.path}.\n"
            )
            return EXIT_SPLIT_VIEW
    return 0


def _print_split_view(ctx: Context, relay: str, exc: SplitViewError) -> None:
    data: dict[str, Any] = {
        "status": "split-view",
        "reason": str(exc),
        "kept": {"from": exc.kept_from, "checkpoint": exc.kept},
        "conflicting": {"from": relay, "checkpoint": exc.conflicting},
    }
    ctx.emit(
        data,
        f"{exc}\n"
        f"--- checkpoint kept before (from {exc.kept_from}) ---\n{exc.kept}"
        f"--- conflicting checkpoint (from {relay}) ---\n{exc.conflicting}",
    )


def _watch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = f"{parser.description}\n\n" + textwrap.fill(
        "Exit status: 0 when every checkpoint was consistent, 1 when the log could not be "
        "checked, 2 for a usage mistake, 3 when a split view was caught (a rollback, two roots "
        "for one size, or a failed consistency proof); then both conflicting checkpoints are "
        "printed.",
        width=78,
    )
    parser.add_argument("relay", metavar="RELAY_URL", help="the relay's base URL")
    parser.add_argument(
        "--log-key", help="the log's note verifier key (default: pinned on first contact)"
    )
    parser.add_argument("--once", action="store_true", help="check once and exit")
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"seconds between checks (default {DEFAULT_INTERVAL:g})",
    )


add_command(
    Command(
        ("witness", "serve"),
        serve_command,
        "Run a C2SP tlog-witness that cosigns checkpoints of the given logs.",
        "closedset witness serve --listen 127.0.0.1:7380 "
        "--log relay.example/log=relay.example/log+1a2b3c4d+AQ...",
        _serve_arguments,
    )
)
add_command(
    Command(
        ("witness", "key"),
        key_command,
        "Print the witness's cosignature verifier key (created if missing).",
        "closedset witness key",
        _key_arguments,
    )
)
add_command(
    Command(
        ("log", "watch"),
        watch_command,
        "Follow a relay's log and catch a split view (exit 3).",
        "closedset log watch https://relay.example --once",
        _watch_arguments,
    )
)
