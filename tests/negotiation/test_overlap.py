"""The IC's overlap: direction, ask first, maybe, no, zones, nudity, and three performers."""

from __future__ import annotations

from client.negotiation.brief import Request, SceneRequests
from client.negotiation.overlap import ActRow, review
from tests.negotiation.builders import ANA, BEN, CLEO, brief, sheet


def row(rows: tuple[ActRow, ...], act: str, giver: bytes, receiver: bytes) -> ActRow:
    return next(r for r in rows if (r.act, r.giver, r.receiver) == (act, giver, receiver))


def test_ana_may_touch_bens_shoulder_does_not_mean_ben_may_touch_anas() -> None:
    act = "hand-on-shoulders-arms"
    result = review(
        brief(), {ANA: sheet(yes=[f"{act}:giving"]), BEN: sheet(yes=[f"{act}:receiving"])}
    )
    assert row(result.acts, act, ANA, BEN).outcome == "agreed"
    reverse = row(result.acts, act, BEN, ANA)
    assert reverse.outcome == "conflict"
    assert (reverse.giver_answer, reverse.receiver_answer) == ("no", "no")


def test_ask_first_propagates_and_maybe_is_to_discuss() -> None:
    sheets = {
        ANA: sheet(yes=["holding-hands"], ask=["embrace-clothed"], maybe=["open-mouth-kissing"]),
        BEN: sheet(yes=["holding-hands", "embrace-clothed", "open-mouth-kissing"]),
    }
    result = review(brief(), sheets)
    a, b = sorted((ANA, BEN))
    assert row(result.acts, "holding-hands", a, b).outcome == "agreed"
    assert row(result.acts, "embrace-clothed", a, b).outcome == "ask-first"
    assert row(result.acts, "open-mouth-kissing", a, b).outcome == "discuss"


def test_any_no_is_a_conflict_whatever_the_partner_said() -> None:
    result = review(brief(), {ANA: sheet(maybe=["kissing-with-tongue"]), BEN: sheet()})
    a, b = sorted((ANA, BEN))
    assert row(result.acts, "kissing-with-tongue", a, b).outcome == "conflict"


def test_a_missing_sheet_is_waiting_not_consent() -> None:
    result = review(brief(), {ANA: sheet(yes=["holding-hands"])})
    a, b = sorted((ANA, BEN))
    assert row(result.acts, "holding-hands", a, b).outcome == "waiting"
    assert result.missing_sheets == (BEN,)


def test_zones_of_the_body_touched_combine_never_over_ask_first_over_ok() -> None:
    act = "kissing-neck"
    sheets = {
        ANA: sheet(yes=[f"{act}:giving"]),
        BEN: sheet(yes=[f"{act}:receiving"], zones={"neck": "ask-first", "back-of-neck": "never"}),
    }
    r = row(review(brief(), sheets).acts, act, ANA, BEN)
    assert r.zones == (("neck", "ask-first"),) and r.excluded_zones == ("back-of-neck",)
    assert r.outcome == "ask-first"
    sheets[BEN] = sheet(yes=[f"{act}:receiving"], zones={"neck": "never", "back-of-neck": "never"})
    assert row(review(brief(), sheets).acts, act, ANA, BEN).outcome == "conflict"


def test_the_givers_own_zones_do_not_limit_a_directional_act() -> None:
    act = "hand-on-thigh-clothed"
    sheets = {
        ANA: sheet(yes=[f"{act}:giving"], zones={"thighs": "never"}),
        BEN: sheet(yes=[f"{act}:receiving"]),
    }
    assert row(review(brief(), sheets).acts, act, ANA, BEN).outcome == "agreed"


def test_intensity_is_the_lower_of_both_limits() -> None:
    act = "holding-wrists"
    sheets = {
        ANA: sheet(yes=[f"{act}:giving"], intensity={f"{act}:giving": 6}),
        BEN: sheet(yes=[f"{act}:receiving"], intensity={f"{act}:receiving": 3}),
    }
    assert row(review(brief(), sheets).acts, act, ANA, BEN).intensity == 3


def test_nudity_per_performer_per_part_and_unmet_requests() -> None:
    requests = SceneRequests(
        (Request("hand-on-back", ANA, BEN),),
        nudity=((ANA, "bare-back"), (BEN, "buttocks")),
    )
    sheets = {ANA: sheet(nudity=["bare-back"]), BEN: sheet(nudity=["upper-body-side"])}
    result = review(brief(), sheets, requests)
    outcomes = {(n.performer, n.part): n.outcome for n in result.nudity}
    assert outcomes[(ANA, "bare-back")] == "agreed"
    assert outcomes[(BEN, "buttocks")] == "conflict"
    assert outcomes[(BEN, "upper-body-side")] == "not-requested"
    unmet = result.unmet_requests
    assert {getattr(u, "act", getattr(u, "part", None)) for u in unmet} == {
        "hand-on-back",
        "buttocks",
    }


def test_three_performers_review_every_ordered_pair() -> None:
    act = "hand-on-back"
    sheets = {p: sheet(yes=[act]) for p in (ANA, BEN, CLEO)}
    sheets[CLEO] = sheet(yes=[f"{act}:giving"])  # Cleo gives but does not receive
    rows = [r for r in review(brief((ANA, BEN, CLEO)), sheets).acts if r.act == act]
    assert len(rows) == 6
    assert {(r.giver, r.receiver) for r in rows if r.outcome == "agreed"} == {
        (ANA, BEN),
        (BEN, ANA),
        (CLEO, ANA),
        (CLEO, BEN),
    }


def test_three_performers_review_only_the_pairs_the_brief_names() -> None:
    sheets = {p: sheet(yes=["embrace-clothed"]) for p in (ANA, BEN, CLEO)}
    result = review(brief((ANA, BEN, CLEO), pairs=((ANA, BEN),)), sheets)
    assert result.acts and all(CLEO not in (r.giver, r.receiver) for r in result.acts)


def test_review_json_counts_outcomes_and_notes_different_stop_words() -> None:
    result = review(brief(), {ANA: sheet(), BEN: sheet(stop="Banana")})
    value = result.to_json()
    assert value["counts"]["conflict"] == len(result.rows("conflict")) > 0
    assert any("stop" in n for n in value["notes"])
