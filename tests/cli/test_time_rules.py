"""Time rules, minimums, replica consent and reports from the command line, with the relay's
clock moved instead of waiting: widening judged at acceptance, partial filming and a narrower
version for what is not filmed yet, the barrier minimum, a replica's own consent, and a report
and a check-in the IC reads in full."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from client.demo.cast import drop_act, fill
from tests.cli.kit import DAY, CliScene, answers

KISS = "closed-mouth-kissing-lips"
HANDS = "holding-hands"
GRIND = "grinding-clothed"
REPORT = "In take four the kiss went on after I said the slow word; " * 4


def uncomment(text: str, act: str) -> str:
    """Uncomment the template's commented-out ``[[acts]]`` entry for ``act``."""
    blocks = text.split("\n\n")
    for i, block in enumerate(blocks):
        if block.lstrip().startswith("#") and f'# act = "{act}"' in block:
            lines = [ln.removeprefix("# ") for ln in block.splitlines()]
            blocks[i] = "\n".join(
                ln for ln in lines if ln == "[[acts]]" or (" = " in ln and not ln.startswith("#"))
            )
    return "\n\n".join(blocks)


def story(relay: str, tmp: Path, clock: Any) -> None:
    s = CliScene(tmp, relay, clock)
    s.open(["Ana", "Ben"])
    both = {f"acts__{a}__answer": "yes" for a in (KISS, HANDS, GRIND)}
    s.sheet("Ana", answers(**both, **{"modesty__garments": ["modesty-pouch"]}))
    s.sheet("Ben", answers(**both, **{"doubles__digital_replica": True}))

    # The barrier minimum: the template leaves grinding out until Ben has a barrier too.
    drafted = s.template()
    assert "genital-area contact: include only with a barrier" in drafted, drafted
    error = s.refused_rider(lambda t: uncomment(t, GRIND))
    assert (
        "grinding, clothed (simulated) for Ben, who has no barrier or modesty garment" in error
    ), error
    barrier = {"performers.ben.garments": ["barrier-cushion"]}

    # A replica needs Ben's own replica consent, with the use described.
    replica = {"performers.ben.digital_replica": True}
    error = s.refused_rider(lambda t: fill(uncomment(t, GRIND), barrier | replica))
    assert "digital replica for Ben, who has given no separate replica consent" in error, error
    s["Ben"].cli("replica", s.mine, "--use", "A face scan for the two storm shots, this film only.")

    def v1(t: str) -> str:
        return drop_act(fill(uncomment(t, GRIND), barrier | replica), HANDS)

    code, _, err = s.propose(v1)
    assert code == 0, err
    s.accept_all()
    assert s.status()["phase"] == "agreed"

    # A minute before call time the IC proposes holding hands too; once call time has passed,
    # that widening cannot be accepted.
    clock.advance(10 * DAY - 60)
    code, _, err = s.propose(lambda t: t + f'\n[[acts]]\nact = "{HANDS}"\ngiver = "ana"\n'
                             'receiver = "ben"\nzones = ["hands"]\n')  # fmt: skip
    assert code == 0, err
    clock.advance(120)
    error = s.refused(s["Ana"], "rider", "accept", s.mine, "--yes")
    assert "is wider than version 1 you accepted (new act holding-hands)" in error, error

    # The IC answers with version 3, back inside version 1: a narrowing after call time.
    code, _, err = s.propose(lambda t: drop_act(t, HANDS))
    assert code == 0, err
    s.accept_all()

    # Filmed per act; Ana withdraws grinding, which is not filmed yet: resolvable.
    s.ic.cli("filmed", s.alias, "--acts", KISS)
    s["Ana"].cli("withdraw", s.mine, "--item", f"act:{GRIND}")
    status = s.status()
    assert status["withdrawals"][-1]["after_filming"] is False
    error = s.refused(s.ic, "filmed", s.alias, "--acts", GRIND)
    assert "grinding, clothed (simulated) for Ana, who withdrew it" in error, error
    code, _, err = s.propose()  # the template drops what Ana withdrew; the kiss stays as filmed
    assert code == 0, err
    s.accept_all()
    assert s.status()["phase"] == "agreed"
    # The filmed kiss cannot be marked again, and a withdrawal of it is after filming.
    s["Ben"].cli("withdraw", s.mine, "--item", f"act:{KISS}")
    assert s.status()["withdrawals"][-1]["after_filming"] is True

    # A report and a check-in, read in full by the IC, also after closing.
    s["Ben"].cli("report", s.mine, "--kind", "crossing", "--what", REPORT, "--involved", "Ana")
    s["Ana"].cli("checkin", s.mine, "--status", "need-support", "--note", "Call me. " * 30)
    inbox = s.ic.cli("inbox")["new"]
    assert any(REPORT.strip() in i["summary"] for i in inbox), inbox
    assert any(("Call me. " * 30).strip() in i["summary"] for i in inbox), inbox
    status = s.status()
    assert REPORT.strip() in " ".join(status["reports"][0]["content"])
    index = next(i["index"] for i in inbox if i["kind"] == "report")
    s.ic.cli("repair", s.alias, "--report", str(index), "--plan", "Two takes at most.")
    told = s["Ben"].cli("inbox")["new"]
    assert any(i["kind"] == "repair-plan" and "Two takes at most." in i["summary"] for i in told)
    assert status["check_ins"][-1]["note"].startswith("Call me.")


@pytest.mark.parametrize("log_db", ["sqlite"], indirect=True)
async def test_time_rules_minimums_replica_and_reports_from_the_cli(
    api: Any, tmp_path: Path
) -> None:
    await asyncio.to_thread(story, api.base, tmp_path, api.clock)
