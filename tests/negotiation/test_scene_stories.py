"""The scene's rules as stories: agreement, amendment, withdrawal, filming, and refusals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.negotiation.errors import SceneRuleError
from client.negotiation.scene import Phase, fold, step
from client.negotiation.statements import (
    Acceptance,
    CheckIn,
    Counter,
    FilmedMark,
    Message,
    SceneClose,
    TransgressionReport,
    Withdrawal,
)
from tests.negotiation.builders import (
    ANA,
    BEN,
    CALL,
    DAY,
    HOUR,
    IC,
    OUTSIDER,
    Log,
    accept,
    agreed_log,
    brief,
    open_sheet,
    rider,
    sheet,
)


def refused(log: Log, sender: bytes, statement: object, at: int | None = None) -> SceneRuleError:
    with pytest.raises(SceneRuleError) as caught:
        log.step(sender, statement, at)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.endswith(".") and "\n" not in message  # one sentence for a person
    return caught.value


def test_rider_is_agreed_only_when_every_performer_accepted_the_same_version() -> None:
    log = Log()
    log.add(IC, brief())
    r1 = rider()
    log.add(IC, r1)
    assert log.step(ANA, accept(r1)).phase is Phase.PROPOSED
    state = log.step(BEN, accept(r1))
    assert state.phase is Phase.AGREED and state.current.agreed_at == log.now  # type: ignore[union-attr]


def test_accepting_a_superseded_version_is_refused() -> None:
    log = Log()
    log.add(IC, brief())
    r1 = rider()
    log.add(IC, r1)
    log.add(IC, rider(2, r1, intensity=3))
    error = refused(log, ANA, accept(r1))
    assert error.code == "superseded" and "superseded by version 2" in str(error)


def test_accepting_a_version_that_does_not_exist_is_refused() -> None:
    log = Log()
    log.add(IC, brief())
    log.add(IC, rider())
    error = refused(log, ANA, Acceptance(7, b"\1" * 32))
    assert error.code == "unknown-version" and "version 7 does not exist" in str(error)


def test_accepting_with_the_wrong_hash_is_refused() -> None:
    log = Log()
    log.add(IC, brief())
    log.add(IC, rider())
    assert refused(log, ANA, Acceptance(1, b"\1" * 32)).code == "hash-mismatch"


def test_amendment_needs_every_acceptance_again() -> None:
    log = agreed_log()
    r1 = log.state().current.rider  # type: ignore[union-attr]
    r2 = rider(2, r1, intensity=3)
    assert log.step(IC, r2).phase is Phase.AMENDED
    assert log.step(ANA, accept(r2)).phase is Phase.AMENDED
    assert log.step(BEN, accept(r2)).phase is Phase.AGREED


def test_widening_after_call_time_is_refused() -> None:
    log = agreed_log()
    r1 = log.state().current.rider  # type: ignore[union-attr]
    wider = rider(2, r1, acts=[("closed-mouth-kissing-lips", ANA, BEN), ("kissing-neck", ANA, BEN)])
    error = refused(log, IC, wider, at=CALL)
    assert error.code == "widening-after-call-time"
    assert "new act kissing-neck" in str(error) and "may only narrow" in str(error)


@pytest.mark.parametrize(
    "change",
    [
        {"intensity": 7},
        {"intensity": None},
        {"zones": ("lips", "face")},
        {"nudity": {ANA: ("bare-back",)}},
    ],
    ids=["looser intensity", "no intensity limit", "added zone", "more nudity"],
)
def test_every_kind_of_widening_after_call_time_is_refused(change: dict[str, object]) -> None:
    log = agreed_log()
    r1 = log.state().current.rider  # type: ignore[union-attr]
    assert refused(log, IC, rider(2, r1, **change), at=CALL + HOUR).code == (  # type: ignore[arg-type]
        "widening-after-call-time"
    )


def test_narrowing_after_call_time_is_allowed() -> None:
    log = agreed_log()
    r1 = log.state().current.rider  # type: ignore[union-attr]
    assert log.step(IC, rider(2, r1, intensity=2), at=CALL + HOUR).phase is Phase.AMENDED


def test_widening_a_minute_before_call_time_is_allowed_but_flagged_elsewhere() -> None:
    log = agreed_log()
    r1 = log.state().current.rider  # type: ignore[union-attr]
    assert log.step(IC, rider(2, r1, intensity=8), at=CALL - 60).phase is Phase.AMENDED


def test_withdrawal_reaches_the_ic_and_suspends_the_agreement_before_filming() -> None:
    log = agreed_log()
    state = log.step(ANA, Withdrawal(whole=False, items=("act:closed-mouth-kissing-lips",)))
    assert state.phase is Phase.WITHDRAWN
    record = state.withdrawals[-1]
    assert record.version == 1 and not record.after_filming
    assert state.open_withdrawals == (record,)


def test_marking_filmed_a_rider_with_an_unresolved_withdrawal_is_refused() -> None:
    log = agreed_log()
    r1 = log.state().current.rider  # type: ignore[union-attr]
    log.add(ANA, Withdrawal(whole=True))
    error = refused(log, IC, FilmedMark(1, r1.hash))
    assert error.code == "withdrawn"
    assert refused(log, BEN, accept(r1)).code == "withdrawn"


def test_a_new_version_resolves_a_withdrawal_once_everyone_accepts_it() -> None:
    log = agreed_log()
    r1 = log.state().current.rider  # type: ignore[union-attr]
    log.add(ANA, Withdrawal(whole=False, items=("zone:lips",), reason="not today"))
    r2 = rider(2, r1, acts=[("hand-on-shoulders-arms", ANA, BEN)], zones=("shoulders",))
    state = log.step(IC, r2)
    assert state.phase is Phase.AMENDED and state.open_withdrawals == ()
    log.add(ANA, accept(r2))
    log.add(BEN, accept(r2))
    assert log.step(IC, FilmedMark(2, r2.hash)).phase is Phase.FILMED


def test_withdrawal_after_filming_is_recorded_and_marked_so() -> None:
    log = agreed_log()
    r1 = log.state().current.rider  # type: ignore[union-attr]
    log.add(IC, FilmedMark(1, r1.hash, shots="12A-12F"))
    state = log.step(BEN, Withdrawal(whole=True, reason="changed my mind"))
    assert state.phase is Phase.FILMED
    assert state.withdrawals[-1].after_filming


def test_a_filmed_mark_cannot_cover_an_act_withdrawn_after_partial_filming() -> None:
    log = agreed_log(
        rider(
            acts=[("closed-mouth-kissing-lips", ANA, BEN), ("hand-on-back", ANA, BEN)],
            zones=("lips", "back"),
        )
    )
    r1 = log.state().current.rider  # type: ignore[union-attr]
    log.add(IC, FilmedMark(1, r1.hash, acts=("closed-mouth-kissing-lips",)))
    log.add(BEN, Withdrawal(whole=False, items=("act:hand-on-back",)))
    assert refused(log, IC, FilmedMark(1, r1.hash, acts=("hand-on-back",))).code == "withdrawn"


def test_marking_filmed_before_agreement_is_refused_with_counts() -> None:
    log = Log()
    log.add(IC, brief())
    r1 = rider()
    log.add(IC, r1)
    log.add(ANA, accept(r1))
    error = refused(log, IC, FilmedMark(1, r1.hash))
    assert error.code == "not-agreed" and "accepted by 1/2 performers" in str(error)


def test_a_statement_from_a_non_member_is_refused() -> None:
    log = agreed_log()
    assert refused(log, OUTSIDER, Message((IC,), "let me in")).code == "non-member"


def test_a_performer_cannot_propose_a_rider_or_mark_it_filmed() -> None:
    log = agreed_log()
    r1 = log.state().current.rider  # type: ignore[union-attr]
    assert refused(log, ANA, rider(2, r1, intensity=1)).code == "not-ic"
    assert refused(log, ANA, FilmedMark(1, r1.hash)).code == "not-ic"


def test_the_ic_cannot_accept_or_withdraw_for_a_performer() -> None:
    log = Log()
    log.add(IC, brief())
    r1 = rider()
    log.add(IC, r1)
    assert "signs a rider by proposing it" in str(refused(log, IC, accept(r1)))
    assert refused(log, IC, Withdrawal(whole=True)).code == "not-performer"


def test_the_scene_starts_with_the_ics_brief() -> None:
    assert refused(Log(), ANA, brief()).code == "no-brief"
    assert refused(Log(), ANA, sheet()).code == "no-brief"


def test_rider_versions_must_chain_by_number_and_hash() -> None:
    log = Log()
    log.add(IC, brief())
    r1 = rider()
    log.add(IC, r1)
    assert refused(log, IC, rider(3, r1)).code == "version-order"
    assert refused(log, IC, rider(2, rider(intensity=9))).code == "version-order"


def test_statements_after_the_scene_is_closed_are_refused_but_withdrawals_are_recorded() -> None:
    log = agreed_log()
    log.add(IC, SceneClose("production cancelled"))
    # Aftercare outlives the scene: a check-in after closing is still taken (rule set 2).
    assert len(log.step(ANA, CheckIn("ok", "I needed a day; fine now.")).check_ins) == 1
    assert refused(log, BEN, Counter(1, log.state().current.hash, "x")).code == "not-now"  # type: ignore[union-attr]
    state = log.step(ANA, Withdrawal(whole=True))
    assert state.phase is Phase.CLOSED and len(state.withdrawals) == 1
    report = TransgressionReport("violation", "an unlisted visitor watched", CALL)
    assert len(log.step(ANA, report).reports) == 1


def test_an_expired_rider_cannot_be_accepted_and_is_renewed_by_a_new_version() -> None:
    log = Log()
    log.add(IC, brief())
    r1 = rider(valid_until=CALL + DAY)
    log.add(IC, r1)
    assert refused(log, ANA, accept(r1), at=CALL + 2 * DAY).code == "expired"
    r2 = rider(2, r1, valid_until=CALL + 20 * DAY, call=CALL + 3 * DAY)
    assert log.step(IC, r2, at=CALL + 2 * DAY).phase is Phase.PROPOSED


def test_fold_keeps_refused_statements_and_goes_on() -> None:
    log = agreed_log()
    log.add(OUTSIDER, Message((IC,), "hi"))
    log.add(ANA, CheckIn("ok"))
    state = log.state()
    assert state.phase is Phase.AGREED and len(state.check_ins) == 1
    assert [r.code for r in state.refused] == ["non-member"]
    with pytest.raises(SceneRuleError):
        log.strict()


def test_the_same_envelope_delivered_twice_is_folded_once() -> None:
    log = agreed_log()
    log.add(ANA, CheckIn("ok"))
    twice = [*log.events, log.events[-1]]
    assert len(fold(twice).check_ins) == 1


def test_a_sender_whose_identity_role_differs_from_the_brief_is_refused() -> None:
    log = Log()
    log.add(IC, brief())
    event = log.event(ANA, sheet())
    from dataclasses import replace

    log.events.append(replace(event, role="ic"))
    assert [r.code for r in log.state().refused] == ["wrong-role"]


# --- properties ----------------------------------------------------------------------------

R1 = rider()
R2 = rider(2, R1, intensity=3)
POOL = [
    (IC, brief()), (ANA, open_sheet()), (BEN, open_sheet()), (IC, R1), (ANA, accept(R1)),
    (BEN, accept(R1)), (IC, R2), (ANA, accept(R2)), (BEN, accept(R2)),
    (BEN, Counter(1, R1.hash, "slower")), (IC, FilmedMark(1, R1.hash)),
    (IC, FilmedMark(2, R2.hash)), (ANA, CheckIn("ok")), (OUTSIDER, Message((IC,), "x")),
    (IC, SceneClose("wrap")), (ANA, Withdrawal(whole=True)),
    (BEN, Withdrawal(whole=False, items=("nudity:buttocks",))),
]  # fmt: skip
WITHDRAWALS = {id(s) for _, s in POOL if isinstance(s, Withdrawal)}


def _log(choices: list[int], gaps: list[int]) -> Log:
    log = Log()
    log.add(IC, brief())
    for pick, gap in zip(choices, gaps, strict=False):
        sender, statement = POOL[pick]
        log.add(sender, statement, at=log.now + gap)
    return log


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, len(POOL) - 1), max_size=25),
    st.lists(st.integers(1, 3 * DAY), min_size=25, max_size=25),
    st.randoms(),
)
def test_fold_is_deterministic_and_follows_log_order_not_delivery_order(
    choices: list[int], gaps: list[int], rnd: object
) -> None:
    log = _log(choices, gaps)
    shuffled = list(log.events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert fold(log.events) == fold(log.events) == fold(shuffled)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, len(POOL) - 1), max_size=25),
    st.lists(st.integers(1, 3 * DAY), min_size=25, max_size=25),
)
def test_a_performers_withdrawal_is_always_recorded_whatever_came_before(
    choices: list[int], gaps: list[int]
) -> None:
    log = _log(choices, gaps)
    before = fold(log.events)  # refused statements stay in the log; the fold goes on
    item = "act:closed-mouth-kissing-lips"  # what every rider of the pool holds
    state = step(before, log.event(ANA, Withdrawal(whole=False, items=(item,))))
    assert len(state.withdrawals) == len(before.withdrawals) + 1
    assert state.withdrawals[-1].after_filming == bool(before.filmed)
    assert state.phase not in (Phase.AGREED, Phase.AMENDED, Phase.PROPOSED)
