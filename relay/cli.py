"""``closedset relay ...`` commands, handed to the client's CLI as plain tuples.

The relay never imports ``client``: the CLI finds this module through the
``closedset.commands`` entry point and calls :func:`commands`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

CommandSpec = tuple[
    tuple[str, ...],
    Callable[[argparse.Namespace], int],
    str,
    str,
    Callable[[argparse.ArgumentParser], Any] | None,
]


def commands() -> list[CommandSpec]:
    """The relay's commands; filled in as the relay's service lands."""
    return []
