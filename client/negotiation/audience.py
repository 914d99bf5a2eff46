"""Privacy by construction: whose devices each statement is encrypted to, and what a performer
may be shown. A sheet, counter, withdrawal, check-in and report reach the IC only; the rider,
acceptances, filmed marks, the brief and closing reach every participant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from client.negotiation._strict import b64
from client.negotiation.brief import SceneBrief, SceneRequests
from client.negotiation.errors import SceneRuleError
from client.negotiation.rider import Annex, PerformerTerms, Rider, RiderAct
from client.negotiation.scene_state import Event, Phase, SceneState
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
    Statement,
    TransgressionReport,
    Waiver,
    Withdrawal,
)

Rule = Literal["everyone", "ic", "named"]

# Why each rule: a partner must never read a "no" (sheet), a refused request (requests), or
# what someone took back (withdrawal, counter); the rider and its signatures are shared terms.
RULES: dict[str, Rule] = {
    SceneBrief.PURPOSE: "everyone",
    Rider.PURPOSE: "everyone",
    Acceptance.PURPOSE: "everyone",
    FilmedMark.PURPOSE: "everyone",
    SceneClose.PURPOSE: "everyone",
    Waiver.PURPOSE: "everyone",
    ReplicaConsent.PURPOSE: "ic",
    ReGrant.PURPOSE: "ic",
    Annex.PURPOSE: "ic",  # and the performer it is for (below)
    SceneRequests.PURPOSE: "ic",
    BoundarySheet.PURPOSE: "ic",
    Counter.PURPOSE: "ic",
    Withdrawal.PURPOSE: "ic",
    CheckIn.PURPOSE: "ic",
    TransgressionReport.PURPOSE: "ic",
    Message.PURPOSE: "named",
    RepairPlan.PURPOSE: "named",
}


def audience(statement: Statement, *, sender: bytes, brief: SceneBrief) -> frozenset[bytes]:
    """The identities whose current devices the envelope must be encrypted to.

    Always includes the sender (their own other devices). For the first brief, pass the brief
    itself as ``brief``. Raises :class:`SceneRuleError` if a message names a non-member or a
    report asks for a production contact the scene does not have.
    """
    rule = RULES[statement.PURPOSE]
    if rule == "everyone":
        # The IC and the performers; a union representative receives only the brief and
        # what is addressed to them (their waiver, a message, a report sent to them).
        readers = {brief.ic, *brief.performers, *brief.guardians, sender}
        if isinstance(statement, SceneBrief | Waiver):
            readers |= brief.members
        return frozenset(readers)
    if rule == "ic":
        readers = {brief.ic, sender}
        if isinstance(statement, Annex):
            # A performer's private terms: them, their guardian if a minor, and the IC only.
            readers |= {statement.performer, *brief.guardians_of(statement.performer)}
        if sender in brief.minors and not isinstance(statement, TransgressionReport):
            readers |= set(brief.guardians_of(sender))  # a guardian reads their minor's sheet
        if isinstance(statement, TransgressionReport):
            readers |= _report_readers(statement, brief)
        return frozenset(readers)
    assert isinstance(statement, Message | RepairPlan)
    if not set(statement.to) <= brief.members:
        raise SceneRuleError("A message may only be sent to members of the scene.", "non-member")
    if isinstance(statement, RepairPlan):
        return frozenset(statement.to) | {sender, brief.ic}  # the IC follows up on every report
    return frozenset(statement.to) | {sender}


def _report_readers(report: TransgressionReport, brief: SceneBrief) -> set[bytes]:
    """Beyond the IC: the production contact and the union representative, as the reporter
    chose; a report that involves the IC never goes to the IC alone (rule set 2)."""
    readers: set[bytes] = set()
    if report.send_to_production:
        if brief.production_contact is None:
            raise SceneRuleError(
                "This scene names no production contact; send the report to the IC only.",
                "no-production-contact",
            )
        readers.add(brief.production_contact.identity)
    if report.send_to_union_rep:
        if brief.union_rep is None:
            raise SceneRuleError(
                "This scene names no union representative; send the report to the IC "
                "(or the production contact, if you are named to it).",
                "no-union-rep",
            )
        readers.add(brief.union_rep)
    if brief.rules >= 2 and brief.ic in report.involved and not readers:
        who = "the union representative" if brief.union_rep else "the production contact"
        if brief.union_rep is None and brief.production_contact is None:
            raise SceneRuleError(
                "This report involves the IC, and the scene names no union representative or "
                "production contact to receive it too; report it outside the scene (SAG-AFTRA "
                "Safe Place) or ask the production to name one.",
                "report-about-ic",
            )
        raise SceneRuleError(
            f"This report involves the IC, so it never goes to the IC alone; send it to {who} too.",
            "report-about-ic",
        )
    return readers


def visible_to(viewer: bytes, events: Iterable[Event]) -> list[Event]:
    """The events ``viewer`` can decrypt, by the rules above, in log order.

    What a viewer's own profile would fold; tests use it to check that nothing private leaks.
    """
    brief: SceneBrief | None = None
    out = []
    for event in sorted(events, key=lambda e: e.log_index):
        if isinstance(event.statement, SceneBrief) and (brief is None or brief.ic == event.sender):
            brief = event.statement
        if brief is None:
            continue
        try:
            readers = audience(event.statement, sender=event.sender, brief=brief)
        except SceneRuleError:
            readers = frozenset({event.sender})
        if viewer in readers:
            out.append(event)
    return out


@dataclass(frozen=True)
class PerformerView:
    """What one performer may be shown: the scene, the rider, what matched for them, and their
    own statements. Nothing here comes from a partner's sheet except what the rider says."""

    performer: bytes
    phase: Phase
    brief: SceneBrief
    rider: Rider | None
    rider_hash: bytes | None
    agreed: bool
    accepted_by: tuple[bytes, ...]
    waiting_for: tuple[bytes, ...]
    my_acts: tuple[RiderAct, ...]  # what matched: the rider's acts this performer is part of
    my_terms: PerformerTerms | None
    my_sheet: BoundarySheet | None
    my_withdrawals: tuple[Withdrawal, ...]
    my_counters: tuple[Counter, ...]
    my_check_ins: tuple[CheckIn, ...]
    filmed: tuple[FilmedMark, ...]

    def to_json(self) -> dict[str, Any]:
        rider = self.rider
        return {
            "performer": b64(self.performer),
            "phase": self.phase.value,
            "brief": self.brief.to_json(),
            "rider": None if rider is None else rider.to_json(),
            "rider_hash": None if self.rider_hash is None else b64(self.rider_hash),
            "agreed": self.agreed,
            "accepted_by": [b64(k) for k in self.accepted_by],
            "waiting_for": [b64(k) for k in self.waiting_for],
            "my_acts": [a.to_json() for a in self.my_acts],
            "my_terms": None if self.my_terms is None else self.my_terms.to_json(),
            "my_sheet": None if self.my_sheet is None else self.my_sheet.to_json(),
            "my_withdrawals": [w.to_json() for w in self.my_withdrawals],
            "my_counters": [c.to_json() for c in self.my_counters],
            "my_check_ins": [c.to_json() for c in self.my_check_ins],
            "filmed": [f.to_json() for f in self.filmed],
        }


def performer_view(state: SceneState, performer: bytes) -> PerformerView:
    """What ``performer`` may be shown of ``state``, whichever view ``state`` was folded from.

    Reads only shared records (brief, rider versions, acceptances, filmed marks) and the
    performer's own private ones; other performers' sheets, counters and withdrawals, and the
    director's requests, are never read here.
    """
    if state.brief is None or performer not in state.performers:
        raise SceneRuleError("This identity is not a performer of the scene.", "non-member")
    current = state.current
    rider = None if current is None else current.rider
    accepted = () if rider is None else tuple(sorted(state.accepted(rider.version)))
    return PerformerView(
        performer=performer,
        phase=state.phase,
        brief=state.brief,
        rider=rider,
        rider_hash=None if current is None else current.hash,
        agreed=current is not None and current.agreed_at is not None,
        accepted_by=accepted,
        waiting_for=state.waiting_for,
        my_acts=() if rider is None else rider.acts_of(performer),
        my_terms=None if rider is None else rider.terms(performer),
        my_sheet=state.sheet(performer),
        my_withdrawals=tuple(
            w.sent.statement for w in state.withdrawals if w.sent.sender == performer
        ),
        my_counters=tuple(c.statement for c in state.counters if c.sender == performer),
        my_check_ins=tuple(c.statement for c in state.check_ins if c.sender == performer),
        filmed=tuple(f.statement for f in state.filmed),
    )
