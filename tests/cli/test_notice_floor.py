"""The 48-hour notice floor from the command line: a rider first agreed a day before call time
cannot be marked filmed under a union agreement (one sentence, nothing sent), and a production
without one (`scene new --no-union-agreement`) films it with the late finding recorded on the
filmed mark and flagged to every performer concerned."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.cli.kit import DAY, CliScene, answers

HANDS = "holding-hands"
LATE = "Rider version 1 was agreed 24.0 hours before call time; the rule is at least 48 hours"


def late_scene(relay: str, tmp: Path, clock: Any, *new: str) -> CliScene:
    s = CliScene(tmp, relay, clock)
    s.open(["Ana", "Ben"], call_in=DAY, new=new)
    for name in s.performers:
        s.sheet(name, answers(**{f"acts__{HANDS}__answer": "yes"}))
    code, _, err = s.propose()
    assert code == 0, err
    s.accept_all()
    assert s.status()["phase"] == "agreed"
    return s


def under_a_union_agreement(relay: str, tmp: Path, clock: Any) -> None:
    s = late_scene(relay, tmp, clock)
    error = s.refused(s.ic, "filmed", s.alias)
    assert (
        f"Rider version 1 cannot be filmed: {LATE}; the 48-hour notice is a floor a performer "
        "cannot waive, only the scene's union representative can, naming the reason." in error
    ), error
    assert s.status()["phase"] == "agreed"


def without_a_union_agreement(relay: str, tmp: Path, clock: Any) -> None:
    s = late_scene(relay, tmp, clock, "--no-union-agreement")
    mark = s.ic.cli("filmed", s.alias)
    assert mark["notice"] and LATE in mark["notice"][0], mark
    for name in ("Ana", "Ben"):
        flags = s.status(s[name])["flags"]
        recorded = [f for f in flags if f["code"] == "notice-floor-recorded"]
        assert recorded and LATE in recorded[0]["message"], (name, flags)


@pytest.mark.parametrize("log_db", ["sqlite"], indirect=True)
async def test_a_late_rider_is_not_filmed_under_a_union_agreement(api: Any, tmp_path: Path) -> None:
    await asyncio.to_thread(under_a_union_agreement, api.base, tmp_path, api.clock)


@pytest.mark.parametrize("log_db", ["sqlite"], indirect=True)
async def test_without_a_union_agreement_late_filming_is_recorded_and_flagged(
    api: Any, tmp_path: Path
) -> None:
    await asyncio.to_thread(without_a_union_agreement, api.base, tmp_path, api.clock)
