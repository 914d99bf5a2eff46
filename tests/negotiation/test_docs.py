"""docs/negotiation.md stays in step with the code: the table and the purpose tags."""

from __future__ import annotations

from pathlib import Path

from client.negotiation.scene import TABLE
from client.negotiation.statements import PURPOSES

DOC = (Path(__file__).parents[2] / "docs" / "negotiation.md").read_text("utf-8")


def test_the_documented_transition_table_is_the_one_in_the_code() -> None:
    for (phase, inp), (action, target) in TABLE.items():
        assert f"| {phase.value} | {inp.value} | {action.__name__} | {target} |" in DOC


def test_every_purpose_tag_is_documented() -> None:
    for purpose in PURPOSES:
        assert f"`{purpose}`" in DOC
