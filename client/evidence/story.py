"""What the disclosed statements say, in words from the vocabulary: the scene, each rider
version, who accepted which version when, every withdrawal, what was filmed, and what exists
but was not disclosed. Built by the same scene fold the parties' own clients use.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from client.evidence.entries import CheckedEntry
from client.evidence.identities import CheckedHistory
from client.negotiation import vocabulary as vocab
from client.negotiation import words
from client.negotiation.brief import SceneBrief
from client.negotiation.rider import Rider
from client.negotiation.scene import Event, fold
from client.negotiation.statements import WITHDRAWAL_FLAGS, Acceptance, FilmedMark, Withdrawal
from keys.identity import Fingerprint


def utc(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class SceneStory:
    scene: dict[str, Any] | None = None
    people: list[dict[str, str]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    acceptances: list[dict[str, Any]] = field(default_factory=list)
    withdrawals: list[dict[str, Any]] = field(default_factory=list)
    filmed: list[dict[str, Any]] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    withheld: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def tell(entries: list[CheckedEntry], people: dict[bytes, CheckedHistory]) -> SceneStory:
    story = SceneStory()
    names = {k: h.history.name for k, h in people.items()}

    def who(key: bytes) -> dict[str, str]:
        return {
            "name": names.get(key, "an unnamed key"),
            "fingerprint": Fingerprint.of(key).grouped(),
        }

    events, brief = [], None
    for c in entries:
        if c.statement is None or c.envelope is None or c.index is None or c.at_ms is None:
            if c.fields is not None and c.envelope is None:
                story.withheld.append(
                    {"index": c.index, "at": utc(c.at_ms // 1000) if c.at_ms else None}
                )
            continue
        sender, statement = c.envelope.context.sender, c.statement
        if isinstance(statement, SceneBrief) and (brief is None or brief.ic == sender):
            brief = statement
        role: Any = "performer"
        if brief is not None and sender in brief.members:
            role = brief.participant(sender).role
        elif sender in people:
            role = people[sender].history.role
        events.append(Event(sender, role, statement, c.envelope.hash, c.at_ms // 1000, c.index))
    state = fold(events)
    if state.brief is not None:
        b = state.brief
        story.scene = {
            "title": b.title,
            "scene": b.scene,
            "pages": b.pages,
            "call_time": utc(b.call_time),
            "description": b.description,
        }
        story.people = [who(p.identity) | {"role": p.role} for p in b.participants]
    for v in state.versions:
        story.versions.append(
            {
                "version": v.rider.version,
                "proposed_at": utc(v.proposed.at),
                "proposed_by": who(v.proposed.sender)["name"],
                "agreed_at": None if v.agreed_at is None else utc(v.agreed_at),
                "terms": rider_in_words(v.rider, names),
            }
        )
    hashes = {v.rider.version: v.hash for v in state.versions}
    for a in state.acceptances:
        story.acceptances.append(
            who(a.sender)
            | {
                "version": a.statement.version,
                "at": utc(a.at),
                "index": a.index,
                "names_disclosed_rider": hashes.get(a.statement.version) == a.statement.rider,
            }
        )
    for w in state.withdrawals:
        s = w.sent.statement
        story.withdrawals.append(
            who(w.sent.sender)
            | {
                "at": utc(w.sent.at),
                "index": w.sent.index,
                "what": "the whole rider"
                if s.whole
                else "; ".join(item_in_words(i) for i in s.items),
                "version": w.version,
                "after_filming": w.after_filming,
                "reason": s.reason,
            }
        )
    for m in state.filmed:
        vocabulary = vocab.load()
        acts = [vocabulary.acts[a].name for a in m.statement.acts] or ["the whole scene"]
        story.filmed.append(
            {
                "version": m.statement.version,
                "at": utc(m.at),
                "acts": acts,
                "shots": m.statement.shots,
            }
        )
    counted = (SceneBrief, Rider, Acceptance, Withdrawal, FilmedMark)
    for e in events:
        if not isinstance(e.statement, counted):
            # In plain words and in full: a sheet, report, check-in, counter or message.
            story.other.append(
                who(e.sender)
                | {
                    "kind": words.kind(e.statement),
                    "at": utc(e.log_time),
                    "index": e.log_index,
                    "content": words.in_words(e.statement, lambda k: who(k)["name"]),
                }
            )
    for r in state.refused:
        story.refused.append(
            {"index": r.event.log_index, "at": utc(r.event.log_time), "reason": r.reason}
        )
    return story


def rider_in_words(rider: Rider, names: dict[bytes, str]) -> list[str]:
    v = vocab.load(rider.vocabulary)
    lines = []
    for act in rider.acts:
        term = v.act(act.act)
        people = (
            f"{names.get(act.giver, '?')} to {names.get(act.receiver, '?')}"
            if term.directional
            else f"{names.get(act.giver, '?')} with {names.get(act.receiver, '?')}"
        )
        extra = ""
        if act.zones:
            extra += "; on " + ", ".join(v.zones[z].name for z in act.zones)
        if act.intensity is not None:
            extra += f"; intensity at most {act.intensity} of 10"
        lines.append(f"{term.name} ({term.definition.rstrip('.')}): {people}{extra}")
    for terms in rider.performers:
        who = names.get(terms.identity, "?")
        shown = ", ".join(v.nudity[p].name for p in terms.nudity) or "none"
        lines.append(f"nudity for {who}: {shown}")
        if terms.footage:
            lines.append(
                f"footage uses for {who}: " + ", ".join(v.uses[u].name for u in terms.footage)
            )
    lines.append(f"script pages {rider.pages}; call time {utc(rider.call_time)}")
    lines.append(f"consent valid {utc(rider.valid_from)} to {utc(rider.valid_until)}")
    lines.append("actual sex is prohibited")
    return lines


def item_in_words(item: str) -> str:
    v = vocab.load()
    if item in WITHDRAWAL_FLAGS:
        return item.replace("-", " ")
    kind, _, rest = item.partition(":")
    name, _, direction = rest.partition(":")
    table: dict[str, Any] = {"act": v.acts, "zone": v.zones, "nudity": v.nudity, "use": v.uses}
    label = {"act": "", "zone": "touch on the ", "nudity": "nudity: ", "use": "footage use: "}
    words = table[kind][name].name if kind in table and name in table[kind] else item
    return f"{label.get(kind, '')}{words}" + (f" ({direction})" if direction else "")
