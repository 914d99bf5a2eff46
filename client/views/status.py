"""``closedset scene status``: where one scene stands, as the viewer's own fold makes it.

The IC's fold holds everything; a performer's holds only what was encrypted to them, so their
status never shows a partner's sheet, counter or withdrawal.
"""

from __future__ import annotations

from typing import Any

from client.negotiation import words
from client.negotiation._strict import b64
from client.negotiation.consent import describe
from client.negotiation.scene_state import Phase, SceneState
from client.negotiation.timing import flags
from client.views.people import Names
from keys.identity import Fingerprint


def visible_flags(state: SceneState, me: bytes, role: str, now: int) -> list[dict[str, Any]]:
    """The IC sees every timing flag; a performer those about the scene or about them."""
    found = flags(state, now)
    if role != "ic":
        found = tuple(f for f in found if f.performer in (None, me))
    return [f.to_json() for f in found]


def next_step(state: SceneState, me: bytes, role: str, alias: str, names: Names) -> str:
    """One sentence: what this person can do next."""
    p = state.phase
    if role == "ic":
        waiting = ", ".join(names(x) for x in state.waiting_for)
        missing = [names(x) for x in state.performers if state.sheet(x) is None]
        steps = {
            Phase.EMPTY: f"Invite performers (`closedset scene invite {alias}`), then send the "
            f"brief with `closedset scene brief {alias}`.",
            Phase.DRAFT: f"Waiting for boundary sheets from {', '.join(missing) or 'nobody'}.",
            Phase.SHEETS_IN: f"Every sheet is in: `closedset review {alias}`, then "
            f"`closedset rider template {alias}` and `closedset rider propose`.",
            Phase.PROPOSED: f"Waiting for acceptances from {waiting}.",
            Phase.AMENDED: f"Waiting for acceptances of the new version from {waiting}.",
            Phase.AGREED: f"Agreed; after the shoot, `closedset filmed {alias}`.",
            Phase.WITHDRAWN: "A performer withdrew consent: answer with a new version "
            f"(`closedset rider template {alias}`) without what was withdrawn.",
            Phase.EXPIRED: "The consent date range ended: propose a new version to renew it.",
            Phase.FILMED: "Filmed; the aftercare check-in falls 24-48 hours after the shoot.",
            Phase.CLOSED: "The scene is closed.",
        }
        return steps[p]
    if state.brief is None:
        return "Waiting for the IC's scene brief."
    if state.sheet(me) is None and p in (Phase.DRAFT, Phase.SHEETS_IN):
        return f"Fill in your sheet: `closedset sheet template {alias} --out sheet.toml`."
    current = state.current
    if current is None:
        return "Your sheet is with the IC; waiting for the rider."
    if p in (Phase.PROPOSED, Phase.AMENDED) and me in state.waiting_for:
        return f"Read `closedset rider show {alias}`, then `rider accept` or `rider counter`."
    steps = {
        Phase.AGREED: "Agreed. You may still withdraw anything: `closedset withdraw`.",
        Phase.WITHDRAWN: "Your withdrawal is with the IC; wait for their new version.",
        Phase.FILMED: f"Filmed. Check in with the IC: `closedset checkin {alias} --status ok`.",
    }
    return steps.get(p, "Waiting for the other performers and the IC.")


def status(state: SceneState, me: bytes, role: str, alias: str, now: int) -> dict[str, Any]:
    """Everything ``scene status`` prints, as JSON-able data."""
    names = Names(state.brief, me)
    brief = state.brief
    out: dict[str, Any] = {
        "scene": alias,
        "you": role,
        "phase": state.phase.value,
        "next": next_step(state, me, role, alias, names),
    }
    if brief is None:
        return out
    out |= {
        "title": brief.title,
        "number": brief.scene,
        "pages": brief.pages,
        "call_time": state.call_time,
        "valid_from": brief.valid_from,
        "valid_until": brief.valid_until,
        "participants": [
            {
                "name": p.name,
                "role": p.role,
                "fingerprint": Fingerprint.of(p.identity).grouped(),
                # The IC sees whose sheet is in; a performer only their own.
                "sheet": (state.sheet(p.identity) is not None)
                if p.role == "performer" and (role == "ic" or p.identity == me)
                else None,
            }
            for p in brief.participants
        ],
        "versions": [
            {
                "version": v.rider.version,
                "hash": b64(v.hash),
                "proposed_at": v.proposed.at,
                "agreed_at": v.agreed_at,
                "accepted_by": names.many(sorted(state.accepted(v.rider.version))),
            }
            for v in state.versions
        ],
        "waiting_for": names.many(state.waiting_for),
        "counters": [
            {
                "by": names(c.sender),
                "version": c.statement.version,
                "comments": c.statement.comments,
                "at": c.at,
            }
            for c in state.counters
        ],
        "withdrawals": [
            {
                "by": names(w.sent.sender),
                "items": [describe(i) for i in w.items] or ["the whole rider"],
                "reason": w.reason,
                "version": w.version,
                "at": w.sent.at,
                "after_filming": w.after_filming,
                "log_index": w.sent.index,
                # A narrower sheet counts as a withdrawal; one of an item the rider did not
                # hold is recorded and blocks nothing.
                "by_sheet": w.by_sheet,
                "blocks": w.blocks,
                "open": w in state.open_withdrawals,
            }
            for w in state.withdrawals
        ],
        # What stays withdrawn until that performer says yes again (a newer sheet).
        "still_withdrawn": {
            names(p): [describe(i) for i in sorted(items)]
            for p in state.performers
            if (items := state.withdrawn(p))
        },
        "filmed": [
            {"version": f.statement.version, "acts": list(f.statement.acts), "at": f.at}
            for f in state.filmed
        ],
        # In full: the IC follows up on every check-in and report (a performer sees their own).
        "check_ins": [
            {
                "by": names(c.sender),
                "status": c.statement.status,
                "note": c.statement.note,
                "wants_contact": c.statement.wants_contact,
                "at": c.at,
            }
            for c in state.check_ins
        ],
        "reports": [
            {
                "by": names(r.sender),
                "at": r.at,
                "kind": r.statement.kind,
                "content": words.in_words(r.statement, names),
            }
            for r in state.reports
        ],
        "flags": visible_flags(state, me, role, now),
        "refused": [
            {
                "index": r.event.log_index,
                "by": names(r.event.sender),
                "code": r.code,
                "reason": r.reason,
            }
            for r in state.refused
        ],
    }
    return out
