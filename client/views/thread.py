"""One line per statement: what ``closedset thread`` and ``closedset inbox`` list."""

from __future__ import annotations

from typing import Any

from client.negotiation import vocabulary as vocab
from client.negotiation import words
from client.negotiation.brief import SceneBrief, SceneRequests
from client.negotiation.consent import describe
from client.negotiation.rider import Annex, Rider
from client.negotiation.scene_state import Event, SceneState
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
from client.timefmt import show_time
from client.views.people import Names

KINDS: dict[type, str] = {
    SceneBrief: "brief",
    SceneRequests: "requests",
    BoundarySheet: "sheet",
    Rider: "rider",
    Acceptance: "acceptance",
    Counter: "counter",
    Withdrawal: "withdrawal",
    FilmedMark: "filmed",
    CheckIn: "check-in",
    TransgressionReport: "report",
    Message: "message",
    SceneClose: "close",
    Waiver: "waiver",
    ReplicaConsent: "replica-consent",
    ReGrant: "re-grant",
    Annex: "annex",
    RepairPlan: "repair-plan",
}


def _short(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def item_name(item: str) -> str:
    """``act:kissing-neck:receiving`` -> ``kissing, neck (receiving)``."""
    v = vocab.load()
    kind, _, rest = item.partition(":")
    name, _, direction = rest.partition(":")
    table: dict[str, Any] = {"act": v.acts, "zone": v.zones, "nudity": v.nudity, "use": v.uses}
    term = table.get(kind, {}).get(name)
    label = term.name if term is not None else item
    return f"{label} ({direction})" if direction else label


def summary(statement: Statement, names: Names) -> str:
    """A one-line, human summary of a statement the viewer could open."""
    s = statement
    if isinstance(s, SceneBrief):
        cast = ", ".join(names(p) for p in s.performers)
        return f"scene {s.scene} {s.title!r}, call {show_time(s.call_time)}; performers {cast}"
    if isinstance(s, SceneRequests):
        return f"director's requests: {len(s.acts)} acts, {len(s.nudity)} nudity (IC only)"
    if isinstance(s, BoundarySheet):
        counts = {a: sum(x.answer == a for x in s.acts) for a in ("yes", "ask-first", "maybe")}
        return "boundary sheet: " + ", ".join(f"{n} {a}" for a, n in counts.items())
    if isinstance(s, Rider):
        return f"rider version {s.version}: {len(s.acts)} acts, call {show_time(s.call_time)}"
    if isinstance(s, Acceptance):
        return f"accepts rider version {s.version}"
    full = (
        Counter,
        CheckIn,
        TransgressionReport,
        Message,
        Waiver,
        ReplicaConsent,
        ReGrant,
        Annex,
        RepairPlan,
    )
    if isinstance(s, full):
        # Read in full by whoever may open it: never cut short (the IC follows up on these).
        return f"{words.kind(s)}: " + "; ".join(words.in_words(s, names))
    if isinstance(s, Withdrawal):
        what = "the whole rider" if s.whole else ", ".join(item_name(i) for i in s.items)
        return f"withdraws {what}"
    if isinstance(s, FilmedMark):
        acts = ", ".join(s.acts) if s.acts else "the whole scene"
        return f"marks version {s.version} filmed: {acts}"
    return f"closes the scene: {_short(s.reason)}"


def row(
    event: Event,
    names: Names,
    refused: dict[int, str] | None = None,
    state: SceneState | None = None,
) -> dict[str, Any]:
    why = (refused or {}).get(event.log_index)
    text = summary(event.statement, names)
    # A sheet narrower than the rider it meets is a withdrawal: the IC is told as plainly.
    narrowed = [] if state is None else [
        w.items for w in state.withdrawals if w.by_sheet and w.sent.index == event.log_index
    ]  # fmt: skip
    if narrowed:
        text += "; it narrows the rider, so it withdraws " + ", ".join(
            describe(i) for i in narrowed[0]
        )
    return {
        "index": event.log_index,
        "time": event.log_time,
        "sender": names(event.sender),
        "kind": KINDS[type(event.statement)],
        "summary": text,
        "refused": why,
        "withdraws": list(narrowed[0]) if narrowed else [],
    }


def rows(events: list[Event], state: SceneState, names: Names) -> list[dict[str, Any]]:
    """Every statement the viewer opened, in log order; a refused one says why."""
    refused = {r.event.log_index: r.reason for r in state.refused}
    return [row(e, names, refused, state) for e in sorted(events, key=lambda e: e.log_index)]


def table_rows(items: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            str(i["index"]),
            show_time(i["time"]),
            i["sender"],
            i["kind"],
            i["summary"] + (f"  [refused: {i['refused']}]" if i["refused"] else ""),
        ]
        for i in items
    ]
