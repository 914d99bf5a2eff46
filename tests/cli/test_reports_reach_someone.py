"""Reports that reach someone, from the command line: a report that involves the IC never goes
to the IC alone (refused, one sentence, nothing sent), the IC names a union representative in
the brief (`scene brief --union-rep`), the report then goes to them too and they read it in
full while a partner reads nothing; and counsel's `closedset verify` of an exported bundle
shows the disclosed report and check-in in plain words, never a class name."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from client.cli.main import run
from client.negotiation.statements import TransgressionReport
from client.scenes import RelayPins
from tests.cli.kit import CliScene
from tests.cli.support import everything_decryptable

ABOUT_IC = "The IC stood inside the closed set during take two after I asked her to step out."
CHECK_IN = "Slept badly; would like a call on Thursday about the second take."


def story(relay: str, tmp: Path, clock: Any) -> CliScene:
    s = CliScene(tmp, relay, clock)
    s.open(["Ana", "Ben", "Rosa"])
    about_ic = ("report", s.mine, "--kind", "crossing", "--what", ABOUT_IC, "--involved", "Ines")

    # No union representative or production contact yet: nobody but the IC could receive it.
    error = s.refused(s["Ana"], *about_ic)
    assert (
        "This report involves the IC, and the scene names no union representative or "
        "production contact to receive it too; report it outside the scene (SAG-AFTRA Safe "
        "Place) or ask the production to name one." in error
    ), error

    # Only a joiner can be named; then the IC names Rosa, who is no longer a performer of it.
    error = s.refused(s.ic, "scene", "brief", s.alias, "--union-rep", "Zed")
    assert error == "Zed has not joined the scene; invite them first.", error
    sent = s.ic.cli("scene", "brief", s.alias, "--union-rep", "Rosa")
    assert "Rosa" not in sent["performers"], sent
    error = s.refused(s["Ana"], *about_ic)
    assert (
        "This report involves the IC, so it never goes to the IC alone; send it to the union "
        "representative too." in error
    ), error

    # To the union representative too, anonymous to the production: sent, and Rosa reads it.
    done = s["Ana"].cli(*about_ic, "--to-union-rep")
    assert done["log_index"] >= 0
    rosa = s["Rosa"].cli("inbox")["new"]
    assert any(i["kind"] == "report" and ABOUT_IC in i["summary"] for i in rosa), rosa
    told = s.ic.cli("inbox")["new"]
    assert any(i["kind"] == "report" and ABOUT_IC in i["summary"] for i in told), told
    s["Ana"].cli("checkin", s.mine, "--status", "need-support", "--note", CHECK_IN)
    return s


def counsel(home: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run([*argv, "--home", str(home)], environ={}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("log_db", ["sqlite"], indirect=True)
async def test_a_report_about_the_ic_reaches_the_union_rep_and_counsel_reads_it(
    api: Any, tmp_path: Path
) -> None:
    s = await asyncio.to_thread(story, api.base, tmp_path, api.clock)

    # Ben, the partner, can decrypt no report at all.
    ben = s["Ben"].profile()
    assert not any(
        isinstance(st, TransgressionReport) or ABOUT_IC.encode() in plain
        for _, st, plain in everything_decryptable(ben)
    )

    # Ana discloses her report and check-in to counsel; counsel verifies offline and reads both
    # in plain words.
    bundle = tmp_path / "ana-evidence.asc"
    await asyncio.to_thread(
        s["Ana"].cli, "evidence", "export", s.mine, "--include", "report", "check-in",
        "--out", str(bundle),
    )  # fmt: skip
    key = RelayPins(s["Ana"].home).get(s.relay)
    assert key is not None
    code, out, err = counsel(tmp_path / "counsel", "verify", str(bundle), "--log-key", key)
    assert (code, err) == (0, ""), (code, err)
    assert "RESULT: VERIFIED" in out, out
    assert ABOUT_IC in out, out
    assert CHECK_IN in out, out
    for name in ("TransgressionReport", "CheckIn(", "BoundarySheet"):
        assert name not in out, out
    code, out, err = counsel(
        tmp_path / "counsel", "verify", str(bundle), "--log-key", key, "--json"
    )
    assert code == 0, err
    assert ABOUT_IC in json.dumps(json.loads(out)), out
