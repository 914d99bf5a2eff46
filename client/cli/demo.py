"""``closedset demo``: the whole negotiation, told step by step by three people running the real
commands against a real relay (started here, in a child process, unless ``--relay`` is given).
Every step is checked; the demo exits 0 only if every check held. The story is in client/demo/.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from client.cli.context import Context
from client.cli.registry import Command, add_command
from client.demo.relay_process import embedded_relay
from client.demo.scenario import cast_of, tell
from client.demo.story import Story


def demo_command(ctx: Context, args: argparse.Namespace) -> int:
    started = time.monotonic()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="closedset-demo-")))
        if args.relay:
            relay = args.relay.rstrip("/")
            where = f"the relay at {relay}"
        else:
            relay = stack.enter_context(embedded_relay(tmp / "relay"))
            where = f"a relay started for the demo at {relay} (SQLite in {tmp / 'relay'})"
        if not ctx.json:
            ctx.stdout.write(
                f"Closed Set demo: an IC and two performers, each with their own profile under "
                f"{tmp},\nrunning `closedset` commands against {where}.\n\n"
            )
        story = Story(ctx)
        cast = tell(story, cast_of(tmp, relay))
        if args.app and story.passed:
            from client.app.command import serve_many
            from client.demo.cast import DEMO_PASSPHRASE

            ctx.stdout.write(
                f"\nThe negotiation above happened. Open each person's app to see it and take "
                f"the next step (relay {relay}):\n"
            )
            serve_many(
                ctx, [(p.name, p.home) for p in cast.people], DEMO_PASSPHRASE.encode("utf-8")
            )
    seconds = round(time.monotonic() - started, 1)
    ctx.emit(
        {
            "passed": story.passed,
            "seconds": seconds,
            "relay": relay,
            "steps": [s.__dict__ for s in story.steps],
        },
        f"\nEvery check held ({seconds} s)."
        if story.passed
        else "\nSome checks FAILED; see the marks above.",
    )
    return 0 if story.passed else 1


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--relay", help="use this running relay instead of starting one (its URL)")
    p.add_argument(
        "--app",
        action="store_true",
        help="then start the app for the IC and each performer and print their addresses",
    )


add_command(
    Command(
        ("demo",),
        demo_command,
        "Run the whole negotiation with throwaway people and check every step.",
        "closedset demo    (or: closedset demo --relay http://127.0.0.1:8440 --json)",
        _demo_args,
        locks_profile=False,
    )
)
