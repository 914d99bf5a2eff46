"""Privacy by construction: what each performer's devices receive holds no partner's sheet, no
refused request, and nothing a partner took back. The CLI's end-to-end test decrypts a real
profile; ``story()`` and ``visible_to`` are here for it to reuse."""

from __future__ import annotations

import pytest

from client.negotiation.audience import audience, performer_view, visible_to
from client.negotiation.brief import Request, SceneRequests
from client.negotiation.errors import SceneRuleError
from client.negotiation.scene import fold
from client.negotiation.statements import (
    BoundarySheet,
    CheckIn,
    Counter,
    FilmedMark,
    TransgressionReport,
    Withdrawal,
)
from client.negotiation.statements import (
    SceneRequests as Requests,
)
from tests.negotiation.builders import (
    ANA,
    BEN,
    CALL,
    IC,
    PRODUCER,
    Log,
    accept,
    brief,
    rider,
    sheet,
)

BEN_SECRET = "ben-private-note-7f3a"
ANA_SECRET = "ana-private-note-91c2"


def story() -> Log:
    """Two performers; Ben refuses what the director asked for; Ana counters and withdraws."""
    log = Log()
    log.add(IC, brief())
    log.add(
        IC,
        SceneRequests(
            (Request("kissing-with-tongue", ANA, BEN),),
            ((BEN, "buttocks"),),
            note="director wants more heat",
        ),
    )
    both = ["closed-mouth-kissing-lips", "holding-hands"]
    log.add(ANA, sheet(yes=[*both, "kissing-with-tongue"], notes=ANA_SECRET))
    log.add(BEN, sheet(yes=both, notes=BEN_SECRET))
    r1 = rider()
    log.add(IC, r1)
    log.add(ANA, Counter(1, r1.hash, f"slower please {ANA_SECRET}"))
    r2 = rider(2, r1, intensity=3)
    log.add(IC, r2)
    log.add(ANA, accept(r2))
    log.add(BEN, accept(r2))
    log.add(ANA, Withdrawal(whole=False, items=("zone:lips",), reason=ANA_SECRET))
    r3 = rider(3, r2, acts=[("holding-hands", ANA, BEN)], zones=("hands",))
    log.add(IC, r3)
    log.add(ANA, accept(r3))
    log.add(BEN, accept(r3))
    log.add(IC, FilmedMark(3, r3.hash))
    log.add(BEN, CheckIn("need-support", note=BEN_SECRET, wants_contact=True))
    return log


def test_sheets_counters_withdrawals_and_check_ins_reach_the_ic_only() -> None:
    b = brief()
    for statement in (
        sheet(),
        Counter(1, b"\0" * 32, "x"),
        Withdrawal(whole=True),
        CheckIn("ok"),
        TransgressionReport("crossing", "x", CALL),
    ):
        assert audience(statement, sender=ANA, brief=b) == {IC, ANA}
    assert audience(SceneRequests(), sender=IC, brief=b) == {IC}
    assert audience(rider(), sender=IC, brief=b) == {IC, ANA, BEN}
    assert audience(accept(rider()), sender=BEN, brief=b) == {IC, ANA, BEN}


def test_a_report_reaches_the_production_contact_only_when_chosen() -> None:
    chosen = TransgressionReport(
        "violation", "x", CALL, anonymous_to_production=False, send_to_production=True
    )
    assert audience(chosen, sender=ANA, brief=brief(contact=True)) == {IC, ANA, PRODUCER}
    with pytest.raises(SceneRuleError):
        audience(chosen, sender=ANA, brief=brief())


def test_withdrawal_reaches_ic_before_filming() -> None:
    log = story()
    ic_view = fold(visible_to(IC, log.events))
    assert [w.sent.sender for w in ic_view.withdrawals] == [ANA]
    assert not ic_view.withdrawals[0].after_filming


def test_no_performer_receives_a_partners_sheet_or_a_refused_request() -> None:
    log = story()
    for me, partner_secret in ((ANA, BEN_SECRET), (BEN, ANA_SECRET)):
        mine = visible_to(me, log.events)
        for event in mine:
            assert not isinstance(event.statement, Requests)  # the director's asks: IC only
            if isinstance(event.statement, BoundarySheet | Counter | Withdrawal | CheckIn):
                assert event.sender == me
            plaintext = event.statement.to_bytes()
            assert partner_secret.encode() not in plaintext
            assert b"kissing-with-tongue" not in plaintext or event.sender == me
            assert b"director wants" not in plaintext


def test_what_a_performer_is_shown_is_the_rider_and_what_matched() -> None:
    log = story()
    for me, secret in ((ANA, BEN_SECRET), (BEN, ANA_SECRET)):
        # The view from the IC's full state and from the performer's own fold are the same
        # apart from the phase, which depends on what each could read.
        full = performer_view(fold(log.events), me).to_json()
        own = performer_view(fold(visible_to(me, log.events)), me).to_json()
        assert secret not in repr(full) + repr(own)
        # A sheet lists every vocabulary id; outside the performer's own sheet, neither the
        # refused request nor the requested nudity may appear.
        shared = repr({k: v for k, v in own.items() if k != "my_sheet"})
        assert "kissing-with-tongue" not in shared and "buttocks" not in shared
        assert [a["act"] for a in own["my_acts"]] == ["holding-hands"]
        assert {k: v for k, v in full.items() if k != "phase"} == {
            k: v for k, v in own.items() if k != "phase"
        }


def test_bens_view_never_shows_that_ana_withdrew() -> None:
    log = story()
    ben = performer_view(fold(visible_to(BEN, log.events)), BEN)
    assert ben.my_withdrawals == () and ben.rider is not None and ben.rider.version == 3
