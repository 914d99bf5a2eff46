"""As people run it: `closedset relay serve` in its own process on a free port, and everyone's
commands as separate `python -m client` processes with their own CLOSEDSET_HOME. Then the demo,
against that relay and on its own embedded one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.demo.act_one import ANA, OK_ZONES
from client.demo.cast import fill
from client.demo.relay_process import embedded_relay

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with embedded_relay(tmp_path_factory.mktemp("relay")) as url:
        yield url


def closedset(home: Path | None, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDSET_")}
    env["CLOSEDSET_PASSPHRASE"] = PASSPHRASE
    if home is not None:
        env["CLOSEDSET_HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-m", "client", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def as_json(home: Path, *args: str) -> object:
    return json.loads(closedset(home, *args, "--json").stdout)


def test_sheet_with_a_mistake_names_the_line_and_sends_nothing(relay: str, tmp_path: Path) -> None:
    ic, ana, ben = (tmp_path / n for n in ("ines", "ana", "ben"))
    for home, name, role in [
        (ic, "Ines", "ic"),
        (ana, "Ana", "performer"),
        (ben, "Ben", "performer"),
    ]:
        closedset(home, "id", "new", "--name", name, "--role", role)
    closedset(
        ic,
        "scene",
        "new",
        "--relay",
        relay,
        "--title",
        "The Lighthouse",
        "--scene",
        "12",
        "--pages",
        "31-33",
        "--call-time",
        "2031-01-15T09:00Z",
    )
    for home in (ana, ben):
        code = as_json(ic, "scene", "invite", "scene-12")["code"]  # type: ignore[index]
        joined = closedset(home, "scene", "join", code, "--alias", "lighthouse").stdout
        assert "Invited by Ines (IC), fingerprint" in joined
        assert "matches the fingerprint inside the invite code" in joined
        assert "Safety number with Ines:" in joined
    closedset(ic, "scene", "brief", "scene-12")

    sheet = tmp_path / "sheet.toml"
    closedset(ana, "sheet", "template", "lighthouse", "--out", str(sheet))
    answers = {f"zones.{z}": "ok" for z in OK_ZONES} | ANA
    sheet.write_text(fill(sheet.read_text(), answers | {"acts.hand-on-back.giving": "yse"}))
    line = 1 + next(i for i, text in enumerate(sheet.read_text().splitlines()) if '"yse"' in text)
    before = len(as_json(ic, "thread", "scene-12"))  # type: ignore[arg-type]
    refused = closedset(ana, "sheet", "submit", "lighthouse", str(sheet), ok=False)
    assert refused.returncode == 1
    assert refused.stderr == (
        f'closedset: {sheet} line {line}: "yse" is not an answer; '
        "use yes, ask-first, maybe or no.\n"
    )
    assert len(as_json(ic, "thread", "scene-12")) == before  # type: ignore[arg-type]

    sheet.write_text(fill(sheet.read_text(), {"acts.hand-on-back.giving": "yes"}))
    closedset(ana, "sheet", "submit", "lighthouse", str(sheet))
    review = closedset(ic, "review", "scene-12").stdout
    assert "you alone see this" in review and "waiting for sheets from Ben" in review
    refused = closedset(ben, "review", "lighthouse", ok=False)
    assert refused.stderr == (
        "closedset: Only the scene's IC can review the sheets; you are a performer in it.\n"
    )


def test_demo_passes_against_a_separately_started_relay(relay: str) -> None:
    result = closedset(None, "demo", "--relay", relay)
    assert result.stdout.rstrip().splitlines()[-1].startswith("Every check held")
    assert "!!" not in result.stdout


def test_demo_json_passes_with_its_own_relay() -> None:
    data = json.loads(closedset(None, "demo", "--json").stdout)
    assert data["passed"] is True
    assert all(step["ok"] for step in data["steps"])
    assert data["seconds"] < 60
