"""A scene with a performer under 18 and her guardian, through the whole story from the command
line: no nudity in the minor's sheet, a chaperone on the closed set, the guardian's acceptance
needed as well as hers, the guardian withdrawing for her, and what each profile can decrypt."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from client.demo.cast import fill
from client.negotiation.sheet import BoundarySheet
from tests.cli.kit import CliScene, answers
from tests.cli.support import everything_decryptable

HANDS = "holding-hands"
EMBRACE = "embrace-clothed"
MIA_SECRET = "mia-private-note-0b7c"
BEN_SECRET = "ben-private-note-77d1"


def story(relay: str, tmp: Path, clock: Any) -> CliScene:
    s = CliScene(tmp, relay, clock)
    s.open(["Mia", "Ben", "Gina"])
    s.ic.cli("scene", "brief", s.alias, "--minor", "Mia", "--guardian", "Gina=Mia")
    yes = {f"acts__{HANDS}__answer": "yes", f"acts__{EMBRACE}__answer": "yes"}
    chaperone = {"closed_set__present": ["chaperone"]}

    # A minor's sheet cannot hold nudity; refused before anything is sent.
    path = tmp / "mia-nude.toml"
    s["Mia"].cli("sheet", "template", s.mine, "--out", str(path))
    path.write_text(fill(path.read_text(), answers(**yes, **{"nudity__bare-back": True})))
    error = s.refused(s["Mia"], "sheet", "submit", s.mine, str(path))
    assert "under 18" in error and "nudity.bare-back must be false" in error, error

    s.sheet("Mia", answers(**yes, **chaperone, **{"care__notes": MIA_SECRET}))
    s.sheet("Ben", answers(**yes, **chaperone, **{"care__notes": BEN_SECRET}))
    # The guardian fills in no sheet of their own: only performers do.
    error = s.refused(s["Gina"], "sheet", "submit", s.mine, str(tmp / "mia-nude.toml"))
    assert "under 18" in error or "Only a performer" in error, error

    error = s.refused_rider(lambda t: fill(t, {"closed_set.present": []}))
    assert "a chaperone on the closed set for Mia, who is under 18" in error, error
    code, _, err = s.propose()
    assert code == 0, err
    s["Mia"].cli("rider", "accept", s.mine, "--yes")
    s["Ben"].cli("rider", "accept", s.mine, "--yes")
    status = s.status()
    assert status["phase"] == "proposed" and status["waiting_for"] == ["Gina"], status
    s["Gina"].cli("rider", "accept", s.mine, "--yes")
    assert s.status()["phase"] == "agreed"

    # The guardian withdraws for the minor; it sticks as hers.
    s["Gina"].cli("withdraw", s.mine, "--item", f"act:{HANDS}")
    status = s.status()
    assert status["phase"] == "withdrawn" and status["still_withdrawn"] == {
        "Mia": ["holding hands"]
    }
    error = s.refused(s.ic, "filmed", s.alias)
    assert "holding hands for Mia, who withdrew it" in error, error
    code, _, err = s.propose()
    assert code == 0, err
    for name in ("Mia", "Ben", "Gina"):
        s[name].cli("rider", "accept", s.mine, "--yes")
    s.ic.cli("filmed", s.alias)
    s["Mia"].cli("checkin", s.mine, "--status", "ok")
    return s


@pytest.mark.parametrize("log_db", ["sqlite"], indirect=True)
async def test_minor_and_guardian_scene_through_the_whole_story(api: Any, tmp_path: Path) -> None:
    s = await asyncio.to_thread(story, api.base, tmp_path, api.clock)
    ids = {n: p.profile().identity_key for n, p in s.performers.items()}
    readable = {n: everything_decryptable(p.profile()) for n, p in s.performers.items()}
    sheets = {
        n: {sender for sender, st, _ in found if isinstance(st, BoundarySheet)}
        for n, found in readable.items()
    }
    assert sheets["Gina"] == {ids["Mia"]}  # the guardian reads the minor's sheet, no other
    assert sheets["Ben"] == {ids["Ben"]} and sheets["Mia"] == {ids["Mia"]}
    for name in ("Ben", "Mia"):
        other = BEN_SECRET if name == "Mia" else MIA_SECRET
        assert all(other.encode() not in plain for _, _, plain in readable[name])
