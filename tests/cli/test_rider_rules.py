"""The rider held to the sheets, from the command line, for what the three-person story does not
cover: nudity, intensity limits, "maybe" without the IC's note of the discussion, and the
explicit confirmation and ask-first markers each performer is shown."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from client.demo.cast import fill
from tests.cli.kit import CliScene, act_block, answers

KISS = "closed-mouth-kissing-lips"
LYING = "lying-together-clothed"
NECK = "kissing-neck"


def story(relay: str, tmp: Path, clock: Any) -> None:
    s = CliScene(tmp, relay, clock)
    s.open(["Ana", "Ben"])
    # A contradictory sheet is refused at submit with its line, and nothing is sent.
    path = tmp / "contradictory.toml"
    s["Ana"].cli("sheet", "template", s.mine, "--out", str(path))
    path.write_text(
        fill(path.read_text(), answers(**{f"acts__{KISS}__answer": "yes", "zones__lips": "never"}))
    )
    error = s.refused(s["Ana"], "sheet", "submit", s.mine, str(path))
    assert "contradictory.toml line" in error and f"acts.{KISS}.answer is 'yes'" in error, error
    s.sheet(
        "Ana",
        answers(
            **{
                f"acts__{KISS}__answer": "yes",
                f"acts__{KISS}__intensity": 3,
                f"acts__{LYING}__answer": "maybe",
                f"acts__{NECK}__receiving": "ask-first",
                "nudity__bare-back": True,
            }
        ),
    )
    s.sheet(
        "Ben",
        answers(
            **{
                f"acts__{KISS}__answer": "yes",
                f"acts__{LYING}__answer": "yes",
                f"acts__{NECK}__giving": "yes",
            }
        ),
    )
    drafted = s.template()
    # Ask-first and maybe acts are drafted commented out, with their marker and note line.
    assert '# ask_first = true  # a performer answered "ask first"' in drafted, drafted
    assert '# discussed = ""' in drafted
    assert "intensity = 3" in drafted  # the lower of the two limits

    def kiss(t: str, level: int) -> str:
        return t.replace("intensity = 3", f"intensity = {level}")

    error = s.refused_rider(lambda t: kiss(t, 5))
    assert "closed-mouth kissing, lips at intensity 5 for Ana, who set a limit of 3" in error
    error = s.refused_rider(lambda t: fill(t, {"performers.ben.nudity": ["bare-back"]}))
    assert 'for Ben, who answered "not shown"' in error and "nudity" in error, error
    error = s.refused_rider(lambda t: t + act_block(LYING, "ana", "ben", ["back"]))
    assert 'for Ana, who answered "maybe" and the act has no note that it was discussed' in error
    error = s.refused_rider(lambda t: t + act_block(NECK, "ben", "ana", ["neck"]))
    assert 'for Ana, who answered "ask first" and the act has no ask-first marker' in error

    note = "Discussed with Ana on Monday: side by side, no weight."

    def full(t: str) -> str:
        t = fill(t, {"performers.ana.nudity": ["bare-back"]})
        t += act_block(LYING, "ana", "ben", ["back"], discussed=note, intensity=2)
        return t + act_block(NECK, "ben", "ana", ["neck"], ask_first=True, intensity=2)

    code, _, err = s.propose(full)
    assert code == 0, err
    shown = s["Ana"].cli("rider", "show", s.mine)
    assert shown["to_confirm"] == [{"item": f"act:{LYING}", "discussed": note}]
    neck = next(a for a in shown["acts"] if a["act"] == NECK)
    assert neck["ask_first"] is True
    # Ben answered "yes": nothing to confirm for him. Ana must confirm the "maybe" explicitly.
    assert s["Ben"].cli("rider", "show", s.mine)["to_confirm"] == []
    error = s.refused(s["Ana"], "rider", "accept", s.mine, "--yes")
    assert f"--confirm act:{LYING}" in error and note in error, error
    s["Ana"].cli("rider", "accept", s.mine, "--yes", "--confirm", f"act:{LYING}")
    s["Ben"].cli("rider", "accept", s.mine, "--yes")
    assert s.status()["phase"] == "agreed"


@pytest.mark.parametrize("log_db", ["sqlite"], indirect=True)
async def test_rider_items_outside_a_sheet_are_refused_and_maybes_confirmed(
    api: Any, tmp_path: Path
) -> None:
    await asyncio.to_thread(story, api.base, tmp_path, api.clock)


def test_the_printed_rider_carries_the_markers() -> None:
    from client.negotiation.rider import RiderAct
    from client.views.papers import marks

    act = RiderAct(LYING, b"\1" * 32, b"\2" * 32, (), 2, ask_first=True, discussed="talked")
    assert marks(act, [act]) == "ASK FIRST; discussed: talked; you said maybe: CONFIRM"
    assert marks(act) == "ASK FIRST; discussed: talked"
