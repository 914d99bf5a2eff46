"""``closedset app``: start the local web app for this profile and open it in the browser."""

from __future__ import annotations

import argparse
import asyncio
import socket
import webbrowser
from pathlib import Path

from aiohttp import web

from client.cli.context import PASSPHRASE_ENV, Context
from client.cli.registry import Command, add_command
from client.errors import UsageError

READY = "Open Closed Set at "


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"Port {port} on 127.0.0.1 is taken ({exc.strerror}); choose another --port."
        ) from exc
    sock.listen(128)
    return sock


def app_command(ctx: Context, args: argparse.Namespace) -> int:
    from client.app.server import make_app

    passphrase = None
    if ctx.passphrase_file or ctx.environ.get(PASSPHRASE_ENV):
        passphrase = ctx.passphrase()  # unlocks at start only, never again after a lock
    sock = _bind(args.port)
    port = sock.getsockname()[1]
    app = make_app(ctx.home, port, clock=ctx.clock, passphrase=passphrase)
    from client.app.common import GATE

    url = app[GATE].launch_url()

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None, handle_signals=True)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        ctx.stdout.write(f"{READY}{url}\n")
        ctx.stdout.write("The address works once, in one browser. Press Ctrl+C to stop the app.\n")
        ctx.stdout.flush()
        if not args.no_browser:
            webbrowser.open(url)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(serve())
    except (KeyboardInterrupt, asyncio.CancelledError):
        ctx.stderr.write("The app stopped; your keys are locked.\n")
    return 0


def serve_many(ctx: Context, people: list[tuple[str, Path]], passphrase: bytes) -> None:
    """One app per profile, each on its own free port, in this process; prints each address
    and serves until Ctrl+C (``closedset demo --app``)."""
    from client.app.common import GATE
    from client.app.server import make_app

    async def serve() -> None:
        runners = []
        for name, home in people:
            sock = _bind(0)
            app = make_app(home, sock.getsockname()[1], clock=ctx.clock, passphrase=passphrase)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.SockSite(runner, sock).start()
            runners.append(runner)
            ctx.stdout.write(f"  {name}: {app[GATE].launch_url()}\n")
        ctx.stdout.write(
            "Each address opens that person's app once, in one browser; use a private window "
            "per person.\nPress Ctrl+C to stop.\n"
        )
        ctx.stdout.flush()
        try:
            await asyncio.Event().wait()
        finally:
            for runner in runners:
                await runner.cleanup()

    try:
        asyncio.run(serve())
    except (KeyboardInterrupt, asyncio.CancelledError):
        ctx.stderr.write("The apps stopped.\n")


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument(
        "--no-browser", action="store_true", help="only print the address; do not open a browser"
    )


add_command(
    Command(
        ("app",),
        app_command,
        "Start the Closed Set app in your web browser (on this computer only).",
        "closedset app    (or: closedset app --no-browser --port 8450)",
        _args,
        locks_profile=False,
    )
)
