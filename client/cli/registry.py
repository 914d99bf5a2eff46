"""The table of commands: each module declares its commands; ``main`` builds the parser.

A command is a path of words (``("contacts", "add")``), a handler ``(ctx, args) -> int``,
a one-line summary, an example shown in ``--help``, and a function adding its arguments.
Packages outside ``client`` (the relay) contribute commands through the
``closedset.commands`` entry point group, so ``client`` never imports them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[[Any, argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    handler: Handler
    summary: str
    example: str
    arguments: Callable[[argparse.ArgumentParser], Any] | None = None
    # --home, --passphrase-file, --json, --verbose: the people's options; the relay's own
    # commands (a plugin) take none of them.
    common_options: bool = True
    # Runs under the profile's write lock (client.profile_lock); the long-running demo and
    # app take it themselves around each change instead.
    locks_profile: bool = True


_COMMANDS: list[Command] = []


def add_command(command: Command) -> None:
    _COMMANDS.append(command)


def commands() -> list[Command]:
    return list(_COMMANDS)
