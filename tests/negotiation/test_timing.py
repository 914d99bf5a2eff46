"""Timing flags at their boundaries: 48 hours before call, 24-48 hours after filming, expiry."""

from __future__ import annotations

import pytest

from client.negotiation.statements import CheckIn, FilmedMark, Withdrawal
from client.negotiation.timing import flags
from tests.negotiation.builders import ANA, BEN, CALL, DAY, HOUR, IC, Log, accept, brief, rider


def codes(log: Log, now: int) -> list[str]:
    return [f.code for f in flags(log.state(), now)]


def agreed_at(t: int) -> Log:
    log = Log(now=t - 600)
    log.add(IC, brief())
    r = rider()
    log.add(IC, r)
    log.add(ANA, accept(r))
    log.add(BEN, accept(r), at=t)
    return log


@pytest.mark.parametrize(("lead", "late"), [(48 * HOUR, False), (48 * HOUR - 60, True)])
def test_agreement_under_48_hours_before_call_is_flagged_late(lead: int, late: bool) -> None:
    assert ("late-agreement" in codes(agreed_at(CALL - lead), CALL)) is late


@pytest.mark.parametrize(("lead", "flagged"), [(48 * HOUR, False), (47 * HOUR + 59 * 60, True)])
def test_a_new_act_without_48_hours_notice_is_flagged(lead: int, flagged: bool) -> None:
    log = agreed_at(CALL - 10 * DAY)
    r1 = log.state().current.rider  # type: ignore[union-attr]
    wider = rider(2, r1, acts=[("closed-mouth-kissing-lips", ANA, BEN), ("hand-on-back", ANA, BEN)])
    log.add(IC, wider, at=CALL - lead)
    assert ("short-notice" in codes(log, CALL)) is flagged


def test_more_nudity_without_notice_is_flagged_but_narrowing_is_not() -> None:
    log = agreed_at(CALL - 10 * DAY)
    r1 = log.state().current.rider  # type: ignore[union-attr]
    log.add(IC, rider(2, r1, nudity={BEN: ("bare-back",)}), at=CALL - HOUR)
    assert "short-notice" in codes(log, CALL)
    log2 = agreed_at(CALL - 10 * DAY)
    log2.add(IC, rider(2, r1, intensity=2), at=CALL - HOUR)
    assert "short-notice" not in codes(log2, CALL)


def test_a_refused_widening_after_call_time_shows_as_a_flag() -> None:
    log = agreed_at(CALL - 10 * DAY)
    r1 = log.state().current.rider  # type: ignore[union-attr]
    log.add(IC, rider(2, r1, intensity=9), at=CALL + 60)
    assert "widening-after-call-time" in codes(log, CALL + 120)


def filmed_at(t: int) -> Log:
    log = agreed_at(CALL - 10 * DAY)
    r1 = log.state().current.rider  # type: ignore[union-attr]
    log.add(IC, FilmedMark(1, r1.hash), at=t)
    return log


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (24 * HOUR - 1, None),
        (24 * HOUR, "check-in-due"),
        (48 * HOUR, "check-in-due"),
        (48 * HOUR + 1, "check-in-overdue"),
    ],
)
def test_check_in_is_due_24_to_48_hours_after_filming_then_overdue(
    elapsed: int, expected: str | None
) -> None:
    found = [c for c in codes(filmed_at(CALL), CALL + elapsed) if c.startswith("check-in")]
    assert found == ([] if expected is None else [expected, expected])


def test_a_performer_who_checked_in_is_not_flagged() -> None:
    log = filmed_at(CALL)
    log.add(ANA, CheckIn("ok"), at=CALL + 25 * HOUR)
    found = [f for f in flags(log.state(), CALL + 30 * HOUR) if f.code == "check-in-due"]
    assert [f.performer for f in found] == [BEN]


def test_withdrawal_after_filming_is_flagged() -> None:
    log = filmed_at(CALL)
    log.add(BEN, Withdrawal(whole=True), at=CALL + DAY)
    assert "withdrawal-after-filming" in codes(log, CALL + DAY)


@pytest.mark.parametrize(("after", "expired"), [(0, False), (1, True)])
def test_consent_past_its_date_range_must_be_renewed(after: int, expired: bool) -> None:
    log = agreed_at(CALL - 10 * DAY)
    until = log.state().current.rider.valid_until  # type: ignore[union-attr]
    assert ("expired" in codes(log, until + after)) is expired


def test_no_agreement_within_48_hours_of_call_is_flagged() -> None:
    log = Log()
    log.add(IC, brief())
    assert "not-agreed" not in codes(log, CALL - 48 * HOUR)
    assert "not-agreed" in codes(log, CALL - 48 * HOUR + 1)
