"""Sheets, riders and the IC's review as table rows: act names from the vocabulary, people by
name, so a coordinator reads them like the spreadsheet they replace."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from client.negotiation import vocabulary as vocab
from client.negotiation._strict import b64
from client.negotiation.overlap import ActRow, Review
from client.negotiation.rider import Rider, RiderAct
from client.negotiation.scene_state import SceneState
from client.negotiation.sheet import BoundarySheet
from client.timefmt import show_time
from client.views.people import Names

_ARROW = {True: "→", False: "↔"}


def act_name(act: str) -> str:
    return vocab.load().acts[act].name


def sheet_rows(sheet: BoundarySheet) -> dict[str, list[list[str]]]:
    """The sheet as three tables: acts (one row per act), zones, and everything else."""
    acts = []
    for act in vocab.load().acts.values():
        cells = []
        for d in ("giving", "receiving") if act.directional else ("mutual",):
            a = sheet.answer(act.id, d)
            limit = f" (≤{a.intensity})" if a.intensity is not None else ""
            cells.append(a.answer + limit)
        acts.append([act.name, *cells] if act.directional else [act.name, cells[0], cells[0]])
    zones = [[z.zone, z.answer, z.note or ""] for z in sheet.zones]
    other = [
        ["name, pronouns", f"{sheet.name}, {sheet.pronouns}"],
        ["stop / slow words", f"{sheet.signals.stop} / {sheet.signals.slow}"],
        ["non-verbal signal", sheet.signals.nonverbal],
        ["nudity shown", ", ".join(sheet.nudity_shown) or "none"],
        ["modesty garments", ", ".join(sheet.garments) or "none"],
        ["closed set", ", ".join(sheet.closed_set.present) or "-"],
        ["monitors", ", ".join(sheet.closed_set.monitors) or "-"],
        ["stills", "yes" if sheet.closed_set.stills else "no"],
        ["footage uses", ", ".join(sheet.footage) or "none"],
        ["doubles", _doubles(sheet.doubles.to_json())],
        ["health", sheet.health or "-"],
        ["aftercare", sheet.aftercare or "-"],
        ["check-in by", sheet.check_in],
        ["notes", sheet.notes or "-"],
    ]
    return {"acts": acts, "zones": zones, "other": other}


def _doubles(flags: dict[str, bool]) -> str:
    return ", ".join(k.replace("_", " ") for k, v in flags.items() if v) or "none"


def marks(act: RiderAct, confirm: Iterable[RiderAct] = ()) -> str:
    """The markers a rider act carries: ask first, the IC's discussion note, and, for the
    performer who answered "maybe", that they confirm it explicitly when accepting."""
    out = []
    if act.ask_first:
        out.append("ASK FIRST")
    if act.discussed:
        out.append(f"discussed: {act.discussed}")
    if act in set(confirm):
        out.append("you said maybe: CONFIRM")
    return "; ".join(out)


def rider_rows(
    rider: Rider, names: Names, confirm: Iterable[RiderAct] = ()
) -> dict[str, list[list[str]]]:
    confirm = tuple(confirm)
    acts = [
        [
            act_name(a.act),
            f"{names(a.giver)} {_ARROW[vocab.load().acts[a.act].directional]} {names(a.receiver)}",
            ", ".join(a.zones) or "-",
            str(a.intensity) if a.intensity is not None else "-",
            "; ".join(x for x in (marks(a, confirm), a.note or "") if x),
        ]
        for a in rider.acts
    ]
    terms = [
        [
            names(t.identity),
            ", ".join(t.nudity) or "none",
            ", ".join(t.garments) or "none",
            "private (annex)" if t.annex else ", ".join(t.footage) or "none",
            "private (annex)" if t.annex else _doubles(t.doubles.to_json()),
        ]
        for t in rider.performers
    ]
    other = [
        ["version", str(rider.version) + (f", amends {rider.version - 1}" * bool(rider.previous))],
        ["pages", rider.pages],
        ["call time", show_time(rider.call_time)],
        ["consent valid", f"{show_time(rider.valid_from)} to {show_time(rider.valid_until)}"],
        ["description", rider.description],
        [
            "signals",
            f"stop {rider.signals.stop!r}, slow {rider.signals.slow!r}, "
            f"non-verbal {rider.signals.nonverbal!r}",
        ],
        ["closed set", ", ".join(rider.closed_set.present) or "-"],
        ["monitors", ", ".join(rider.closed_set.monitors) or "-"],
        ["stills", "allowed" if rider.closed_set.stills else "not allowed"],
        ["actual sex", "prohibited"],
        ["hash", b64(rider.hash)],
    ]
    return {"acts": acts, "terms": terms, "other": other}


def _answers(row: ActRow) -> tuple[str, str]:
    return row.giver_answer or "(no sheet)", row.receiver_answer or "(no sheet)"


def review_rows(review: Review, names: Names, *, everything: bool = False) -> list[list[str]]:
    """One row per act, pair and direction; rows where every answer is "no" and nobody asked
    for the act are left out unless ``everything``: they are nobody's wish, not a conflict."""
    rows = []
    order = {"conflict": 0, "discuss": 1, "ask-first": 2, "waiting": 3, "agreed": 4}
    for r in sorted(review.acts, key=lambda r: (order[r.outcome], r.act)):
        g, rc = _answers(r)
        if not everything and not r.requested and g == "no" and rc == "no":
            continue
        who = f"{names(r.giver)} {_ARROW[r.directional]} {names(r.receiver)}"
        zones = ", ".join(f"{z}" + ("?" if a == "ask-first" else "") for z, a in r.zones)
        if r.excluded_zones:
            zones += f" (never: {', '.join(r.excluded_zones)})"
        rows.append(
            [
                r.outcome,
                act_name(r.act),
                who,
                g,
                rc,
                zones or "-",
                str(r.intensity) if r.intensity is not None else "-",
                "yes" if r.requested else "",
            ]
        )
    return rows


def nudity_rows(review: Review, names: Names) -> list[list[str]]:
    """Requested or offered nudity, per performer and part."""
    return [
        [
            names(n.performer),
            n.part,
            {True: "yes", False: "no", None: "(no sheet)"}[n.shown],
            "yes" if n.requested else "",
            n.outcome,
        ]
        for n in review.nudity
        if n.requested or n.shown
    ]


def performer_rows(review: Review, names: Names) -> list[list[str]]:
    """What each sheet says beyond the answers: signals, garments, care, notes (IC only)."""
    return [
        [
            names(k),
            f"{s.signals.stop}/{s.signals.slow}",
            ", ".join(s.garments) or "-",
            s.health or "-",
            s.notes or "-",
        ]
        for k, s in review.sheets.items()
    ]


def versions_of(state: SceneState) -> dict[int, Rider]:
    return {v.rider.version: v.rider for v in state.versions}


def review_json(review: Review, names: Names) -> dict[str, Any]:
    """The domain's review JSON with names added next to the keys, for people and scripts."""
    data = review.to_json()
    data["names"] = {b64(k): names(k) for k in review.brief.members}
    return data
