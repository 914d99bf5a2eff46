"""``closedset rider diff``: what changed between two rider versions, each change marked as
widening (needs every acceptance again, 48 hours' notice for new acts or nudity, and is refused
after call time) or narrowing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from client.negotiation import consent
from client.negotiation import vocabulary as vocab
from client.negotiation.rider import PerformerTerms, Rider, RiderAct
from client.timefmt import show_time
from client.views.people import Names

Effect = Literal["widens", "narrows", "changes"]


@dataclass(frozen=True)
class Change:
    what: str  # act, zone, intensity, nudity, garment, footage, double, closed set, terms
    text: str
    effect: Effect

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "text": self.text, "effect": self.effect}


def _set_changes(
    what: str, old: set[str], new: set[str], label: str, more_is_wider: bool = True
) -> list[Change]:
    wide: Effect = "widens" if more_is_wider else "narrows"
    narrow: Effect = "narrows" if more_is_wider else "widens"
    return [Change(what, f"{label}: adds {x}", wide) for x in sorted(new - old)] + [
        Change(what, f"{label}: removes {x}", narrow) for x in sorted(old - new)
    ]


def diff(
    old: Rider,
    new: Rider,
    names: Names,
    withdrawn: Mapping[bytes, frozenset[str]] | None = None,
) -> list[Change]:
    """Every difference from ``old`` to ``new``, acts first, then per performer, then the rest.
    A removal answering a withdrawal this viewer can read (``withdrawn``: performer -> items
    still withdrawn) says so; a performer's view holds only their own withdrawals."""
    v = vocab.load()
    out: list[Change] = []
    withdrawn = withdrawn or {}

    def why(ra: RiderAct) -> str:
        by = [
            names(p)
            for p in (ra.giver, ra.receiver)
            if any(consent.act_holds(ra, i, p) for i in withdrawn.get(p, ()))
        ]
        return f" (withdrawn by {', '.join(by)})" if by else ""

    def who(key: tuple[str, bytes, bytes]) -> str:
        arrow = "→" if v.acts[key[0]].directional else "↔"
        return f"{v.acts[key[0]].name}, {names(key[1])} {arrow} {names(key[2])}"

    before = {a.key: a for a in old.acts}
    after = {a.key: a for a in new.acts}
    out += [Change("act", f"adds {who(k)}", "widens") for k in after if k not in before]
    out += [
        Change("act", f"removes {who(k)}{why(before[k])}", "narrows")
        for k in before
        if k not in after
    ]
    for key in [k for k in after if k in before]:
        a, b = before[key], after[key]
        out += _set_changes("zone", set(a.zones), set(b.zones), who(key))
        if a.intensity != b.intensity:
            looser = b.intensity is None or (a.intensity is not None and b.intensity > a.intensity)
            limits = [str(x) if x else "no limit" for x in (a.intensity, b.intensity)]
            text = f"{who(key)}: intensity {limits[0]} to {limits[1]}"
            out.append(Change("intensity", text, "widens" if looser else "narrows"))
        if a.note != b.note:
            out.append(Change("note", f"{who(key)}: note now {b.note or 'none'!r}", "changes"))
    terms_old = {t.identity: t for t in old.performers}
    for t in new.performers:
        was = terms_old.get(t.identity, PerformerTerms(t.identity))
        name = names(t.identity)
        out += _set_changes("nudity", set(was.nudity), set(t.nudity), f"{name}'s nudity shown")
        out += _set_changes(
            "garment", set(was.garments), set(t.garments), f"{name}'s garments", False
        )
        out += _set_changes("footage", set(was.footage), set(t.footage), f"{name}'s footage uses")
        old_d, new_d = was.doubles.to_json(), t.doubles.to_json()
        for double, allowed in new_d.items():
            if allowed != old_d[double]:
                effect: Effect = "widens" if allowed else "narrows"
                verb = "allows" if allowed else "no longer allows"
                out.append(Change("double", f"{name}: {verb} {double.replace('_', ' ')}", effect))
    cs_old, cs_new = old.closed_set, new.closed_set
    out += _set_changes("closed set", set(cs_old.present), set(cs_new.present), "closed set")
    out += _set_changes("closed set", set(cs_old.monitors), set(cs_new.monitors), "monitors")
    if cs_old.stills != cs_new.stills:
        text = "stills allowed" if cs_new.stills else "stills no longer allowed"
        out.append(Change("closed set", text, "widens" if cs_new.stills else "narrows"))
    for field in ("call_time", "valid_from", "valid_until"):
        if getattr(old, field) != getattr(new, field):
            text = f"{field.replace('_', ' ')}: {show_time(getattr(old, field))} to "
            out.append(Change("time", text + show_time(getattr(new, field)), "changes"))
    for field in ("pages", "description", "signals"):
        if getattr(old, field) != getattr(new, field):
            out.append(Change("terms", f"{field} changed", "changes"))
    return out
