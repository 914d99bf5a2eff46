"""Entry point of ``closedset``: builds the parser from the command table and runs one command.

Every failure a person can cause or fix ends as one sentence on stderr and exit status
1 (2 for command-line mistakes); ``--verbose`` adds the chain of causes for developers.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import IO

from client.cli import registry
from client.cli.context import Context
from client.errors import ClientError, UsageError
from client.profile_lock import profile_lock
from keys.errors import KeysError

# Importing a command module registers its commands.
_MODULES = (
    "client.cli.identity",
    "client.cli.revocation",
    "client.cli.messages",
    "client.cli.demo",
    "client.cli.witness",
    "client.cli.mail",
    "client.cli.scene",
    "client.cli.sheet",
    "client.cli.rider",
    "client.cli.actions",
    "client.cli.overview",
    "client.cli.evidence",
    "client.app.command",
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument(
        "--home", help="profile directory (default: $CLOSEDSET_HOME or your data dir)"
    )
    group.add_argument("--passphrase-file", help="read the passphrase from FILE")
    group.add_argument("--json", action="store_true", help="print data as JSON")
    group.add_argument("--verbose", action="store_true", help="show the cause of errors in full")
    return common


@functools.cache
def _load_commands() -> list[registry.Command]:
    # Once per process: scanning entry points is slow, and registering twice would duplicate.
    import importlib

    for name in _MODULES:
        importlib.import_module(name)
    for entry in entry_points(group="closedset.commands"):
        # A plugin (the relay) hands back plain tuples, so it never imports client:
        # (path, handler(args) -> int, summary, example, add_arguments).
        for path, handler, summary, example, arguments in entry.load()():
            registry.add_command(
                registry.Command(
                    tuple(path), _plain(handler), summary, example, arguments, common_options=False
                )
            )
    return registry.commands()


def _plain(handler: Callable[[argparse.Namespace], int]) -> registry.Handler:
    return lambda ctx, args: handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="closedset",
        description="Closed Set: end-to-end encrypted consent negotiation for intimate scenes.",
        epilog="Run `closedset COMMAND --help` for the options and an example of each command.",
    )
    common = _common_options()
    tops = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[tuple[str, ...], argparse._SubParsersAction[argparse.ArgumentParser]] = {(): tops}
    seen: set[tuple[str, ...]] = set()
    for command in sorted(_load_commands(), key=lambda c: c.path):
        if command.path in seen:
            continue
        seen.add(command.path)
        for depth in range(1, len(command.path)):
            prefix = command.path[:depth]
            if prefix not in groups:
                group_parser = groups[prefix[:-1]].add_parser(
                    prefix[-1], help=f"{prefix[-1]} commands"
                )
                groups[prefix] = group_parser.add_subparsers(
                    dest="_".join(prefix) + "_command", metavar="SUBCOMMAND", required=True
                )
        leaf = groups[command.path[:-1]].add_parser(
            command.path[-1],
            parents=[common] if command.common_options else [],
            help=command.summary,
            description=command.summary,
            epilog=f"example:\n  {command.example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if command.arguments is not None:
            command.arguments(leaf)
        leaf.set_defaults(
            handler=command.handler, locks_profile=command.common_options and command.locks_profile
        )
    return parser


@functools.cache
def _parser() -> argparse.ArgumentParser:
    # The demo runs dozens of commands in one process; build the parser once (parsing does
    # not change it).
    return build_parser()


def run(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    clock: Callable[[], float] | None = None,
) -> int:
    """Run one command; the demo and tests pass their own streams, environment and clock
    so several people can run commands in one process."""
    environ = os.environ if environ is None else environ
    args = _parser().parse_args(argv)
    ctx = Context.from_args(args, environ)
    ctx.stdin = stdin or ctx.stdin
    ctx.stdout = stdout or ctx.stdout
    ctx.stderr = stderr or ctx.stderr
    ctx.clock = clock or ctx.clock
    try:
        if args.locks_profile:
            with profile_lock(ctx.home):
                return int(args.handler(ctx, args))
        return int(args.handler(ctx, args))
    except UsageError as exc:
        return _fail(ctx, exc, EXIT_USAGE)
    except (ClientError, KeysError) as exc:
        return _fail(ctx, exc, EXIT_FAILED)
    except KeyboardInterrupt:
        ctx.stderr.write("closedset: interrupted; nothing more was done.\n")
        return 130


def _fail(ctx: Context, exc: BaseException, code: int) -> int:
    if ctx.verbose:
        traceback.print_exception(exc, file=ctx.stderr)
    ctx.stderr.write(f"closedset: {exc}\n")
    return code


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
