"""The scene's rules, met from the command line: each refusal is one sentence, exit 1, and
nothing is sent. Call time is already past, so only narrowing amendments are allowed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from client.demo.cast import Person, fill
from client.timefmt import iso

DAY = 86400
SHEET = {
    "unanswered": "no",
    "you.pronouns": "they/them",
    "signals.nonverbal": "two taps",
    "care.check_in": "message",
    "acts.closed-mouth-kissing-lips.answer": "yes",
    "acts.embrace-clothed.answer": "yes",
    "acts.hand-on-back.giving": "yes",
    "acts.hand-on-back.receiving": "yes",
} | {f"zones.{z}": "ok" for z in ("lips", "shoulders", "arms", "back")}


def one_sentence(person: Person, *args: str) -> str:
    code, out, err = person._run(args)
    assert code == 1, (code, out, err)
    assert err.startswith("closedset: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.removeprefix("closedset: ").strip()


def story(relay: str, tmp: Path, clock: Any) -> None:
    log: list[str] = []
    ic, ana, ben, olga = (
        Person(n, r, tmp / n.lower(), clock, log)
        for n, r in [
            ("Ines", "ic"),
            ("Ana", "performer"),
            ("Ben", "performer"),
            ("Olga", "performer"),
        ]
    )
    for p in (ic, ana, ben, olga):
        p.cli("id", "new", "--name", p.name, "--role", p.role)
    now = ic.now()
    ic.cli(
        "scene",
        "new",
        "--relay",
        relay,
        "--title",
        "Late",
        "--scene",
        "7",
        "--pages",
        "9",
        "--call-time",
        iso(now - 3600),
        "--valid-from",
        iso(now - 2 * DAY),
    )
    for p in (ana, ben):
        p.cli("scene", "join", ic.cli("scene", "invite", "scene-7")["code"], "--alias", "late")
    ic.cli("scene", "brief", "scene-7")
    for p in (ana, ben):
        path = tmp / f"{p.name}.toml"
        p.cli("sheet", "template", "late", "--out", str(path))
        path.write_text(fill(path.read_text(), SHEET))
        p.cli("sheet", "submit", "late", str(path))

    def propose(version: int, edit: Any) -> tuple[int, str, str]:
        path = tmp / f"rider-{version}-{len(log)}.toml"
        ic.cli("rider", "template", "scene-7", "--out", str(path))
        path.write_text(edit(path.read_text()))
        return ic._run(("rider", "propose", "scene-7", str(path)))

    assert propose(1, lambda t: fill(t, {"description": "A kiss."}))[0] == 0
    for p in (ana, ben):
        p.cli("rider", "accept", "late", "--yes")
    status = ic.cli("scene", "status", "scene-7")
    assert status["phase"] == "agreed"
    assert {f["code"] for f in status["flags"]} >= {"late-agreement"}

    # Widening after call time: a new act is refused before anything is sent.
    sent_before = len(ic.cli("thread", "scene-7"))
    path = tmp / "wider.toml"
    ic.cli("rider", "template", "scene-7", "--out", str(path))
    path.write_text(
        path.read_text()
        + '\n[[acts]]\nact = "holding-hands"\ngiver = "ana"\nreceiver = "ben"\nzones = ["hands"]\n'
    )
    error = one_sentence(ic, "rider", "propose", "scene-7", str(path))
    assert "after call time a rider may only narrow" in error, error
    assert len(ic.cli("thread", "scene-7")) == sent_before

    # A member of the thread who is not in the brief cannot act in the scene.
    olga.cli("scene", "join", ic.cli("scene", "invite", "scene-7")["code"], "--alias", "late")
    error = one_sentence(olga, "rider", "accept", "late", "--yes")
    assert error == "You are not named in this scene's brief; ask the IC to add you to it."

    # Acting on a withdrawn rider: Ben withdraws it whole; nothing can be signed or filmed.
    ben.cli("withdraw", "late", "--reason", "not today")
    assert "unresolved withdrawal" in one_sentence(ben, "rider", "accept", "late", "--yes")
    assert "unresolved withdrawal" in one_sentence(ic, "filmed", "scene-7")

    # Narrowing after call time is allowed; the old version is then superseded.
    code, _, err = propose(2, lambda t: t.replace("intensity = 5", "intensity = 2"))
    assert code == 0, err
    error = one_sentence(ana, "rider", "accept", "late", "--version", "1", "--yes")
    assert error == "Rider version 1 is superseded by version 2; act on the current version."


@pytest.mark.parametrize("log_db", ["sqlite"], indirect=True)
async def test_refusals_are_one_sentence_and_send_nothing(api: Any, tmp_path: Path) -> None:
    await asyncio.to_thread(story, api.base, tmp_path, api.clock)
