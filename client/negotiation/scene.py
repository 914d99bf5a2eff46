"""The scene's lifecycle: a pure fold over its statements in log order.

``fold(events)`` gives the :class:`SceneState` as one viewer's statements make it; ``step``
applies one event or raises :class:`SceneRuleError` (the CLI calls it before sending). Phases
are in scene_state.py, each with what it means; the whole transition table is at the bottom.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from client.negotiation import consent, timing
from client.negotiation import rider as riders
from client.negotiation.brief import SceneBrief, SceneRequests
from client.negotiation.errors import SceneRuleError
from client.negotiation.rider import Annex, Rider
from client.negotiation.scene_state import (
    Event,
    Phase,
    Refusal,
    SceneState,
    Sent,
    Step,
    Version,
    WithdrawalRecord,
)
from client.negotiation.sheet import BoundarySheet
from client.negotiation.statements import (
    Acceptance,
    CheckIn,
    Counter,
    FilmedMark,
    Message,
    ReGrant,
    RepairPlan,
    ReplicaConsent,
    SceneClose,
    TransgressionReport,
    Waiver,
    Withdrawal,
)

__all__ = ["TABLE", "Event", "Input", "Phase", "SceneRuleError", "SceneState", "fold", "step"]


class Input(StrEnum):
    # from the IC
    BRIEF = "brief"  # a scene brief (first statement, or a revision before any rider)
    REQUESTS = "requests"  # the director's requests, to the IC's own devices only
    RIDER = "rider"  # rider version N
    FILMED = "filmed"  # a filmed mark on the current version
    CLOSE = "close"  # the scene is closed
    # from a performer
    SHEET = "sheet"  # a boundary sheet (a later one replaces the earlier)
    ACCEPT = "accept"  # acceptance of version N by its hash
    COUNTER = "counter"  # comments on version N instead of accepting
    WITHDRAW = "withdraw"  # the whole rider or listed items; always recorded
    CHECK_IN = "check-in"  # the aftercare check-in
    REPLICA = "replica"  # consent to a digital replica, with the intended use (rule set 2)
    REGRANT = "re-grant"  # yes again to withdrawn items (rule set 2)
    ANNEX = "annex"  # (from the IC) a performer's private terms for the next version
    # from the union representative
    WAIVER = "waiver"  # the 48-hour floor waived for version N, with the reason
    # from the IC or the union representative
    REPAIR = "repair-plan"  # what follows a transgression report
    # from any member
    REPORT = "report"  # a transgression report
    MESSAGE = "message"  # a free message
    # from the log's clock: an event's log time passed the current rider's valid_until
    EXPIRE = "expire"


_INPUT_OF: dict[type, Input] = {
    SceneBrief: Input.BRIEF, SceneRequests: Input.REQUESTS, Rider: Input.RIDER,
    FilmedMark: Input.FILMED, SceneClose: Input.CLOSE, BoundarySheet: Input.SHEET,
    Acceptance: Input.ACCEPT, Counter: Input.COUNTER, Withdrawal: Input.WITHDRAW,
    CheckIn: Input.CHECK_IN, TransgressionReport: Input.REPORT, Message: Input.MESSAGE,
    Waiver: Input.WAIVER, ReplicaConsent: Input.REPLICA, ReGrant: Input.REGRANT,
    Annex: Input.ANNEX, RepairPlan: Input.REPAIR,
}  # fmt: skip
_IC_INPUTS = {
    Input.BRIEF, Input.REQUESTS, Input.RIDER, Input.FILMED, Input.CLOSE, Input.ANNEX,
}  # fmt: skip
_PERFORMER_INPUTS = {
    Input.SHEET, Input.ACCEPT, Input.COUNTER, Input.WITHDRAW, Input.CHECK_IN, Input.REPLICA,
    Input.REGRANT,
}  # fmt: skip
_WHAT = {
    Input.BRIEF: "a revised scene brief", Input.REQUESTS: "the director's requests",
    Input.RIDER: "a new rider version", Input.FILMED: "a filmed mark", Input.CLOSE: "closing",
    Input.SHEET: "a boundary sheet", Input.ACCEPT: "an acceptance", Input.COUNTER: "a counter",
    Input.WITHDRAW: "a withdrawal", Input.CHECK_IN: "a check-in",
    Input.REPORT: "a transgression report", Input.MESSAGE: "a message", Input.EXPIRE: "expiry",
    Input.WAIVER: "a waiver of the 48-hour notice", Input.REPLICA: "a replica consent",
    Input.REGRANT: "a re-grant", Input.ANNEX: "a private annex",
    Input.REPAIR: "a repair plan",
}  # fmt: skip


def _refuse(code: str, reason: str) -> SceneRuleError:
    return SceneRuleError(reason, code)


def _named(event: Event) -> tuple[int, bytes]:
    statement = event.statement
    assert isinstance(statement, Acceptance | Counter | FilmedMark)
    return statement.version, statement.rider


def _day(t: int) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- guards: who may send what --------------------------------------------------------------


def _check_sender(state: SceneState, event: Event, inp: Input) -> None:
    if state.brief is None:
        brief = event.statement
        if not isinstance(brief, SceneBrief) or event.role != "ic" or brief.ic != event.sender:
            raise _refuse("no-brief", "There is no scene yet: it starts with the IC's brief.")
        return
    if event.sender not in state.brief.members:
        raise _refuse("non-member", "The sender is not a member of this scene.")
    role = state.brief.participant(event.sender).role
    if event.role != role:
        raise _refuse("wrong-role", f"The sender is the scene's {role} but signs as {event.role}.")
    if inp in _IC_INPUTS and role != "ic":
        raise _refuse("not-ic", f"Only the scene's IC may send {_WHAT[inp]}.")
    if inp is Input.WAIVER and role != "union-rep":
        raise _refuse(
            "not-union-rep", "Only the scene's union representative may waive the 48-hour "
            "notice; a performer cannot waive a contractual minimum.",
        )  # fmt: skip
    if inp is Input.REPAIR and role not in ("ic", "union-rep"):
        raise _refuse(
            "not-ic", "Only the IC or the union representative sends a repair plan.",
        )  # fmt: skip
    if role == "guardian" and inp in (Input.ACCEPT, Input.WITHDRAW, Input.REGRANT):
        return  # a guardian accepts alongside their minor and may withdraw for them
    if inp in _PERFORMER_INPUTS and role != "performer":
        hint = "; the IC signs a rider by proposing it" if inp is Input.ACCEPT else ""
        raise _refuse("not-performer", f"Only a performer may send {_WHAT[inp]}{hint}.")


def _version(state: SceneState, version: int, digest: bytes) -> Version:
    """The current version named by number and hash, or a refusal saying which is wrong."""
    known = {v.rider.version: v for v in state.versions}
    if version not in known:
        raise _refuse("unknown-version", f"Rider version {version} does not exist.")
    current = state.versions[-1]
    if version != current.rider.version:
        raise _refuse(
            "superseded",
            f"Rider version {version} is superseded by version {current.rider.version}; "
            "act on the current version.",
        )
    if digest != current.hash:
        raise _refuse("hash-mismatch", f"The hash given is not rider version {version}'s hash.")
    return current


def _sent(event: Event) -> Sent:  # type: ignore[type-arg]
    return Sent(event.statement, event.sender, event.log_time, event.log_index, event.envelope)


# --- actions: what each accepted input records -------------------------------------------------

Action = Callable[[SceneState, Event], SceneState]


def keep(state: SceneState, event: Event) -> SceneState:
    return state


def set_brief(state: SceneState, event: Event) -> SceneState:
    assert isinstance(event.statement, SceneBrief)
    if state.brief is not None and event.statement.ic != state.brief.ic:
        raise _refuse("not-ic", "A revised brief must name the same IC.")
    return replace(state, brief=event.statement)


def set_requests(state: SceneState, event: Event) -> SceneState:
    return replace(state, requests=_sent(event))


def set_sheet(state: SceneState, event: Event) -> SceneState:
    assert isinstance(event.statement, BoundarySheet)
    assert state.brief is not None
    if state.rules >= 2 and event.sender in state.brief.minors:
        young = consent.minor_sheet_problems(event.statement)
        if young:
            raise _refuse(
                "minor", f"A performer under 18 cannot consent to nudity or simulated sexual "
                f"activity: {'; '.join(young[:3])}.",
            )  # fmt: skip
    wrong = consent.contradictions(event.statement) if state.rules >= 2 else []
    if wrong:
        raise _refuse(
            "contradictory-sheet", "The boundary sheet contradicts itself: "
            + " ".join(c.message for c in wrong[:1]).rstrip(".")
            + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else "") + ".",
        )  # fmt: skip
    others = tuple(s for s in state.sheets if s.sender != event.sender)
    after = replace(state, sheets=(*others, _sent(event)))
    current = state.current
    if current is None or state.rules < 2:
        return after
    # A sheet narrower than what the current rider holds is a withdrawal of those items:
    # the same effect and the same notice to the IC (rule set 2).
    me = event.sender
    before = {b.item for b in _breaches_of(state, current.rider) if b.performer == me}
    now = {b.item for b in _breaches_of(after, current.rider) if b.performer == me}
    narrowed = tuple(sorted(now - before))
    if not narrowed:
        return after
    record = WithdrawalRecord(
        sent=_sent(event),
        version=current.rider.version,
        after_filming=bool(state.filmed),
        items=narrowed,
        reason="a later boundary sheet narrows these items",
        by_sheet=True,
    )
    return replace(after, withdrawals=(*after.withdrawals, record))


def _breaches_of(state: SceneState, rider: Rider) -> list[consent.Breach]:
    return consent.breaches(state.whole(rider), state.consents())


def add_annex(state: SceneState, event: Event) -> SceneState:
    annex = event.statement
    assert isinstance(annex, Annex)
    if annex.performer not in state.performers:
        raise _refuse("non-member", "An annex is for a performer of the scene.")
    return replace(state, annexes=(*state.annexes, _sent(event)))


def _check_annexes(state: SceneState, new: Rider) -> None:
    """Each annex the rider commits to is there, for that performer and this version, in every
    view that should hold it (the IC's, and the performer's own)."""
    for t in new.performers:
        if t.annex is None:
            continue
        annex = state.annex(t.annex)
        holder = state.viewer in (None, t.identity) or (
            state.brief is not None and state.viewer == state.brief.ic
        )
        if annex is None and holder and state.sheet(t.identity) is not None:
            raise _refuse(
                "annex-missing", f"Rider version {new.version} names a private annex that was "
                "not sent first; the IC sends each annex before the rider that commits to it.",
            )  # fmt: skip
        if annex is not None and (annex.performer != t.identity or annex.version != new.version):
            raise _refuse(
                "annex-mismatch", f"Rider version {new.version} names an annex of another "
                "performer or version.",
            )  # fmt: skip


def _names(state: SceneState, found: list[consent.Breach]) -> str:
    assert state.brief is not None
    shown = [b.sentence(state.brief.participant(b.performer).name) for b in found[:4]]
    more = f" and {len(found) - 4} more" if len(found) > 4 else ""
    return "; ".join(shown) + more


def _check_inside_consent(state: SceneState, new: Rider) -> None:
    """Rule set 2: the rider stays inside every performer's current sheet and withdrawals."""
    if state.rules < 2:
        return
    assert state.brief is not None
    if state.viewer == state.brief.ic:
        # The IC's view holds every sheet, so a missing one means the performer sent none.
        missing = [p for p in state.performers if state.sheet(p) is None]
        if missing:
            who = ", ".join(state.brief.participant(p).name for p in missing)
            raise _refuse(
                "no-sheet", f"Rider version {new.version} cannot be proposed before every "
                f"performer's boundary sheet is in; waiting for {who}.",
            )  # fmt: skip
    whole = state.whole(new)
    minimum = consent.minimum_breaches(whole) + consent.minor_breaches(whole, state.brief)
    if minimum:
        raise _refuse(
            minimum[0].code, f"Rider version {new.version} breaks a minimum no one can waive: "
            f"{_names(state, minimum)}; these minimums hold whatever anyone agrees.",
        )  # fmt: skip
    found = _breaches_of(state, new)
    if not found:
        return
    withdrawn = [b for b in found if b.code == "withdrawn"]
    code = "re-adds-withdrawn" if withdrawn else found[0].code
    raise _refuse(
        code, f"Rider version {new.version} holds what a performer did not agree to: "
        f"{_names(state, withdrawn or found)}; a rider stays inside each performer's current "
        "sheet and withdrawals.",
    )  # fmt: skip


def add_version(state: SceneState, event: Event) -> SceneState:
    new = event.statement
    assert isinstance(new, Rider) and state.brief is not None
    last = state.current
    expected = 1 if last is None else last.rider.version + 1
    if new.version != expected or new.previous != (None if last is None else last.hash):
        raise _refuse(
            "version-order", f"Rider version {new.version} does not follow; expected {expected} "
            "naming the previous version's hash.",
        )  # fmt: skip
    if {p.identity for p in new.performers} != set(state.brief.performers):
        raise _refuse(
            "rider-mismatch", "A rider must give terms for exactly the scene's performers."
        )
    if new.valid_until < event.log_time:
        raise _refuse("expired", f"Rider version {new.version} expired before it was sent.")
    _check_annexes(state, new)
    _check_inside_consent(state, new)
    agreed = state.agreed
    if agreed is not None and event.log_time >= agreed.rider.call_time:
        wider = riders.widenings(agreed.rider, new)
        if state.rules < 2:
            wider = riders.exposure_increases(agreed.rider, new)
        elif state.phase is Phase.EXPIRED:
            # Renewing an expired rider sets new dates; every acceptance is needed again.
            wider = tuple(w for w in wider if w != riders.EXTENDS_DATES)
        if wider:
            raise _refuse(
                "widening-after-call-time",
                f"Rider version {new.version} widens what was agreed after call time "
                f"({'; '.join(wider)}); after call time a rider may only narrow.",
            )
    version = Version(rider=new, hash=new.hash, proposed=_sent(event))
    return replace(state, versions=(*state.versions, version))


def _last_accepted(state: SceneState, performer: bytes) -> Version | None:
    mine = {a.statement.version for a in state.acceptances if a.sender == performer}
    return next((v for v in reversed(state.versions) if v.rider.version in mine), None)


def _check_acceptance_time(state: SceneState, event: Event, current: Version) -> None:
    """Rule set 2: widening is judged when a performer accepts. After call time they may only
    accept a version no wider in their own terms than what they last accepted, and a first
    agreement after call time is refused."""
    if state.rules < 2 or event.log_time < current.rider.call_time:
        return
    last = _last_accepted(state, event.sender)
    if last is None:
        raise _refuse(
            "first-agreement-after-call-time", f"Rider version {current.rider.version} cannot "
            "be agreed for the first time after call time; the IC must set a new call time.",
        )  # fmt: skip
    wider = tuple(
        w for w in riders.widenings(last.rider, current.rider, event.sender)
        if w != riders.EXTENDS_DATES
    )  # fmt: skip
    if wider:
        raise _refuse(
            "widening-after-call-time", f"Rider version {current.rider.version} is wider than "
            f"version {last.rider.version} you accepted ({'; '.join(wider)}); after call time "
            "you may only accept a version that narrows.",
        )  # fmt: skip


def add_acceptance(state: SceneState, event: Event) -> SceneState:
    accepted = event.statement
    assert isinstance(accepted, Acceptance)
    current = _version(state, accepted.version, accepted.rider)
    if event.sender in state.accepted(accepted.version):
        raise _refuse("already-accepted", f"You already accepted rider version {accepted.version}.")
    _check_acceptance_time(state, event, current)
    state = replace(state, acceptances=(*state.acceptances, _sent(event)))
    if not state.waiting_for:
        agreed = replace(current, agreed_at=event.log_time)
        state = replace(state, versions=(*state.versions[:-1], agreed))
    return state


def add_counter(state: SceneState, event: Event) -> SceneState:
    assert isinstance(event.statement, Counter)
    _version(state, event.statement.version, event.statement.rider)
    return replace(state, counters=(*state.counters, _sent(event)))


def _filmed_acts(state: SceneState) -> set[str]:
    return {a for f in state.filmed for a in f.statement.acts}


def _after_filming(state: SceneState, w: Withdrawal) -> bool:
    """Was what ``w`` withdraws already filmed? An act not yet filmed can still be withdrawn
    and the withdrawal resolved (rule set 2); under rule set 1 any filmed mark counts."""
    if not state.filmed:
        return False
    if state.rules < 2 or w.whole or any(not f.statement.acts for f in state.filmed):
        return True
    done = _filmed_acts(state)
    # A zone, nudity part or footage use may be in what was already shot.
    return any(not i.startswith("act:") or i.split(":")[1] in done for i in w.items)


def add_withdrawal(state: SceneState, event: Event) -> SceneState:
    # Never refused: consent is revocable, immediately and unilaterally, at any time.
    current = state.current
    w = event.statement
    assert isinstance(w, Withdrawal)
    # An item the current rider does not hold is recorded and narrows the sheet, but it
    # blocks nothing: there is nothing to answer with a new version.
    assert state.brief is not None
    who = state.brief.participant(event.sender).of or event.sender  # a guardian: their minor
    blocks = current is not None and (
        w.whole or any(consent.holds(current.rider, i, who) for i in w.items)
    )
    record = WithdrawalRecord(
        sent=_sent(event),
        version=None if current is None else current.rider.version,
        after_filming=_after_filming(state, w),
        items=w.items,
        whole=w.whole,
        reason=w.reason,
        blocks=blocks,
    )
    return replace(state, withdrawals=(*state.withdrawals, record))


def add_filmed(state: SceneState, event: Event) -> SceneState:
    mark = event.statement
    assert isinstance(mark, FilmedMark)
    current = _version(state, mark.version, mark.rider)
    rider = current.rider
    # Consent holds only inside its date range, also after a first filmed mark (rule set 2).
    if state.rules >= 2 and event.log_time < rider.valid_from:
        raise _refuse(
            "not-yet-valid", f"Rider version {rider.version}'s consent starts on "
            f"{_day(rider.valid_from)}; nothing can be filmed before it.",
        )  # fmt: skip
    if state.rules >= 2 and event.log_time > rider.valid_until:
        raise _refuse(
            "expired", f"Rider version {rider.version} expired on {_day(rider.valid_until)}; "
            "the IC must renew it with a new version before filming.",
        )  # fmt: skip
    done = _filmed_acts(state)
    again = sorted(set(mark.acts) & done) if mark.acts else []
    if state.rules >= 2 and (again or any(not f.statement.acts for f in state.filmed)):
        what = ", ".join(again) or "the whole scene"
        raise _refuse("filmed", f"{what} is already marked filmed; a filmed mark is final.")
    in_rider = {a.act for a in current.rider.acts}
    if not set(mark.acts) <= in_rider:
        raise _refuse("not-in-rider", "A filmed mark may only name acts of the current rider.")
    for w in state.open_withdrawals:
        if w.whole:
            raise _refuse(
                "withdrawn", f"Rider version {mark.version} has an unresolved withdrawal "
                "(the whole rider); it cannot be marked filmed.",
            )  # fmt: skip
    _check_notice_floor(state, mark)
    # Every item marked must still be inside each performer's consent: a withdrawal or a
    # narrower sheet since agreement stops it (for rule set 1, only withdrawals do).
    found = [b for b in _breaches_of(state, current.rider) if _filming(b, mark, state)]
    if found:
        raise _refuse(
            "withdrawn", f"Rider version {mark.version} has an unresolved withdrawal "
            f"({_names(state, found)}); it cannot be marked filmed.",
        )  # fmt: skip
    return replace(state, filmed=(*state.filmed, _sent(event)))


def _check_notice_floor(state: SceneState, mark: FilmedMark) -> None:
    """Rule set 2: the 48-hour notice is a floor. Under a union agreement only the union
    representative's waiver lets a late rider be filmed; without one, the findings are
    recorded on the filmed mark (and flagged to everyone, timing.notice_floor)."""
    assert state.brief is not None
    findings = timing.notice_findings(state)
    if not findings:
        return
    if state.brief.union_agreement:
        waived = any(
            w.statement.version == mark.version and w.statement.rider == mark.rider
            for w in state.waivers
        )
        if not waived:
            raise _refuse(
                "notice-floor", f"Rider version {mark.version} cannot be filmed: "
                f"{findings[0].rstrip('.')}; the 48-hour notice is a floor a performer cannot "
                "waive, only the scene's union representative can, naming the reason.",
            )  # fmt: skip
    elif tuple(mark.notice) != findings:
        raise _refuse(
            "notice-unrecorded", f"Rider version {mark.version} was agreed or widened under 48 "
            "hours before call time; without a union agreement the filmed mark must record "
            "the findings (`closedset filmed` does).",
        )  # fmt: skip


def add_regrant(state: SceneState, event: Event) -> SceneState:
    return replace(state, regrants=(*state.regrants, _sent(event)))


def add_replica_consent(state: SceneState, event: Event) -> SceneState:
    return replace(state, replica_consents=(*state.replica_consents, _sent(event)))


def add_waiver(state: SceneState, event: Event) -> SceneState:
    assert isinstance(event.statement, Waiver)
    _version(state, event.statement.version, event.statement.rider)
    return replace(state, waivers=(*state.waivers, _sent(event)))


def _filming(b: consent.Breach, mark: FilmedMark, state: SceneState) -> bool:
    """Is breach ``b`` part of what ``mark`` films?"""
    if state.rules < 2 and b.code != "withdrawn":
        return False
    kind, _, rest = b.item.partition(":")
    if kind in ("act", "intensity") and mark.acts:
        return rest.split(":")[0] in mark.acts
    return True


def add_check_in(state: SceneState, event: Event) -> SceneState:
    return replace(state, check_ins=(*state.check_ins, _sent(event)))


def add_report(state: SceneState, event: Event) -> SceneState:
    return replace(state, reports=(*state.reports, _sent(event)))


def add_repair_plan(state: SceneState, event: Event) -> SceneState:
    plan = event.statement
    assert isinstance(plan, RepairPlan)
    if not any(r.statement.hash == plan.report for r in state.reports):
        raise _refuse("unknown-report", "A repair plan follows a report this scene holds.")
    return replace(state, repair_plans=(*state.repair_plans, _sent(event)))


def add_message(state: SceneState, event: Event) -> SceneState:
    return replace(state, messages=(*state.messages, _sent(event)))


def set_closed(state: SceneState, event: Event) -> SceneState:
    return replace(state, closed=_sent(event))


def _open_text(state: SceneState) -> str:
    """What is withdrawn and still held, in words: "(holding hands for Cleo, who withdrew it)"."""
    assert state.brief is not None and state.current is not None
    whole = [
        f"the whole rider, by {state.brief.participant(w.sent.sender).name}"
        for w in state.open_withdrawals
        if w.whole
    ]
    held = _breaches_of(state, state.current.rider)
    parts = whole + ([_names(state, held)] if held else [])
    return f" ({'; '.join(parts)})" if parts else ""


def refuse_withdrawn(state: SceneState, event: Event) -> SceneState:
    _version(state, *_named(event))
    raise _refuse(
        "withdrawn", f"Rider version {state.versions[-1].rider.version} has an unresolved "
        f"withdrawal{_open_text(state)}; wait for the IC's new version.",
    )  # fmt: skip


def refuse_expired(state: SceneState, event: Event) -> SceneState:
    _version(state, *_named(event))
    rider = state.versions[-1].rider
    raise _refuse(
        "expired", f"Rider version {rider.version} expired on {_day(rider.valid_until)}; "
        "the IC must renew it with a new version.",
    )  # fmt: skip


def refuse_not_agreed(state: SceneState, event: Event) -> SceneState:
    _version(state, *_named(event))
    done, everyone = len(state.performers) - len(state.waiting_for), len(state.performers)
    raise _refuse(
        "not-agreed", f"Rider version {state.versions[-1].rider.version} is not agreed yet "
        f"(accepted by {done}/{everyone} performers); it cannot be marked filmed.",
    )  # fmt: skip


def refuse_no_rider(state: SceneState, event: Event) -> SceneState:
    raise _refuse("unknown-version", "There is no rider yet to act on.")


def add_version_after_filming(state: SceneState, event: Event) -> SceneState:
    """Rule set 2: after a partial filmed mark the IC may still narrow the unfilmed part, so a
    withdrawal of an act not yet filmed can be resolved; filmed acts stay as they were."""
    new, current = event.statement, state.current
    assert isinstance(new, Rider) and current is not None
    if state.rules < 2 or any(not f.statement.acts for f in state.filmed):
        return refuse_after_filming(state, event)
    done = _filmed_acts(state)
    kept = {a.key: a for a in new.acts}
    changed = [a.act for a in current.rider.acts if a.act in done and kept.get(a.key) != a]
    if changed:
        raise _refuse(
            "filmed", f"{', '.join(sorted(set(changed)))} is already filmed and stays as it "
            "was filmed; a new version may only narrow what is not filmed yet.",
        )  # fmt: skip
    wider = [w for w in riders.widenings(current.rider, new) if w != riders.EXTENDS_DATES]
    if wider:
        raise _refuse(
            "widening-after-filming", f"Rider version {new.version} widens what was filmed "
            f"under ({'; '.join(wider)}); after filming a rider may only narrow.",
        )  # fmt: skip
    return add_version(state, event)


def refuse_after_filming(state: SceneState, event: Event) -> SceneState:
    raise _refuse(
        "filmed", "The scene is marked filmed; a withdrawal or a report is still recorded, "
        "and pick-up shots need a new scene.",
    )  # fmt: skip


def refuse_rider_out(state: SceneState, event: Event) -> SceneState:
    raise _refuse("rider-out", "A rider is already out; changes go into a new rider version.")


# --- conditional targets ---------------------------------------------------------------------


@dataclass(frozen=True)
class If:
    """Enter ``then`` when ``test`` holds for the new state, else ``orelse``."""

    test: Callable[[SceneState], bool]
    then: Phase
    orelse: Phase
    label: str

    def __str__(self) -> str:
        return f"{self.then} if {self.label}, else {self.orelse}"


def _all_sheets(s: SceneState) -> bool:
    return all(s.sheet(p) is not None for p in s.performers)


def _all_accepted(s: SceneState) -> bool:
    return not s.waiting_for


def _open_withdrawal(s: SceneState) -> bool:
    return bool(s.open_withdrawals)


def _ever_agreed(s: SceneState) -> bool:
    # The new version is already appended; look at the ones before it.
    return any(v.agreed_at is not None for v in s.versions[:-1])


def _expired(state: SceneState, log_time: int) -> bool:
    live = (Phase.PROPOSED, Phase.AGREED, Phase.AMENDED, Phase.WITHDRAWN)
    current = state.current
    return state.phase in live and current is not None and current.rider.valid_until < log_time


# --- the fold ---------------------------------------------------------------------------------


def _take(state: SceneState, event: Event, inp: Input) -> SceneState:
    row = TABLE.get((state.phase, inp))
    if row is None:
        why = "the scene is closed" if state.phase is Phase.CLOSED else f"it is {state.phase}"
        raise _refuse("not-now", f"The scene does not take {_WHAT[inp]} now: {why}.")
    action, target = row
    after = action(state, event)
    if isinstance(target, If):
        phase = target.then if target.test(after) else target.orelse
    else:
        phase = target
    moved = Step(event.log_index, inp.value, state.phase, phase)
    return replace(after, phase=phase, history=(*after.history, moved))


def step(state: SceneState, event: Event) -> SceneState:
    """Apply one event; raises :class:`SceneRuleError` (with a ``code``) if the rules refuse it."""
    if event.envelope in state.seen:
        return state  # the same envelope delivered twice (mail and HTTP): fold it once
    inp = _INPUT_OF[type(event.statement)]
    _check_sender(state, event, inp)
    if _expired(state, event.log_time):
        state = _take(state, event, Input.EXPIRE)
    return replace(_take(state, event, inp), seen=state.seen | {event.envelope})


def fold(
    events: Iterable[Event], *, strict: bool = False, viewer: bytes | None = None
) -> SceneState:
    """The scene's state after ``events``, taken in log order (by ``log_index``).

    A refused statement is kept in ``refused`` with its reason and the fold goes on, because
    the log holds what members sent whether or not the rules allow it; ``strict`` raises instead.
    ``viewer`` names whose view this is (the IC's holds every sheet, so a rider proposed before
    a sheet is in is refused there).
    """
    state = SceneState(viewer=viewer)
    for event in sorted(events, key=lambda e: e.log_index):
        try:
            state = step(state, event)
        except SceneRuleError as error:
            if strict:
                raise
            refusal = Refusal(event, error.code, str(error))
            state = replace(state, refused=(*state.refused, refusal))
    return state


# --- the whole transition table ---------------------------------------------------------------
# (phase, input) -> (action, next phase). An action may still refuse (a stale version, a
# widening after call time); a pair not listed is refused as "not now". Withdrawal has a row
# in every phase after the brief: it is always recorded.

P, I = Phase, Input  # noqa: E741 - short names keep the table one row per line
SHEETS = If(_all_sheets, P.SHEETS_IN, P.DRAFT, "every performer's sheet is in")
RENEW = If(_ever_agreed, P.AMENDED, P.PROPOSED, "a version was agreed before")


def _held(phase: Phase) -> If:
    return If(_open_withdrawal, P.WITHDRAWN, phase, "the rider holds what was withdrawn")


TABLE: dict[tuple[Phase, Input], tuple[Action, Phase | If]] = {
    (P.EMPTY, I.BRIEF):         (set_brief, SHEETS),

    (P.DRAFT, I.BRIEF):         (set_brief, SHEETS),
    (P.DRAFT, I.REQUESTS):      (set_requests, P.DRAFT),
    (P.DRAFT, I.SHEET):         (set_sheet, SHEETS),
    (P.DRAFT, I.RIDER):         (add_version, P.PROPOSED),
    (P.DRAFT, I.ANNEX):         (add_annex, P.DRAFT),
    (P.DRAFT, I.ACCEPT):        (refuse_no_rider, P.DRAFT),
    (P.DRAFT, I.FILMED):        (refuse_no_rider, P.DRAFT),
    (P.DRAFT, I.WITHDRAW):      (add_withdrawal, P.DRAFT),
    (P.DRAFT, I.REGRANT):       (add_regrant, P.DRAFT),
    (P.DRAFT, I.CHECK_IN):      (add_check_in, P.DRAFT),
    (P.DRAFT, I.REPLICA):       (add_replica_consent, P.DRAFT),
    (P.DRAFT, I.REPORT):        (add_report, P.DRAFT),
    (P.DRAFT, I.REPAIR):        (add_repair_plan, P.DRAFT),
    (P.DRAFT, I.MESSAGE):       (add_message, P.DRAFT),
    (P.DRAFT, I.CLOSE):         (set_closed, P.CLOSED),

    (P.SHEETS_IN, I.BRIEF):     (set_brief, SHEETS),
    (P.SHEETS_IN, I.REQUESTS):  (set_requests, P.SHEETS_IN),
    (P.SHEETS_IN, I.SHEET):     (set_sheet, P.SHEETS_IN),
    (P.SHEETS_IN, I.RIDER):     (add_version, P.PROPOSED),
    (P.SHEETS_IN, I.ANNEX):     (add_annex, P.SHEETS_IN),
    (P.SHEETS_IN, I.ACCEPT):    (refuse_no_rider, P.SHEETS_IN),
    (P.SHEETS_IN, I.FILMED):    (refuse_no_rider, P.SHEETS_IN),
    (P.SHEETS_IN, I.WITHDRAW):  (add_withdrawal, P.SHEETS_IN),
    (P.SHEETS_IN, I.REGRANT):   (add_regrant, P.SHEETS_IN),
    (P.SHEETS_IN, I.CHECK_IN):  (add_check_in, P.SHEETS_IN),
    (P.SHEETS_IN, I.REPLICA):   (add_replica_consent, P.SHEETS_IN),
    (P.SHEETS_IN, I.REPORT):    (add_report, P.SHEETS_IN),
    (P.SHEETS_IN, I.REPAIR):    (add_repair_plan, P.SHEETS_IN),
    (P.SHEETS_IN, I.MESSAGE):   (add_message, P.SHEETS_IN),
    (P.SHEETS_IN, I.CLOSE):     (set_closed, P.CLOSED),

    (P.PROPOSED, I.BRIEF):      (refuse_rider_out, P.PROPOSED),
    (P.PROPOSED, I.REQUESTS):   (set_requests, P.PROPOSED),
    (P.PROPOSED, I.SHEET):      (set_sheet, _held(P.PROPOSED)),
    (P.PROPOSED, I.RIDER):      (add_version, P.PROPOSED),
    (P.PROPOSED, I.ANNEX):      (add_annex, P.PROPOSED),
    (P.PROPOSED, I.ACCEPT):     (add_acceptance, If(_all_accepted, P.AGREED, P.PROPOSED,
                                                    "every performer has accepted")),
    (P.PROPOSED, I.COUNTER):    (add_counter, P.PROPOSED),
    (P.PROPOSED, I.FILMED):     (refuse_not_agreed, P.PROPOSED),
    (P.PROPOSED, I.WITHDRAW):   (add_withdrawal, _held(P.PROPOSED)),
    (P.PROPOSED, I.REGRANT):    (add_regrant, P.PROPOSED),
    (P.PROPOSED, I.CHECK_IN):   (add_check_in, P.PROPOSED),
    (P.PROPOSED, I.REPLICA):    (add_replica_consent, P.PROPOSED),
    (P.PROPOSED, I.REPORT):     (add_report, P.PROPOSED),
    (P.PROPOSED, I.REPAIR):     (add_repair_plan, P.PROPOSED),
    (P.PROPOSED, I.MESSAGE):    (add_message, P.PROPOSED),
    (P.PROPOSED, I.WAIVER):     (add_waiver, P.PROPOSED),
    (P.PROPOSED, I.EXPIRE):     (keep, P.EXPIRED),
    (P.PROPOSED, I.CLOSE):      (set_closed, P.CLOSED),

    (P.AGREED, I.BRIEF):        (refuse_rider_out, P.AGREED),
    (P.AGREED, I.REQUESTS):     (set_requests, P.AGREED),
    (P.AGREED, I.SHEET):        (set_sheet, _held(P.AGREED)),
    (P.AGREED, I.RIDER):        (add_version, P.AMENDED),
    (P.AGREED, I.ANNEX):        (add_annex, P.AGREED),
    (P.AGREED, I.ACCEPT):       (add_acceptance, P.AGREED),
    (P.AGREED, I.COUNTER):      (add_counter, P.AGREED),
    (P.AGREED, I.FILMED):       (add_filmed, P.FILMED),
    (P.AGREED, I.WITHDRAW):     (add_withdrawal, _held(P.AGREED)),
    (P.AGREED, I.REGRANT):      (add_regrant, P.AGREED),
    (P.AGREED, I.CHECK_IN):     (add_check_in, P.AGREED),
    (P.AGREED, I.REPLICA):      (add_replica_consent, P.AGREED),
    (P.AGREED, I.REPORT):       (add_report, P.AGREED),
    (P.AGREED, I.REPAIR):       (add_repair_plan, P.AGREED),
    (P.AGREED, I.MESSAGE):      (add_message, P.AGREED),
    (P.AGREED, I.WAIVER):       (add_waiver, P.AGREED),
    (P.AGREED, I.EXPIRE):       (keep, P.EXPIRED),
    (P.AGREED, I.CLOSE):        (set_closed, P.CLOSED),

    (P.AMENDED, I.BRIEF):       (refuse_rider_out, P.AMENDED),
    (P.AMENDED, I.REQUESTS):    (set_requests, P.AMENDED),
    (P.AMENDED, I.SHEET):       (set_sheet, _held(P.AMENDED)),
    (P.AMENDED, I.RIDER):       (add_version, P.AMENDED),
    (P.AMENDED, I.ANNEX):       (add_annex, P.AMENDED),
    (P.AMENDED, I.ACCEPT):      (add_acceptance, If(_all_accepted, P.AGREED, P.AMENDED,
                                                    "every performer has accepted")),
    (P.AMENDED, I.COUNTER):     (add_counter, P.AMENDED),
    (P.AMENDED, I.FILMED):      (refuse_not_agreed, P.AMENDED),
    (P.AMENDED, I.WITHDRAW):    (add_withdrawal, _held(P.AMENDED)),
    (P.AMENDED, I.REGRANT):     (add_regrant, P.AMENDED),
    (P.AMENDED, I.CHECK_IN):    (add_check_in, P.AMENDED),
    (P.AMENDED, I.REPLICA):     (add_replica_consent, P.AMENDED),
    (P.AMENDED, I.REPORT):      (add_report, P.AMENDED),
    (P.AMENDED, I.REPAIR):      (add_repair_plan, P.AMENDED),
    (P.AMENDED, I.MESSAGE):     (add_message, P.AMENDED),
    (P.AMENDED, I.WAIVER):      (add_waiver, P.AMENDED),
    (P.AMENDED, I.EXPIRE):      (keep, P.EXPIRED),
    (P.AMENDED, I.CLOSE):       (set_closed, P.CLOSED),

    (P.WITHDRAWN, I.BRIEF):     (refuse_rider_out, P.WITHDRAWN),
    (P.WITHDRAWN, I.REQUESTS):  (set_requests, P.WITHDRAWN),
    (P.WITHDRAWN, I.SHEET):     (set_sheet, P.WITHDRAWN),
    (P.WITHDRAWN, I.RIDER):     (add_version, RENEW),
    (P.WITHDRAWN, I.ANNEX):     (add_annex, P.WITHDRAWN),
    (P.WITHDRAWN, I.ACCEPT):    (refuse_withdrawn, P.WITHDRAWN),
    (P.WITHDRAWN, I.COUNTER):   (add_counter, P.WITHDRAWN),
    (P.WITHDRAWN, I.FILMED):    (refuse_withdrawn, P.WITHDRAWN),
    (P.WITHDRAWN, I.WITHDRAW):  (add_withdrawal, P.WITHDRAWN),
    (P.WITHDRAWN, I.REGRANT):   (add_regrant, P.WITHDRAWN),
    (P.WITHDRAWN, I.CHECK_IN):  (add_check_in, P.WITHDRAWN),
    (P.WITHDRAWN, I.REPLICA):   (add_replica_consent, P.WITHDRAWN),
    (P.WITHDRAWN, I.REPORT):    (add_report, P.WITHDRAWN),
    (P.WITHDRAWN, I.REPAIR):    (add_repair_plan, P.WITHDRAWN),
    (P.WITHDRAWN, I.MESSAGE):   (add_message, P.WITHDRAWN),
    (P.WITHDRAWN, I.WAIVER):    (add_waiver, P.WITHDRAWN),
    (P.WITHDRAWN, I.EXPIRE):    (keep, P.EXPIRED),
    (P.WITHDRAWN, I.CLOSE):     (set_closed, P.CLOSED),

    (P.EXPIRED, I.BRIEF):       (refuse_rider_out, P.EXPIRED),
    (P.EXPIRED, I.REQUESTS):    (set_requests, P.EXPIRED),
    (P.EXPIRED, I.SHEET):       (set_sheet, P.EXPIRED),
    (P.EXPIRED, I.RIDER):       (add_version, RENEW),
    (P.EXPIRED, I.ANNEX):       (add_annex, P.EXPIRED),
    (P.EXPIRED, I.ACCEPT):      (refuse_expired, P.EXPIRED),
    (P.EXPIRED, I.COUNTER):     (add_counter, P.EXPIRED),
    (P.EXPIRED, I.FILMED):      (refuse_expired, P.EXPIRED),
    (P.EXPIRED, I.WITHDRAW):    (add_withdrawal, P.EXPIRED),
    (P.EXPIRED, I.REGRANT):     (add_regrant, P.EXPIRED),
    (P.EXPIRED, I.CHECK_IN):    (add_check_in, P.EXPIRED),
    (P.EXPIRED, I.REPLICA):     (add_replica_consent, P.EXPIRED),
    (P.EXPIRED, I.REPORT):      (add_report, P.EXPIRED),
    (P.EXPIRED, I.REPAIR):      (add_repair_plan, P.EXPIRED),
    (P.EXPIRED, I.MESSAGE):     (add_message, P.EXPIRED),
    (P.EXPIRED, I.WAIVER):      (add_waiver, P.EXPIRED),
    (P.EXPIRED, I.CLOSE):       (set_closed, P.CLOSED),

    (P.FILMED, I.BRIEF):        (refuse_after_filming, P.FILMED),
    (P.FILMED, I.SHEET):        (refuse_after_filming, P.FILMED),
    (P.FILMED, I.RIDER):        (add_version_after_filming, P.AMENDED),
    (P.FILMED, I.ANNEX):        (add_annex, P.FILMED),
    (P.FILMED, I.ACCEPT):       (add_acceptance, P.FILMED),
    (P.FILMED, I.FILMED):       (add_filmed, P.FILMED),
    (P.FILMED, I.WITHDRAW):     (add_withdrawal, P.FILMED),
    (P.FILMED, I.REGRANT):      (add_regrant, P.FILMED),
    (P.FILMED, I.CHECK_IN):     (add_check_in, P.FILMED),
    (P.FILMED, I.REPORT):       (add_report, P.FILMED),
    (P.FILMED, I.REPAIR):       (add_repair_plan, P.FILMED),
    (P.FILMED, I.MESSAGE):      (add_message, P.FILMED),
    (P.FILMED, I.WAIVER):       (add_waiver, P.FILMED),
    (P.FILMED, I.CLOSE):        (set_closed, P.CLOSED),

    (P.CLOSED, I.WITHDRAW):     (add_withdrawal, P.CLOSED),
    (P.CLOSED, I.CHECK_IN):     (add_check_in, P.CLOSED),
    (P.CLOSED, I.REPORT):       (add_report, P.CLOSED),
    (P.CLOSED, I.REPAIR):       (add_repair_plan, P.CLOSED),
}  # fmt: skip
