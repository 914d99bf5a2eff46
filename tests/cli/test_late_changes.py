"""Issue 15's rules that had a test only through the pure domain, now from the command line:
`unanswered = "no"` does not answer the required check-in preference (and the error says so),
a first agreement after call time is refused, the framing, signals and dates are fixed after
call time (when proposing and when accepting), and nothing is filmed before `valid_from`.
Each refusal is one sentence, and nothing is sent."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from client.demo.cast import fill
from client.timefmt import iso
from tests.cli.kit import DAY, CliScene, answers

KISS = "closed-mouth-kissing-lips"
HANDS = "holding-hands"


def with_time(text: str, key: str, when: int) -> str:
    """Set a rider file's ``call_time``/``valid_from``/``valid_until`` (a TOML date-time)."""
    stamp = iso(when).replace("+00:00", "Z")
    changed, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {stamp}", text)
    assert n == 1, text
    return changed


def sheets(s: CliScene) -> None:
    yes = {f"acts__{KISS}__answer": "yes", f"acts__{HANDS}__answer": "yes"}
    for name in s.performers:
        s.sheet(name, answers(**yes))


def unanswered_and_first_agreement(relay: str, tmp: Path, clock: Any) -> None:
    s = CliScene(tmp, relay, clock)
    s.open(["Ana", "Ben"])

    # `unanswered = "no"` answers yes/no items only; the check-in preference stays required,
    # and the sentence says so (it used to claim `unanswered` covered it).
    path = tmp / "no-check-in.toml"
    s["Ana"].cli("sheet", "template", s.mine, "--out", str(path))
    path.write_text(fill(path.read_text(), answers(**{"care.check_in": ""})))
    error = s.refused(s["Ana"], "sheet", "submit", s.mine, str(path))
    assert "care.check_in is required and unanswered" in error, error
    assert '(unanswered = "no" answers only yes/no items)' in error, error
    assert "no-check-in.toml line" in error, error

    sheets(s)
    code, _, err = s.propose()
    assert code == 0, err
    s["Ana"].cli("rider", "accept", s.mine, "--yes")

    # Call time passes before Ben has agreed: a first agreement now is refused...
    clock.advance(10 * DAY + 60)
    error = s.refused(s["Ben"], "rider", "accept", s.mine, "--yes")
    assert (
        "Rider version 1 cannot be agreed for the first time after call time; "
        "the IC must set a new call time." in error
    ), error
    assert s.status()["phase"] == "proposed"

    # ...and a version whose framing changed is wider than what Ana accepted: judged when she
    # accepts, not when the IC proposed it (nobody had agreed yet, so it could be proposed).
    code, _, err = s.propose(
        lambda t: fill(t, {"description": "The same scene, now lit as a full-frame close-up."})
    )
    assert code == 0, err
    error = s.refused(s["Ana"], "rider", "accept", s.mine, "--yes")
    assert (
        "Rider version 2 is wider than version 1 you accepted (changes the description of how "
        "the scene appears); after call time you may only accept a version that narrows." in error
    ), error


def framing_dates_and_valid_from(relay: str, tmp: Path, clock: Any) -> None:
    s = CliScene(tmp, relay, clock)
    s.open(["Ana", "Ben"])
    sheets(s)
    start = s.ic.now() + 2 * DAY
    call = s.ic.now() + 10 * DAY

    # Consent that starts in two days: agreed now, but nothing is filmed before it starts.
    code, _, err = s.propose(lambda t: with_time(t, "valid_from", start))
    assert code == 0, err
    s.accept_all()
    assert s.status()["phase"] == "agreed"
    error = s.refused(s.ic, "filmed", s.alias)
    assert re.search(
        r"Rider version 1's consent starts on .+; nothing can be filmed before it\.", error
    ), error

    # After call time the framing, the signals and the dates are fixed: the IC's client refuses
    # such a version before anything is sent.
    clock.advance(10 * DAY + 60)
    changes = [
        (
            lambda t: fill(t, {"description": "The same scene, now lit as a full-frame close-up."}),
            "changes the description of how the scene appears",
        ),
        (lambda t: fill(t, {"signals.stop": "Halt"}), "changes the signals"),
        (lambda t: with_time(t, "call_time", call + DAY), "moves the call time"),
        (
            lambda t: with_time(t, "valid_until", s.ic.now() + 400 * DAY),
            "extends the consent dates",
        ),
    ]
    for edit, what in changes:
        error = s.refused_rider(lambda t, e=edit: with_time(e(t), "valid_from", start))
        assert (
            f"Rider version 2 widens what was agreed after call time ({what}); after call time "
            "a rider may only narrow." in error
        ), (what, error)
    # Filming inside the dates is allowed.
    s.ic.cli("filmed", s.alias)


@pytest.mark.parametrize("log_db", ["sqlite"], indirect=True)
async def test_unanswered_check_in_and_first_agreement_after_call_time_from_the_cli(
    api: Any, tmp_path: Path
) -> None:
    await asyncio.to_thread(unanswered_and_first_agreement, api.base, tmp_path, api.clock)


@pytest.mark.parametrize("log_db", ["sqlite"], indirect=True)
async def test_framing_dates_after_call_time_and_filming_before_valid_from_from_the_cli(
    api: Any, tmp_path: Path
) -> None:
    await asyncio.to_thread(framing_dates_and_valid_from, api.base, tmp_path, api.clock)
