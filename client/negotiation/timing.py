"""The timing rules of DOMAIN.md as flags: pure functions of a scene state and a ``now``.

Widening after call time is refused by the fold itself (scene.py); here it surfaces as a flag
next to late agreement, short notice, withdrawal after filming, the check-in and expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from client.negotiation._strict import b64
from client.negotiation.consent import describe, minimum_breaches
from client.negotiation.rider import additions, exposure_increases
from client.negotiation.scene_state import Phase, SceneState

HOUR = 3600
NOTICE = 48 * HOUR  # rider agreed, and new acts or nudity announced, 48 hours before call
CHECK_IN_FROM = 24 * HOUR  # the aftercare check-in falls 24-48 hours after the shoot
CHECK_IN_UNTIL = 48 * HOUR

Severity = Literal["refused", "warning", "info"]


@dataclass(frozen=True)
class Flag:
    """One timing finding: a stable ``code`` for programs and a sentence for people."""

    code: str
    severity: Severity
    message: str
    version: int | None = None
    performer: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "version": self.version,
            "performer": None if self.performer is None else b64(self.performer),
        }


def _hours(seconds: int) -> str:
    return f"{seconds / HOUR:.1f} hours"


def late_agreement(state: SceneState) -> list[Flag]:
    """The first agreement reached under 48 hours before call time (narrowing later is fine)."""
    first = next((v for v in state.versions if v.agreed_at is not None), None)
    if first is None or first.agreed_at is None:
        return []
    lead = first.rider.call_time - first.agreed_at
    if lead >= NOTICE:
        return []
    return [
        Flag(
            "late-agreement",
            "warning",
            f"Rider version {first.rider.version} was agreed {_hours(lead)} before call time; "
            "the rule is at least 48 hours.",
            first.rider.version,
        )
    ]


def short_notice(state: SceneState) -> list[Flag]:
    """A version adding acts or nudity to an agreed one, proposed under 48 hours before call."""
    found = []
    agreed = None
    for version in state.versions:
        if agreed is not None:
            # Rule set 2: any increase in exposure, not only a new act or more nudity.
            more = exposure_increases if state.rules >= 2 else additions
            added = more(agreed.rider, version.rider)
            lead = version.rider.call_time - version.proposed.at
            if added and lead < NOTICE:
                found.append(
                    Flag(
                        "short-notice",
                        "warning",
                        f"Rider version {version.rider.version} adds {', '.join(added)} "
                        f"{_hours(lead)} before call time; an increase in exposure needs 48 "
                        "hours' notice and a new agreement.",
                        version.rider.version,
                    )
                )
        if version.agreed_at is not None:
            agreed = version
    return found


def minimums(state: SceneState) -> list[Flag]:
    """A scene under an older rule set is never reinterpreted, but a rider of it that breaks
    a newer minimum is flagged (rule set 2's barrier rule)."""
    if state.rules >= 2 or state.current is None:
        return []
    return [
        Flag(
            "minimum-broken",
            "warning",
            f"Rider version {state.current.rider.version} holds {describe(b.item)} and "
            "performer terms without a barrier or modesty garment; rule set 2 refuses this "
            "(genital-area contact needs a barrier for each performer).",
            state.current.rider.version,
            b.performer,
        )
        for b in minimum_breaches(state.current.rider)
    ]


def notice_findings(state: SceneState) -> tuple[str, ...]:
    """Rule set 2: what makes filming the current rider fall under the 48-hour floor (a late
    first agreement, an increase in exposure under 48 hours), in words."""
    current = state.current
    if state.rules < 2 or current is None:
        return ()
    call = current.rider.call_time
    early = [v for v in state.versions if v.agreed_at is not None and call - v.agreed_at >= NOTICE]
    if not early:
        return tuple(f.message for f in late_agreement(state))
    # Measured against the last version agreed in time: what the rider being filmed adds.
    base = early[-1]
    more = exposure_increases(base.rider, current.rider)
    lead = call - current.proposed.at
    if not more or lead >= NOTICE:
        return ()
    return (
        f"Rider version {current.rider.version} adds {', '.join(more)} {_hours(lead)} before "
        f"call time, beyond version {base.rider.version} agreed in time.",
    )


def notice_floor(state: SceneState) -> list[Flag]:
    """How the 48-hour floor was met when filming: waived by the union representative, or,
    for a production without a union agreement, flagged to everyone and recorded on the mark."""
    found = []
    for mark in state.filmed:
        if mark.statement.notice:
            found.append(
                Flag(
                    "notice-floor-recorded",
                    "warning",
                    f"Rider version {mark.statement.version} was filmed under 48 hours' notice "
                    "(no union agreement); recorded on the filmed mark: "
                    + " ".join(mark.statement.notice),
                    mark.statement.version,
                )
            )
    for w in state.waivers:
        found.append(
            Flag(
                "notice-floor-waived",
                "info",
                f"The union representative waived the 48-hour notice for rider version "
                f"{w.statement.version}: {w.statement.reason}",
                w.statement.version,
            )
        )
    return found


def widening_refused(state: SceneState) -> list[Flag]:
    return [
        Flag("widening-after-call-time", "refused", r.reason, performer=r.event.sender)
        for r in state.refused
        if r.code == "widening-after-call-time"
    ]


def withdrawal_after_filming(state: SceneState) -> list[Flag]:
    return [
        Flag(
            "withdrawal-after-filming",
            "info",
            "A withdrawal arrived after filming: it is recorded; footage already shot stays "
            "with the production under the rider's limits.",
            w.version,
            w.sent.sender,
        )
        for w in state.withdrawals
        if w.after_filming
    ]


def check_in(state: SceneState, now: int) -> list[Flag]:
    """Per performer: due from 24 to 48 hours after the last filmed mark, overdue after."""
    # Closing the scene does not drop the reminders (rule set 2); a performer who chose "none"
    # on their sheet gets none.
    shot = state.filmed_at
    if shot is None or (state.closed is not None and state.rules < 2):
        return []
    start = state.filmed[0].at
    elapsed = now - shot
    found = []
    for performer in state.performers:
        done = any(c.sender == performer and c.at >= start for c in state.check_ins)
        sheet = state.sheet(performer)
        if done or elapsed < CHECK_IN_FROM or (sheet is not None and sheet.check_in == "none"):
            continue
        overdue = elapsed > CHECK_IN_UNTIL
        found.append(
            Flag(
                "check-in-overdue" if overdue else "check-in-due",
                "warning" if overdue else "info",
                f"The aftercare check-in is {'overdue' if overdue else 'due'}: "
                f"{_hours(elapsed)} since filming (24-48 hours).",
                performer=performer,
            )
        )
    return found


def expired(state: SceneState, now: int) -> list[Flag]:
    """Consent past the rider's date range (before filming) must be renewed."""
    current = state.current
    if current is None or state.phase in (Phase.FILMED, Phase.CLOSED):
        return []
    if state.phase is not Phase.EXPIRED and now <= current.rider.valid_until:
        return []
    return [
        Flag(
            "expired",
            "warning",
            f"Rider version {current.rider.version}'s consent date range has ended; the IC "
            "must renew it with a new version and every acceptance again.",
            current.rider.version,
        )
    ]


def not_agreed(state: SceneState, now: int) -> list[Flag]:
    """Call time is under 48 hours away (or past) and no rider is agreed."""
    call = state.call_time
    holding = (Phase.AGREED, Phase.FILMED, Phase.CLOSED, Phase.EMPTY)
    if call is None or state.phase in holding or call - now >= NOTICE:
        return []
    when = "has passed" if now >= call else f"is in {_hours(call - now)}"
    return [Flag("not-agreed", "warning", f"Call time {when} and no rider is agreed.")]


def flags(state: SceneState, now: int) -> tuple[Flag, ...]:
    """Every timing flag for the scene at ``now`` (Unix seconds), as the IC sees it.

    A performer's CLI shows the flags whose ``performer`` is them or ``None``.
    """
    return tuple(
        late_agreement(state)
        + short_notice(state)
        + widening_refused(state)
        + notice_floor(state)
        + minimums(state)
        + withdrawal_after_filming(state)
        + check_in(state, now)
        + expired(state, now)
        + not_agreed(state, now)
    )
