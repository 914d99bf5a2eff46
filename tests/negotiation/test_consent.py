"""Rule set 2 through the pure domain: the rider is held to each performer's sheet, and a
withdrawal (or a narrower sheet) sticks until that performer says yes again."""

from __future__ import annotations

from dataclasses import replace

import pytest

from client.negotiation import consent
from client.negotiation.audience import visible_to
from client.negotiation.errors import SceneRuleError
from client.negotiation.rider import PerformerTerms, Rider, RiderAct
from client.negotiation.scene import Phase, fold
from client.negotiation.sheet import ClosedSet, Doubles, Signals
from client.negotiation.statements import FilmedMark, SceneBrief, Withdrawal
from tests.negotiation.builders import (
    ANA,
    BEN,
    CALL,
    HOUR,
    IC,
    Log,
    accept,
    agreed_log,
    brief,
    open_sheet,
    rider,
    sheet,
)

SIG = Signals(nonverbal="two taps")


def terms(performer: bytes, *args: object, **kw: object) -> PerformerTerms:
    """Performer terms carrying the builders' sheet signals, as rule set 2 asks."""
    return PerformerTerms(performer, *args, signals=SIG, **kw)  # type: ignore[arg-type]


KISS = "closed-mouth-kissing-lips"
NECK = "kissing-neck"


def sheets_in(ana: object, ben: object) -> Log:
    log = Log()
    log.add(IC, brief())
    log.add(ANA, ana)  # type: ignore[arg-type]
    log.add(BEN, ben)  # type: ignore[arg-type]
    return log


def refused(log: Log, statement: object, sender: bytes = IC) -> SceneRuleError:
    before = len(log.events)
    with pytest.raises(SceneRuleError) as caught:
        log.step(sender, statement)  # type: ignore[arg-type]
    assert len(log.events) == before  # refused: nothing was added to the thread
    message = str(caught.value)
    assert message.endswith(".") and "\n" not in message
    return caught.value


def refused_at(log: Log, sender: bytes, statement: object, at: int) -> SceneRuleError:
    before = len(log.events)
    with pytest.raises(SceneRuleError) as caught:
        log.step(sender, statement, at)  # type: ignore[arg-type]
    assert len(log.events) == before
    log.now = at - 60 if at < log.now else log.now  # the log's clock never runs backwards
    return caught.value


def with_acts(*acts: RiderAct, version: int = 1, previous: Rider | None = None) -> Rider:
    base = rider(version, previous)
    return replace(base, acts=acts)


def test_an_act_a_performer_answered_no_is_refused_naming_them_the_item_and_the_answer() -> None:
    log = sheets_in(sheet(yes=[KISS, "open-mouth-kissing"]), sheet(yes=[KISS]))
    error = refused(log, rider(acts=[("open-mouth-kissing", ANA, BEN)]))
    assert error.code == "outside-sheet"
    assert 'open-mouth kissing for Ben, who answered "no"' in str(error), error


def test_a_direction_answered_no_is_refused_even_when_the_other_direction_is_yes() -> None:
    ana = sheet(yes=[KISS, NECK])
    ben = sheet(yes=[KISS, f"{NECK}:giving"])  # Ben gives a neck kiss, never receives one
    log = sheets_in(ana, ben)
    error = refused(log, with_acts(RiderAct(NECK, ANA, BEN, ("neck",), 3)))
    assert error.code == "outside-sheet" and "(receiving) for Ben" in str(error)
    assert log.step(IC, with_acts(RiderAct(NECK, BEN, ANA, ("neck",), 3))).phase is Phase.PROPOSED


def test_a_never_zone_is_refused() -> None:
    log = sheets_in(open_sheet(), open_sheet(zones={"neck": "never"}))
    error = refused(log, with_acts(RiderAct(NECK, ANA, BEN, ("neck",), 3)))
    assert 'zone neck for Ben, who answered "never"' in str(error)
    ok = with_acts(RiderAct(NECK, ANA, BEN, ("back-of-neck",), 3))
    assert log.step(IC, ok).phase is Phase.PROPOSED


def test_a_contradictory_sheet_is_refused_by_the_fold() -> None:
    log = Log()
    log.add(IC, brief())
    error = refused(log, open_sheet(zones={"lips": "never"}), ANA)  # a kiss yes, lips never
    assert error.code == "contradictory-sheet" and "acts.closed-mouth-kissing-lips" in str(error)
    rear = consent.contradictions(sheet(nudity=["bare-back"], zones={"back": "never"}))
    assert [c.path for c in rear] == [("nudity", "bare-back")]
    # Giving touches the partner's body: no contradiction with one's own "never".
    giving = sheet(yes=[f"{NECK}:giving"], zones={"neck": "never", "back-of-neck": "never"})
    assert consent.contradictions(giving) == []


def test_intensity_above_a_limit_or_no_limit_against_a_limit_is_refused() -> None:
    log = sheets_in(open_sheet(), open_sheet(intensity={KISS: 3}))
    assert "a limit of 3" in str(refused(log, rider(intensity=5)))
    assert "a limit of 3" in str(refused(log, rider(intensity=None)))
    assert log.step(IC, rider(intensity=3)).phase is Phase.PROPOSED


def test_nudity_footage_doubles_and_garments_beyond_the_sheet_are_refused() -> None:
    ben = open_sheet(nudity=["bare-back"])
    ben = replace(ben, garments=("modesty-pouch",), footage=("trailer",))
    log = sheets_in(open_sheet(), ben)
    base = rider()
    wanted = terms(BEN, ("bare-back",), ("modesty-pouch",), ("trailer",))
    cases = {
        "nudity: buttocks": replace(wanted, nudity=("bare-back", "buttocks")),
        "footage use: social media": replace(wanted, footage=("social-media", "trailer")),
        "digital replica": replace(wanted, doubles=Doubles(digital_replica=True)),
        "no modesty pouch for ben, who asked for it": replace(wanted, garments=()),
    }
    for words, bens in cases.items():
        r = replace(base, performers=(terms(ANA), bens))
        error = refused(log, r)
        assert error.code == "outside-sheet" and words.lower() in str(error).lower(), error
        assert "for Ben" in str(error)
    ok = replace(base, performers=(terms(ANA), wanted))
    assert log.step(IC, ok).phase is Phase.PROPOSED


def test_closed_set_people_monitors_and_stills_beyond_the_answers_are_refused() -> None:
    ana = replace(open_sheet(), closed_set=ClosedSet(("director",), ("director",), True))
    ben = replace(open_sheet(), closed_set=ClosedSet(("director", "DP"), ("director",), False))
    log = sheets_in(ana, ben)
    base = rider()
    for closed, words in (
        (ClosedSet(("DP", "director")), "DP on the closed set for Ana"),
        (ClosedSet(("director",), ("DP", "director")), "DP at the monitors for"),
        (ClosedSet(("director",), (), True), "stills for Ben"),
    ):
        assert words in str(refused(log, replace(base, closed_set=closed)))
    assert log.step(IC, replace(base, closed_set=ClosedSet(("director",)))).phase is Phase.PROPOSED


def test_maybe_needs_the_ics_discussion_note_and_ask_first_needs_its_marker() -> None:
    log = sheets_in(open_sheet(maybe=[KISS], yes=[]), open_sheet(ask=[KISS], yes=[]))
    plain = RiderAct(KISS, ANA, BEN, ("lips",), 3)
    codes = {b.code for b in consent.breaches(with_acts(plain), log.state().consents())}
    assert codes == {"not-discussed", "ask-first-unmarked"}
    assert "not discussed" in str(refused(log, with_acts(plain))).replace(
        "no note that it was", "not"
    )
    marked = replace(plain, ask_first=True, discussed="Talked it through with Ana on 3 Jan.")
    state = log.step(IC, with_acts(marked))
    assert state.phase is Phase.PROPOSED
    # Ana, who said maybe, is shown the act to confirm explicitly, with the IC's note.
    ana = state.consents()[ANA]
    assert [(ra.discussed, item) for ra, item in consent.to_confirm(state.current.rider, ana)] == [  # type: ignore[union-attr]
        ("Talked it through with Ana on 3 Jan.", f"act:{KISS}")
    ]
    assert consent.to_confirm(state.current.rider, state.consents()[BEN]) == []  # type: ignore[union-attr]


def test_the_ask_first_marker_and_note_are_signed_and_read_back() -> None:
    r = with_acts(RiderAct(KISS, ANA, BEN, ("lips",), 3, ask_first=True, discussed="ok"))
    assert Rider.from_json(r.to_json()) == r
    old = rider()  # no marker, no note: the bytes are those of a rider before rule set 2
    assert b"ask_first" not in old.to_bytes() and b"discussed" not in old.to_bytes()


def test_the_ics_view_refuses_a_rider_before_every_sheet_is_in() -> None:
    log = Log()
    log.add(IC, brief())
    log.add(ANA, open_sheet())
    event = log.event(IC, rider())
    from client.negotiation.scene import step

    with pytest.raises(SceneRuleError) as caught:
        step(fold(log.events, viewer=IC), event)
    assert caught.value.code == "no-sheet" and "waiting for Ben" in str(caught.value)


def test_a_performers_own_fold_checks_their_own_items() -> None:
    log = sheets_in(open_sheet(), sheet(yes=[]))  # Ben said no to everything
    log.add(IC, rider())  # written to the log whatever the IC's client says
    bens = fold(visible_to(BEN, log.events), viewer=BEN)
    assert [r.code for r in bens.refused] == ["outside-sheet"]
    assert bens.current is None  # nothing for Ben to accept


def test_rule_set_1_scenes_read_as_they_were_signed() -> None:
    old = replace(brief(union=False), rules=1)
    assert b'"rules"' not in old.to_bytes()
    assert SceneBrief.from_json(old.to_json()) == old
    log = Log()
    log.add(IC, old)
    log.add(ANA, sheet(yes=[]))
    log.add(BEN, sheet(yes=[]))
    assert log.step(IC, rider()).phase is Phase.PROPOSED  # not reinterpreted by rule set 2


# --- withdrawals stick ----------------------------------------------------------------------


def withdrawn_log() -> tuple[Log, Rider]:
    r1 = rider(acts=[(KISS, ANA, BEN), ("holding-hands", ANA, BEN)], zones=())
    log = agreed_log(r1)
    log.add(ANA, Withdrawal(whole=False, items=("act:holding-hands",)))
    assert log.state().phase is Phase.WITHDRAWN
    return log, r1


def test_a_version_that_re_adds_a_withdrawn_item_is_refused() -> None:
    log, r1 = withdrawn_log()
    again = rider(
        2, r1, acts=[(KISS, ANA, BEN), ("holding-hands", ANA, BEN)], zones=(), intensity=3
    )
    error = refused(log, again)
    assert error.code == "re-adds-withdrawn" and "holding hands for Ana, who withdrew it" in str(
        error
    )
    without = rider(2, r1, acts=[(KISS, ANA, BEN)], zones=())
    assert log.step(IC, without).phase is Phase.AMENDED
    # ...and still refused in version 3, after the withdrawal was answered.
    error = refused(
        log, rider(3, without, acts=[(KISS, ANA, BEN), ("holding-hands", ANA, BEN)], zones=())
    )
    assert error.code == "re-adds-withdrawn"


def test_a_newer_sheet_re_grants_a_withdrawn_item() -> None:
    log, r1 = withdrawn_log()
    v2 = rider(2, r1, acts=[(KISS, ANA, BEN)], zones=())
    log.add(IC, v2)
    log.add(ANA, open_sheet())  # Ana says yes again, in a newer sheet
    v3 = rider(3, v2, acts=[(KISS, ANA, BEN), ("holding-hands", ANA, BEN)], zones=())
    assert log.step(IC, v3).phase is Phase.AMENDED


def test_an_explicit_re_grant_lets_a_withdrawn_item_back_in() -> None:
    from client.negotiation.statements import ReGrant

    log, r1 = withdrawn_log()
    v2 = rider(2, r1, acts=[(KISS, ANA, BEN)], zones=())
    log.add(IC, v2)
    log.add(ANA, ReGrant(("act:holding-hands",), "Talked it over; yes again."))
    assert "act:holding-hands" not in log.state().withdrawn(ANA)
    v3 = rider(3, v2, acts=[(KISS, ANA, BEN), ("holding-hands", ANA, BEN)], zones=())
    assert log.step(IC, v3).phase is Phase.AMENDED


def test_the_template_never_drafts_a_withdrawn_item() -> None:
    log, r1 = withdrawn_log()
    drafted = consent.clamp(r1, log.state().consents())
    assert [a.act for a in drafted.acts] == [KISS]


def test_filming_a_withdrawn_item_is_refused_and_an_untouched_act_may_be_filmed() -> None:
    log, r1 = withdrawn_log()
    error = refused(log, FilmedMark(1, r1.hash, ("holding-hands",)))
    assert error.code == "withdrawn"


def test_withdrawing_an_item_the_rider_does_not_hold_blocks_nothing_but_narrows_the_sheet() -> None:
    log = agreed_log()
    state = log.step(ANA, Withdrawal(whole=False, items=("act:holding-hands",)))
    assert state.phase is Phase.AGREED and not state.withdrawals[-1].blocks
    assert state.open_withdrawals == ()
    assert "act:holding-hands" in state.withdrawn(ANA)
    r1 = state.current.rider  # type: ignore[union-attr]
    assert log.step(IC, FilmedMark(1, r1.hash)).phase is Phase.FILMED


def test_withdrawing_an_unheld_item_then_proposing_it_is_refused() -> None:
    log = agreed_log()
    log.add(ANA, Withdrawal(whole=False, items=("act:holding-hands",)))
    r1 = log.state().current.rider  # type: ignore[union-attr]
    wider = rider(2, r1, acts=[(KISS, ANA, BEN), ("holding-hands", ANA, BEN)], zones=())
    assert refused(log, wider).code == "re-adds-withdrawn"


def test_a_narrower_sheet_after_agreement_counts_as_a_withdrawal() -> None:
    log = agreed_log()
    state = log.step(BEN, open_sheet(yes=["holding-hands"]))  # no longer the kiss
    assert state.phase is Phase.WITHDRAWN
    record = state.withdrawals[-1]
    assert record.by_sheet and record.blocks and record.sent.sender == BEN
    assert f"act:{KISS}" in record.items
    r1 = state.current.rider  # type: ignore[union-attr]
    assert refused(log, FilmedMark(1, r1.hash)).code == "withdrawn"
    assert refused(log, accept(r1), BEN).code == "withdrawn"


def test_a_narrower_sheet_about_what_the_rider_does_not_hold_changes_nothing() -> None:
    log = agreed_log()
    narrower = open_sheet(yes=[KISS])  # no to everything but the kiss the rider holds
    state = log.step(BEN, narrower)
    assert state.phase is Phase.AGREED and state.withdrawals == ()


# --- time rules without loopholes ----------------------------------------------------------


def test_widening_is_judged_when_a_performer_accepts_not_when_the_ic_proposes() -> None:
    log = agreed_log()
    r1 = log.state().current.rider  # type: ignore[union-attr]
    wider = rider(2, r1, acts=[(KISS, ANA, BEN), ("holding-hands", ANA, BEN)], zones=())
    log.add(IC, wider, at=CALL - 60)  # a minute before call time: allowed to propose
    error = refused_at(log, ANA, accept(wider), CALL + 60)
    assert error.code == "widening-after-call-time" and "new act holding-hands" in str(error)
    log.add(ANA, accept(wider), at=CALL - 30)  # before call time it may be accepted
    assert log.state().accepted(2) == {ANA}


def test_a_first_agreement_after_call_time_is_refused() -> None:
    log = sheets_in(open_sheet(), open_sheet())
    r1 = rider()
    log.add(IC, r1)
    error = refused_at(log, ANA, accept(r1), CALL + 60)
    assert error.code == "first-agreement-after-call-time"


def test_changes_to_framing_signals_and_dates_after_call_time_are_widening() -> None:
    log = agreed_log()
    r1 = log.state().current.rider  # type: ignore[union-attr]
    for change in (
        {"description": "Now framed from the waist up."},
        {"signals": replace(r1.signals, stop="Banana")},
        {"call_time": CALL + HOUR},
    ):
        r2 = replace(r1, version=2, previous=r1.hash, **change)  # type: ignore[arg-type]
        assert refused_at(log, IC, r2, CALL + 60).code == "widening-after-call-time"


def test_the_short_notice_flag_covers_every_increase_in_exposure() -> None:
    from client.negotiation.rider import exposure_increases
    from client.negotiation.timing import flags

    log = agreed_log()
    r1 = log.state().current.rider  # type: ignore[union-attr]
    wider = rider(2, r1, acts=[(KISS, ANA, BEN), ("holding-hands", ANA, BEN)], zones=("lips",))
    log.add(IC, wider, at=CALL - HOUR)
    found = [f for f in flags(log.state(), CALL) if f.code == "short-notice"]
    assert found and "new act holding-hands" in found[0].message
    # Beyond new acts and nudity: a dropped garment, a zone, a replica, stills, more people.
    base = replace(r1, performers=(terms(ANA, garments=("modesty-pouch",)),
                                   terms(BEN)))  # fmt: skip
    more = replace(
        base,
        acts=(replace(base.acts[0], zones=("lips", "face"), intensity=7),),
        performers=(
            terms(ANA),
            terms(BEN, doubles=Doubles(digital_replica=True)),
        ),
        closed_set=ClosedSet(("DP",), ("DP",), True),
    )
    assert set(exposure_increases(base, more)) == {
        "closed-mouth-kissing-lips adds zone face",
        "closed-mouth-kissing-lips loosens intensity 5 to 7",
        "drops garment modesty-pouch",
        "allows digital replica",
        "adds DP to the closed set",
        "adds DP to monitors",
        "allows stills",
    }


def test_filming_outside_the_consent_dates_is_refused_even_after_a_first_mark() -> None:
    two = rider(acts=[(KISS, ANA, BEN), ("holding-hands", ANA, BEN)], zones=())
    log = agreed_log(two)
    early = refused_at(log, IC, FilmedMark(1, two.hash, (KISS,)), two.valid_from - 60)
    assert early.code == "not-yet-valid"
    log.add(IC, FilmedMark(1, two.hash, (KISS,)), at=CALL)
    late = refused_at(log, IC, FilmedMark(1, two.hash, ("holding-hands",)), two.valid_until + 1)
    assert late.code == "expired"


def test_after_a_partial_mark_an_unfilmed_withdrawal_is_resolved_by_a_narrower_version() -> None:
    two = rider(acts=[(KISS, ANA, BEN), ("holding-hands", ANA, BEN)], zones=())
    log = agreed_log(two)
    log.add(IC, FilmedMark(1, two.hash, (KISS,)), at=CALL)
    state = log.step(ANA, Withdrawal(whole=False, items=("act:holding-hands",)))
    assert not state.withdrawals[-1].after_filming  # holding hands was never filmed
    assert refused(log, FilmedMark(1, two.hash, ("holding-hands",))).code == "withdrawn"
    # A version changing the filmed kiss is refused; one dropping the unfilmed act is not.
    changed = rider(2, two, acts=[(KISS, ANA, BEN)], zones=(), intensity=2)
    assert refused(log, changed).code == "filmed"
    narrower = rider(2, two, acts=[(KISS, ANA, BEN)], zones=())
    assert log.step(IC, narrower).phase is Phase.AMENDED
    log.add(ANA, accept(narrower))
    assert log.step(BEN, accept(narrower)).phase is Phase.AGREED
    # The kiss stays filmed; a later withdrawal of it is recorded as after filming.
    state = log.step(BEN, Withdrawal(whole=False, items=(f"act:{KISS}",)))
    assert state.withdrawals[-1].after_filming
    assert refused(log, FilmedMark(2, narrower.hash, (KISS,))).code in ("filmed", "withdrawn")


def late_log(union_agreement: bool = True) -> tuple[Log, Rider]:
    """A rider first agreed 30 hours before call time."""
    log = Log(now=CALL - 31 * HOUR)
    log.add(IC, replace(brief(), union_agreement=union_agreement))
    log.add(ANA, open_sheet())
    log.add(BEN, open_sheet())
    r1 = rider()
    log.add(IC, r1)
    log.add(ANA, accept(r1))
    log.add(BEN, accept(r1), at=CALL - 30 * HOUR)
    return log, r1


def test_the_48_hour_floor_refuses_filming_unless_the_union_rep_waives_it() -> None:
    from client.negotiation.statements import Waiver
    from tests.negotiation.builders import UNION

    log, r1 = late_log()
    error = refused(log, FilmedMark(1, r1.hash))
    assert error.code == "notice-floor" and "30.0 hours before call time" in str(error)
    # A performer cannot waive a contractual minimum; only the union representative can.
    assert refused(log, Waiver(1, r1.hash, "I am fine with it"), ANA).code == "not-union-rep"
    log.add(UNION, Waiver(1, r1.hash, "Schedule moved by the studio; all agreed in person."))
    assert log.step(IC, FilmedMark(1, r1.hash)).phase is Phase.FILMED


def test_without_a_union_agreement_late_filming_is_flagged_and_recorded_on_the_mark() -> None:
    from client.negotiation.timing import flags, notice_findings

    log, r1 = late_log(union_agreement=False)
    assert refused(log, FilmedMark(1, r1.hash)).code == "notice-unrecorded"
    findings = notice_findings(log.state())
    state = log.step(IC, FilmedMark(1, r1.hash, notice=findings))
    found = [f for f in flags(state, CALL) if f.code == "notice-floor-recorded"]
    assert found and found[0].performer is None  # shown to the IC and every performer


# --- minimums that cannot be waived --------------------------------------------------------

GRIND = "grinding-clothed"  # touches the genital area (a vocabulary property)


def test_genital_area_contact_needs_a_barrier_garment_for_each_performer() -> None:
    log = sheets_in(open_sheet(), open_sheet())
    act = RiderAct(GRIND, ANA, BEN, ("thighs", "genital-area"), 3)
    one = replace(
        with_acts(act), performers=(terms(ANA, garments=("modesty-pouch",)),
                                    terms(BEN))
    )  # fmt: skip
    error = refused(log, one)
    assert error.code == "no-barrier" and "for Ben, who has no barrier" in str(error)
    # A garment that is no barrier (a robe) does not count; a barrier cushion does.
    robe = replace(
        one, performers=(one.performers[0], terms(BEN, garments=("robe-between-takes",)))
    )
    assert refused(log, robe).code == "no-barrier"
    ok = replace(one, performers=(one.performers[0], terms(BEN, garments=("barrier-cushion",))))
    assert log.step(IC, ok).phase is Phase.PROPOSED
    # The same act kept off the genital area has no such minimum.
    assert consent.minimum_breaches(with_acts(replace(act, zones=("thighs",)))) == []


def test_an_old_rule_set_rider_breaking_a_new_minimum_is_flagged_not_reinterpreted() -> None:
    from client.negotiation.timing import flags

    log = Log()
    log.add(IC, replace(brief(union=False), rules=1))
    log.add(IC, with_acts(RiderAct(GRIND, ANA, BEN, ("genital-area",), 3)))
    state = log.state()
    assert state.phase is Phase.PROPOSED  # read as it was signed
    assert {f.code for f in flags(state, CALL)} >= {"minimum-broken"}


def test_a_replica_needs_its_own_consent_statement_which_is_withdrawable_on_its_own() -> None:
    from client.negotiation.statements import ReplicaConsent

    replica = replace(open_sheet(), doubles=Doubles(digital_replica=True))
    log = sheets_in(open_sheet(), replica)
    base = rider()
    with_replica = replace(
        base,
        performers=(
            terms(ANA),
            terms(BEN, doubles=Doubles(digital_replica=True)),
        ),
    )
    error = refused(log, with_replica)
    assert error.code == "no-replica-consent" and "for Ben, who has given no separate" in str(error)
    with pytest.raises(Exception, match="intended use"):
        ReplicaConsent("yes")
    use = "Face scan for the storm sequence, this film only, deleted at wrap."
    log.add(BEN, ReplicaConsent(use))
    assert log.state().replica(BEN).statement.use == use  # type: ignore[union-attr]
    assert log.step(IC, with_replica).phase is Phase.PROPOSED
    log.add(ANA, accept(with_replica))
    log.add(BEN, accept(with_replica))
    # Withdrawn on its own: the replica is out of force and the rider holding it is blocked.
    state = log.step(BEN, Withdrawal(whole=False, items=("digital-replica",)))
    assert state.replica(BEN) is None and state.phase is Phase.WITHDRAWN
    assert refused(log, FilmedMark(1, with_replica.hash)).code == "withdrawn"


# --- reports and aftercare reach someone ---------------------------------------------------


def test_check_in_reminders_survive_closing_and_respect_a_none_preference() -> None:
    from client.negotiation.statements import SceneClose
    from client.negotiation.timing import flags

    log = agreed_log(sheets={BEN: replace(open_sheet(), check_in="none")})
    r1 = log.state().current.rider  # type: ignore[union-attr]
    log.add(IC, FilmedMark(1, r1.hash), at=CALL)
    log.add(IC, SceneClose("wrapped"), at=CALL + HOUR)
    due = [f.performer for f in flags(log.state(), CALL + 30 * HOUR) if f.code == "check-in-due"]
    assert due == [ANA]  # Ben chose "none"; closing the scene dropped nothing


def test_reports_check_ins_and_counters_are_read_in_full_in_plain_words() -> None:
    from client.negotiation import words
    from client.negotiation.statements import CheckIn, Counter, TransgressionReport
    from client.views.people import Names
    from client.views.thread import summary

    long = "The hand moved to my thigh in take three, after I had said no in rehearsal. " * 3
    report = TransgressionReport("violation", long, CALL, (BEN,), anonymous_to_production=True)
    names = Names(brief())
    assert long.strip() in summary(report, names) and "Ben" in summary(report, names)
    note = "Still shaky; " * 20
    assert note.strip() in summary(CheckIn("need-support", note, True), names)
    assert "x" * 300 in summary(Counter(1, b"\1" * 32, "x" * 300), names)
    assert words.kind(report) == "transgression report"
    sheet_words = "\n".join(words.in_words(open_sheet(notes="allergic to latex"), names))
    assert "allergic to latex" in sheet_words and "BoundarySheet" not in sheet_words


# --- per-performer terms stay per performer ------------------------------------------------


def test_each_performers_own_signals_are_in_the_shared_rider() -> None:
    from client.negotiation.forms import next_rider_template, parse_rider

    ana = open_sheet()
    ben = replace(open_sheet(), signals=Signals(nonverbal="hand flat on the floor", stop="Stop"))
    log = sheets_in(ana, ben)
    error = refused(log, rider())  # Ben's terms carry Ana's signals
    assert error.code == "signals" and "their signals for Ben" in str(error)
    drafted = next_rider_template(log.state(), CALL - 120 * HOUR)
    assert 'nonverbal = "hand flat on the floor"' in drafted and 'nonverbal = "two taps"' in drafted
    parsed = parse_rider(fill_description(drafted), brief())
    assert parsed.terms(BEN).signals == ben.signals and parsed.terms(ANA).signals == ana.signals


def fill_description(text: str) -> str:
    return text.replace('description = ""', 'description = "A kiss."')


def test_a_report_involving_the_ic_never_goes_to_the_ic_alone() -> None:
    from client.negotiation.audience import audience
    from client.negotiation.statements import TransgressionReport
    from tests.negotiation.builders import PRODUCER, UNION

    about_ic = TransgressionReport("violation", "The IC pressed me to agree", CALL, (IC,))
    with pytest.raises(SceneRuleError) as caught:
        audience(about_ic, sender=ANA, brief=brief())
    assert caught.value.code == "report-about-ic" and "union representative" in str(caught.value)
    with pytest.raises(SceneRuleError):
        audience(about_ic, sender=ANA, brief=brief(union=False))  # nobody else to send it to
    to_union = replace(about_ic, send_to_union_rep=True)  # anonymous, to the union rep
    assert audience(to_union, sender=ANA, brief=brief()) == {IC, ANA, UNION}
    assert UNION not in audience(rider(), sender=IC, brief=brief())  # only what is theirs
    named = replace(about_ic, anonymous_to_production=False, send_to_production=True)
    assert audience(named, sender=ANA, brief=brief(contact=True)) == {IC, ANA, PRODUCER}


# --- minors and guardians -----------------------------------------------------------------

GUARDIAN = bytes([9]) * 32


def minor_brief() -> SceneBrief:
    from client.negotiation.brief import Participant

    b = brief()
    people = [replace(p, minor=True) if p.identity == ANA else p for p in b.participants] + [
        Participant(GUARDIAN, "guardian", "Gina (Ana's mother)", of=ANA)
    ]
    return replace(b, participants=tuple(people))


def minor_log() -> Log:
    log = Log()
    log.add(IC, minor_brief())
    return log


def test_a_minors_sheet_may_not_hold_nudity_or_simulated_sex() -> None:
    log = minor_log()
    error = refused(log, open_sheet(), ANA)
    assert error.code == "minor" and "under 18" in str(error)
    young = sheet(yes=[KISS, "holding-hands"])
    assert log.step(ANA, young).sheet(ANA) == young


def test_a_minors_rider_holds_no_nudity_no_simulated_sex_and_names_a_chaperone() -> None:
    from client.negotiation.statements import Withdrawal as W

    log = minor_log()
    present = ClosedSet(("chaperone: Gina",))
    log.add(ANA, replace(sheet(yes=[KISS, "holding-hands"]), closed_set=present))
    log.add(BEN, replace(open_sheet(), closed_set=present))
    plain = rider(acts=[("holding-hands", ANA, BEN)], zones=("hands",))
    assert refused(log, plain).code == "no-chaperone"
    error = str(refused(log, plain))
    assert "a chaperone" in error
    chaperoned = replace(plain, closed_set=ClosedSet(("chaperone: Gina",)))
    nude = replace(chaperoned, performers=(terms(ANA, ("bare-back",)), terms(BEN)))
    error = str(refused(log, nude))
    assert "nudity: bare back for Ana, who is under 18, so none is allowed" in error
    # Agreed only with both the minor's and the guardian's acceptance.
    log.add(IC, chaperoned)
    log.add(ANA, accept(chaperoned))
    log.add(BEN, accept(chaperoned))
    assert log.state().phase is Phase.PROPOSED and log.state().waiting_for == (GUARDIAN,)
    state = log.step(GUARDIAN, accept(chaperoned))
    assert state.phase is Phase.AGREED
    # The guardian may withdraw for the minor; it sticks as the minor's.
    state = log.step(GUARDIAN, W(whole=False, items=("act:holding-hands",)))
    assert state.phase is Phase.WITHDRAWN and "act:holding-hands" in state.withdrawn(ANA)


def test_the_guardian_reads_the_minors_sheet_and_no_partner_does() -> None:
    from client.negotiation.audience import audience

    b = minor_brief()
    assert audience(sheet(), sender=ANA, brief=b) == {IC, ANA, GUARDIAN}
    assert audience(sheet(), sender=BEN, brief=b) == {IC, BEN}
    assert GUARDIAN in audience(rider(), sender=IC, brief=b)


# --- per-performer private annexes -----------------------------------------------------------


def test_a_private_annex_is_committed_by_hash_read_by_its_performer_only_and_checked() -> None:
    from client.negotiation.audience import audience
    from client.negotiation.rider import Annex

    ben = replace(open_sheet(), footage=("trailer",))
    log = sheets_in(open_sheet(), ben)
    marker = "ben-annex-marker-4410"
    annex = Annex(1, BEN, bytes(range(32)), ("trailer",), note=marker)
    private = replace(rider(), performers=(terms(ANA), terms(BEN, annex=annex.hash)))
    assert refused(log, private).code == "annex-missing"  # the annex comes first
    log.add(IC, annex)
    assert log.step(IC, private).phase is Phase.PROPOSED
    # Its content is checked like shared terms: an annex beyond the sheet is refused.
    wide = Annex(2, BEN, bytes(32), ("social-media",))
    log.add(IC, wide)
    r2 = replace(private, version=2, previous=private.hash,
                 performers=(terms(ANA), terms(BEN, annex=wide.hash)))  # fmt: skip
    assert "footage use: social media clips for Ben" in str(refused(log, r2))
    # Sealed to Ben and the IC only; the shared rider holds only its salted hash.
    assert audience(annex, sender=IC, brief=brief()) == {IC, BEN}
    assert marker.encode() not in private.to_bytes() and b"trailer" not in private.to_bytes()
    anas = fold(visible_to(ANA, log.events), viewer=ANA)
    assert anas.current is not None and anas.current.rider == private  # she can still accept
    assert all(marker not in repr(a.statement) for a in anas.annexes)
    with pytest.raises(Exception, match="32 random bytes"):
        Annex(1, BEN, b"short")


def test_a_report_can_be_followed_by_a_repair_plan_from_the_ic_or_union_rep() -> None:
    from client.negotiation.audience import audience
    from client.negotiation.statements import RepairPlan, TransgressionReport
    from tests.negotiation.builders import UNION

    log = agreed_log()
    report = TransgressionReport("crossing", "The take ran on past the slow word.", CALL)
    log.add(ANA, report)
    plan = RepairPlan(report.hash, "Two-take limit and a check-in after every take.", (ANA,))
    assert refused(log, plan, BEN).code == "not-ic"
    assert refused(log, RepairPlan(b"\1" * 32, "x y", (ANA,))).code == "unknown-report"
    assert len(log.step(UNION, plan).repair_plans) == 1
    assert audience(plan, sender=UNION, brief=brief()) == {ANA, UNION, IC}
