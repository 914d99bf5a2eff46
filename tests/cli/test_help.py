"""Tried as a new user would: every command's --help shows what it does and an example."""

from __future__ import annotations

import contextlib
import io

import pytest

from client.cli.main import build_parser
from client.cli.registry import commands

build_parser()  # loads every command module, so the table below is complete
PATHS = sorted({c.path for c in commands()})
NEGOTIATION = {
    ("scene", "new"),
    ("scene", "invite"),
    ("scene", "join"),
    ("scene", "brief"),
    ("scene", "list"),
    ("scene", "status"),
    ("sheet", "template"),
    ("sheet", "submit"),
    ("sheet", "show"),
    ("review",),
    ("rider", "propose"),
    ("rider", "template"),
    ("rider", "show"),
    ("rider", "diff"),
    ("rider", "accept"),
    ("rider", "counter"),
    ("withdraw",),
    ("filmed",),
    ("checkin",),
    ("report",),
    ("inbox",),
    ("thread",),
    ("demo",),
}


def test_every_negotiation_command_is_there() -> None:
    assert set(PATHS) >= NEGOTIATION


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_help_has_an_example_and_json(path: tuple[str, ...]) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        build_parser().parse_args([*path, "--help"])
    assert done.value.code == 0
    text = out.getvalue()
    example = text.split("example:", 1)[1].strip()
    assert "closedset " in example, text
    if path in NEGOTIATION:
        assert "--json" in text
