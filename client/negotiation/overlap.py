"""The IC's overlap review: per act and direction, who said what, and what follows from it.

An act from A (giving) to B (receiving) is agreed only if A said yes to giving, B said yes to
receiving, and the zones it touches allow it. Only the IC sees this; see audience.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations, permutations
from typing import Any, Literal

from client.negotiation import timing
from client.negotiation import vocabulary as vocab
from client.negotiation._strict import b64
from client.negotiation.brief import SceneBrief, SceneRequests
from client.negotiation.scene_state import SceneState
from client.negotiation.sheet import BoundarySheet
from client.negotiation.timing import Flag
from client.negotiation.vocabulary import Act, Answer, Direction, ZoneAnswer

Outcome = Literal["agreed", "ask-first", "discuss", "waiting", "conflict"]
# Worst first: one "no" is a conflict whatever else was said; a missing sheet is waiting.
_RANK: dict[Outcome, int] = {"conflict": 4, "waiting": 3, "discuss": 2, "ask-first": 1, "agreed": 0}
_FROM_ANSWER: dict[Answer, Outcome] = {
    "yes": "agreed",
    "ask-first": "ask-first",
    "maybe": "discuss",
    "no": "conflict",
}
_ZONE_RANK: dict[ZoneAnswer, int] = {"never": 2, "ask-first": 1, "ok": 0}


def worst(*outcomes: Outcome) -> Outcome:
    return max(outcomes, key=_RANK.__getitem__, default="agreed")


def combine_zones(*answers: ZoneAnswer) -> ZoneAnswer:
    """never > ask first > OK."""
    return max(answers, key=_ZONE_RANK.__getitem__, default="ok")


@dataclass(frozen=True)
class ActRow:
    """One act between two performers in one direction (or both, for mutual acts)."""

    act: str
    giver: bytes
    receiver: bytes
    directional: bool
    giver_answer: Answer | None  # None: no sheet yet
    receiver_answer: Answer | None
    zones: tuple[tuple[str, ZoneAnswer], ...]  # the act's zones that are not "never"
    excluded_zones: tuple[str, ...]  # "never" for the body touched
    intensity: int | None  # the lower of the two limits
    requested: bool
    outcome: Outcome

    def to_json(self) -> dict[str, Any]:
        return {
            "act": self.act,
            "giver": b64(self.giver),
            "receiver": b64(self.receiver),
            "directional": self.directional,
            "giver_answer": self.giver_answer,
            "receiver_answer": self.receiver_answer,
            "zones": [{"zone": z, "answer": a} for z, a in self.zones],
            "excluded_zones": list(self.excluded_zones),
            "intensity": self.intensity,
            "requested": self.requested,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class NudityRow:
    """One performer and one nudity part: may it be shown, and was it asked for."""

    performer: bytes
    part: str
    shown: bool | None  # None: no sheet yet
    requested: bool

    @property
    def outcome(self) -> Outcome | Literal["not-requested"]:
        if not self.requested:
            return "not-requested"
        return "waiting" if self.shown is None else "agreed" if self.shown else "conflict"

    def to_json(self) -> dict[str, Any]:
        return {
            "performer": b64(self.performer),
            "part": self.part,
            "shown": self.shown,
            "requested": self.requested,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class Review:
    """The IC's whole review of a scene; ``to_json`` is what ``closedset review --json`` prints."""

    brief: SceneBrief
    acts: tuple[ActRow, ...]
    nudity: tuple[NudityRow, ...]
    sheets: Mapping[bytes, BoundarySheet]
    missing_sheets: tuple[bytes, ...]
    notes: tuple[str, ...]
    flags: tuple[Flag, ...] = ()

    def rows(self, outcome: Outcome) -> tuple[ActRow, ...]:
        return tuple(r for r in self.acts if r.outcome == outcome)

    @property
    def unmet_requests(self) -> tuple[ActRow | NudityRow, ...]:
        acts = tuple(r for r in self.acts if r.requested and r.outcome != "agreed")
        return acts + tuple(n for n in self.nudity if n.requested and n.outcome != "agreed")

    def to_json(self) -> dict[str, Any]:
        return {
            "scene": self.brief.to_json(),
            "missing_sheets": [b64(k) for k in self.missing_sheets],
            "counts": {o: len(self.rows(o)) for o in _RANK},
            "acts": [r.to_json() for r in self.acts],
            "nudity": [n.to_json() for n in self.nudity],
            "unmet_requests": [r.to_json() for r in self.unmet_requests],
            "performers": {b64(k): _summary(s) for k, s in self.sheets.items()},
            "notes": list(self.notes),
            "flags": [f.to_json() for f in self.flags],
        }


def _summary(sheet: BoundarySheet) -> dict[str, Any]:
    # Everything on the sheet except the answers the rows above already show.
    value = sheet.to_json()
    for key in ("acts", "zones", "nudity_shown", "vocabulary"):
        del value[key]
    return value


def pairs(brief: SceneBrief, requests: SceneRequests | None = None) -> list[tuple[bytes, bytes]]:
    """Unordered pairs in byte order: the brief's, or every pair; plus any a request names."""
    chosen = set(brief.pairs) or set(combinations(sorted(brief.performers), 2))
    for r in () if requests is None else requests.acts:
        chosen.add((min(r.giver, r.receiver), max(r.giver, r.receiver)))
    return sorted(chosen)


def _row(
    act: Act,
    giver: bytes,
    receiver: bytes,
    sheets: Mapping[bytes, BoundarySheet],
    requested: bool,
) -> ActRow:
    directions: tuple[Direction, Direction] = (
        ("giving", "receiving") if act.directional else ("mutual", "mutual")
    )
    g_dir, r_dir = directions
    g_sheet, r_sheet = sheets.get(giver), sheets.get(receiver)
    g = None if g_sheet is None else g_sheet.answer(act.id, g_dir)
    r = None if r_sheet is None else r_sheet.answer(act.id, r_dir)
    outcomes: list[Outcome] = ["waiting" if a is None else _FROM_ANSWER[a.answer] for a in (g, r)]
    # The body touched is the receiver's; in a mutual act both bodies are touched.
    bodies = [r_sheet] if act.directional else [g_sheet, r_sheet]
    zones: list[tuple[str, ZoneAnswer]] = []
    excluded = []
    for zone in act.zones:
        answers = [s.zone(zone).answer for s in bodies if s is not None]
        combined = combine_zones(*answers)
        if combined == "never":
            excluded.append(zone)
        else:
            zones.append((zone, combined))
    if not zones:
        outcomes.append("conflict")  # every zone the act touches is "never"
    elif all(a == "ask-first" for _, a in zones):
        outcomes.append("ask-first")
    limits = [a.intensity for a in (g, r) if a is not None and a.intensity is not None]
    return ActRow(
        act=act.id,
        giver=giver,
        receiver=receiver,
        directional=act.directional,
        giver_answer=None if g is None else g.answer,
        receiver_answer=None if r is None else r.answer,
        zones=tuple(zones),
        excluded_zones=tuple(excluded),
        intensity=min(limits, default=None),
        requested=requested,
        outcome=worst(*outcomes),
    )


def review(
    brief: SceneBrief,
    sheets: Mapping[bytes, BoundarySheet],
    requests: SceneRequests | None = None,
    *,
    flags: tuple[Flag, ...] = (),
) -> Review:
    """The overlap of ``sheets`` (performer identity -> sheet) for the brief's pairs."""
    v = vocab.load()
    wanted = set()
    for r in () if requests is None else requests.acts:
        mutual = not v.act(r.act).directional
        wanted.add(
            (r.act, *sorted((r.giver, r.receiver))) if mutual else (r.act, r.giver, r.receiver)
        )
    rows = []
    for a, b in pairs(brief, requests):
        for act in v.acts.values():
            ordered = permutations((a, b)) if act.directional else [(a, b)]
            for giver, receiver in ordered:
                asked = (act.id, giver, receiver) in wanted
                rows.append(_row(act, giver, receiver, sheets, asked))
    asked_nudity = set() if requests is None else set(requests.nudity)
    nudity = []
    for performer in brief.performers:
        sheet = sheets.get(performer)
        for part in v.nudity:
            shown = None if sheet is None else part in sheet.nudity_shown
            nudity.append(NudityRow(performer, part, shown, (performer, part) in asked_nudity))
    present = {k: s for k, s in sheets.items() if k in brief.performers}
    notes = []
    if len({(s.signals.stop, s.signals.slow) for s in present.values()}) > 1:
        notes.append("The performers chose different stop or slow-down words; agree on one set.")
    return Review(
        brief=brief,
        acts=tuple(rows),
        nudity=tuple(nudity),
        sheets=present,
        missing_sheets=tuple(p for p in brief.performers if p not in sheets),
        notes=tuple(notes),
        flags=flags,
    )


def review_scene(state: SceneState, now: int) -> Review:
    """The review of a folded scene (the IC's view), with its timing flags at ``now``."""
    if state.brief is None:
        raise ValueError("A scene without a brief has nothing to review.")
    # Each sheet as the performer's withdrawals since have narrowed it: a withdrawn item is
    # never drafted again (rule set 2).
    sheets = {s.sender: s.statement for s in state.sheets}
    if state.rules >= 2:
        consents = state.consents()
        sheets = {k: consents[k].narrowed() or v for k, v in sheets.items()}
    requests = None if state.requests is None else state.requests.statement
    return review(state.brief, sheets, requests, flags=timing.flags(state, now))
