"""Every row of the transition table taken once, and every pair the table leaves out refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from client.negotiation.brief import Request, SceneRequests
from client.negotiation.errors import SceneRuleError
from client.negotiation.rider import Annex, Rider
from client.negotiation.scene import TABLE, If, Input, Phase, SceneState
from client.negotiation.statements import (
    CheckIn,
    Counter,
    FilmedMark,
    Message,
    ReGrant,
    RepairPlan,
    ReplicaConsent,
    SceneClose,
    Statement,
    TransgressionReport,
    Waiver,
    Withdrawal,
)
from tests.negotiation.builders import (
    ANA,
    BEN,
    CALL,
    DAY,
    IC,
    UNION,
    Log,
    accept,
    agreed_log,
    brief,
    rider,
    sheet,
)

REPORTED = TransgressionReport("crossing", "a hand slipped", CALL)


def reach(phase: Phase) -> Log:
    """A log whose fold is in ``phase`` (with Ana's report in it once there is a brief)."""
    log = _reach(phase)
    if phase is not Phase.EMPTY:
        log.add(ANA, REPORTED)
    return log


def _reach(phase: Phase) -> Log:
    if phase is Phase.EMPTY:
        return Log()
    if phase in (Phase.DRAFT, Phase.SHEETS_IN, Phase.PROPOSED):
        log = Log()
        log.add(IC, brief())
        if phase is not Phase.DRAFT:
            log.add(ANA, sheet(yes=["closed-mouth-kissing-lips"]))
            log.add(BEN, sheet(yes=["closed-mouth-kissing-lips"]))
        if phase is Phase.PROPOSED:
            log.add(IC, rider())
        return log
    two = rider(acts=[("closed-mouth-kissing-lips", ANA, BEN), ("holding-hands", ANA, BEN)])
    log = agreed_log(two if phase in (Phase.FILMED, Phase.CLOSED) else None)
    r1 = log.state().current.rider  # type: ignore[union-attr]
    if phase is Phase.AMENDED:
        log.add(IC, rider(2, r1, intensity=4))
    elif phase is Phase.WITHDRAWN:
        log.add(ANA, Withdrawal(whole=True))
    elif phase is Phase.EXPIRED:
        log.add(ANA, Message((IC,), "still there?"), at=CALL + 31 * DAY)
    elif phase in (Phase.FILMED, Phase.CLOSED):
        log.add(IC, FilmedMark(1, r1.hash, ("holding-hands",)))  # partial: the kiss is left
        if phase is Phase.CLOSED:
            log.add(IC, SceneClose("wrapped"))
    assert log.state().phase is phase, log.state().refused
    return log


def narrower_unfilmed(state: SceneState) -> Rider:
    """The next version, narrowing only what is not filmed yet."""
    r = state.current.rider  # type: ignore[union-attr]
    done = {a for f in state.filmed for a in f.statement.acts}
    acts = tuple(a if a.act in done else replace(a, intensity=4) for a in r.acts)
    return replace(r, version=r.version + 1, previous=r.hash, acts=acts)


def statement_for(inp: Input, log: Log) -> tuple[bytes, Statement]:
    state = log.state()
    current = state.current
    r = None if current is None else current.rider
    later = CALL + 60 * DAY if state.phase is Phase.EXPIRED else None
    makers: dict[Input, Callable[[], tuple[bytes, Statement]]] = {
        Input.BRIEF: lambda: (IC, brief()),
        Input.REQUESTS: lambda: (IC, SceneRequests((Request("holding-hands", ANA, BEN),))),
        Input.RIDER: lambda: (
            IC,
            rider(1, intensity=4)
            if r is None
            else narrower_unfilmed(state)
            if state.filmed
            else rider(r.version + 1, r, intensity=4, valid_until=later),
        ),
        Input.FILMED: lambda: (IC, FilmedMark(r.version if r else 1, r.hash if r else b"\0" * 32)),
        Input.CLOSE: lambda: (IC, SceneClose("done")),
        Input.SHEET: lambda: (ANA, sheet(yes=["closed-mouth-kissing-lips"])),
        Input.ACCEPT: lambda: (ANA, accept(r) if r else accept(rider())),
        Input.COUNTER: lambda: (
            ANA,
            Counter(r.version, r.hash, "less") if r else Counter(1, b"\0" * 32, "less"),
        ),
        Input.WITHDRAW: lambda: (ANA, Withdrawal(whole=True)),
        Input.CHECK_IN: lambda: (ANA, CheckIn("ok")),
        Input.REPORT: lambda: (ANA, TransgressionReport("crossing", "a hand slipped", CALL)),
        Input.MESSAGE: lambda: (ANA, Message((IC,), "hello")),
        Input.REPAIR: lambda: (
            IC,
            RepairPlan(REPORTED.hash, "Retake with a new blocking.", (ANA,)),
        ),
        Input.ANNEX: lambda: (IC, Annex(r.version + 1 if r else 1, BEN, b"\7" * 32)),
        Input.REGRANT: lambda: (ANA, ReGrant(("act:closed-mouth-kissing-lips",))),
        Input.REPLICA: lambda: (
            ANA,
            ReplicaConsent("A digital double for the two wide shots only."),
        ),
        Input.WAIVER: lambda: (
            UNION,
            Waiver(r.version, r.hash, "re-shoot agreed") if r else Waiver(1, b"\0" * 32, "x"),
        ),
    }
    return makers[inp]()


# Rows whose action is a guard that must refuse in the state `reach` builds: in these phases
# everyone has already accepted, so one more acceptance is a duplicate.
ALWAYS_REFUSED = {(Phase.AGREED, Input.ACCEPT), (Phase.FILMED, Input.ACCEPT)}

ROWS = [(p, i) for (p, i) in TABLE if i is not Input.EXPIRE]


@pytest.mark.parametrize(("phase", "inp"), ROWS, ids=[f"{p}-{i}" for p, i in ROWS])
def test_every_row_of_the_table_does_what_it_says(phase: Phase, inp: Input) -> None:
    log = reach(phase)
    sender, statement = statement_for(inp, log)
    action, target = TABLE[(phase, inp)]
    at = CALL + 41 * DAY if phase is Phase.EXPIRED else None
    if action.__name__.startswith("refuse") or (phase, inp) in ALWAYS_REFUSED:
        with pytest.raises(SceneRuleError) as caught:
            log.step(sender, statement, at)
        assert str(caught.value).endswith(".") and caught.value.code != "not-now"
        return
    after = log.step(sender, statement, at)
    expected = {target.then, target.orelse} if isinstance(target, If) else {target}
    assert after.phase in expected
    assert after.history[-1].input == inp.value


MISSING = [(p, i) for p in Phase for i in Input if (p, i) not in TABLE and i is not Input.EXPIRE]


@pytest.mark.parametrize(("phase", "inp"), MISSING, ids=[f"{p}-{i}" for p, i in MISSING])
def test_every_pair_left_out_of_the_table_is_refused(phase: Phase, inp: Input) -> None:
    log = reach(phase)
    sender, statement = statement_for(inp, log)
    with pytest.raises(SceneRuleError) as caught:
        log.step(sender, statement)
    assert caught.value.code in {"not-now", "no-brief"}


@pytest.mark.parametrize("phase", [Phase.PROPOSED, Phase.AGREED, Phase.AMENDED, Phase.WITHDRAWN])
def test_a_live_rider_expires_when_the_log_passes_its_date_range(phase: Phase) -> None:
    log = reach(phase)
    state = log.step(BEN, Message((IC,), "late"), at=CALL + 31 * DAY)
    assert state.phase is Phase.EXPIRED
    assert [h.input for h in state.history[-2:]] == ["expire", "message"]
