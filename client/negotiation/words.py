"""Every statement in plain words, in full: what counsel's report prints for a disclosed
statement and what the IC reads of a report, check-in or counter. Never a class name, never
cut short. ``name`` turns an identity key into a person's name."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from client.negotiation import vocabulary as vocab
from client.negotiation.brief import SceneBrief, SceneRequests
from client.negotiation.consent import describe
from client.negotiation.rider import Annex, Rider
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

KIND_WORDS: dict[type, str] = {
    SceneBrief: "scene brief", SceneRequests: "director's requests",
    BoundarySheet: "boundary sheet", Rider: "rider version", Acceptance: "acceptance",
    Counter: "counter", Withdrawal: "withdrawal", FilmedMark: "filmed mark",
    CheckIn: "aftercare check-in", TransgressionReport: "transgression report",
    Message: "message", SceneClose: "scene close", Waiver: "waiver of the 48-hour notice",
    ReplicaConsent: "digital replica consent", ReGrant: "re-grant",
    Annex: "private annex", RepairPlan: "repair plan",
}  # fmt: skip


def _when(t: int) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def kind(statement: Statement) -> str:
    return KIND_WORDS[type(statement)]


def in_words(statement: Statement, name: Callable[[bytes], str]) -> list[str]:
    """The statement's whole content, one line per item, in words."""
    s = statement
    v = vocab.load()
    if isinstance(s, BoundarySheet):
        by: dict[str, list[str]] = {}
        for a in s.acts:
            label = v.acts[a.act].name + ("" if a.direction == "mutual" else f" ({a.direction})")
            limit = f" up to intensity {a.intensity}" if a.intensity is not None else ""
            by.setdefault(a.answer, []).append(label + limit)
        lines = [f"{answer}: {', '.join(items)}" for answer, items in by.items() if items]
        lines += [
            f"zone {z.zone}: {z.answer}" + (f" ({z.note})" if z.note else "")
            for z in s.zones
            if z.answer != "ok" or z.note
        ]
        doubles = ", ".join(k.replace("_", " ") for k, x in s.doubles.to_json().items() if x)
        lines += [
            f"name and pronouns: {s.name}, {s.pronouns}",
            f"signals: stop {s.signals.stop!r}, slow {s.signals.slow!r}, "
            f"non-verbal {s.signals.nonverbal!r}",
            f"nudity shown: {', '.join(s.nudity_shown) or 'none'}",
            f"garments wanted: {', '.join(s.garments) or 'none'}",
            f"closed set: {', '.join(s.closed_set.present) or 'nobody named'}; monitors: "
            f"{', '.join(s.closed_set.monitors) or 'nobody named'}; stills "
            f"{'allowed' if s.closed_set.stills else 'not allowed'}",
            f"footage uses allowed: {', '.join(s.footage) or 'none'}",
            f"doubles: {doubles or 'none'}",
            f"health: {s.health or '-'}",
            f"aftercare: {s.aftercare or '-'}",
            f"check-in by: {s.check_in}",
            f"notes: {s.notes or '-'}",
        ]
        return lines
    if isinstance(s, TransgressionReport):
        return [
            f"a {s.kind} at {_when(s.when)}",
            f"what happened: {s.what}",
            f"involved: {', '.join(name(k) for k in s.involved) or 'nobody named'}"
            + (f"; others: {s.others}" if s.others else ""),
            "anonymous to the production"
            if s.anonymous_to_production
            else "named to the "
            "production" + (", sent to the production contact" if s.send_to_production else ""),
        ]
    if isinstance(s, CheckIn):
        return [
            f"status: {s.status}",
            f"note: {s.note or '-'}",
            "would like to be contacted" if s.wants_contact else "no contact asked for",
        ]
    if isinstance(s, Counter):
        return [f"on rider version {s.version}: {s.comments}"]
    if isinstance(s, Message):
        return [f"to {', '.join(name(k) for k in s.to)}: {s.text}"]
    if isinstance(s, Withdrawal):
        what = "the whole rider" if s.whole else ", ".join(describe(i) for i in s.items)
        return [f"withdraws {what}"] + ([f"reason: {s.reason}"] if s.reason else [])
    if isinstance(s, Acceptance):
        return [f"accepts rider version {s.version}"]
    if isinstance(s, FilmedMark):
        acts = ", ".join(v.acts[a].name for a in s.acts) or "the whole scene"
        return [f"rider version {s.version} filmed: {acts}", f"shots: {s.shots or '-'}"] + [
            f"recorded: {n}" for n in s.notice
        ]
    if isinstance(s, Waiver):
        return [f"waives the 48-hour notice for rider version {s.version}: {s.reason}"]
    if isinstance(s, ReplicaConsent):
        return [f"consents to a digital replica for this use: {s.use}"]
    if isinstance(s, Annex):
        doubles = ", ".join(k.replace("_", " ") for k, x in s.doubles.to_json().items() if x)
        return [
            f"private terms of {name(s.performer)} for rider version {s.version}",
            f"footage uses allowed: {', '.join(s.footage) or 'none'}",
            f"doubles: {doubles or 'none'}",
            f"note: {s.note or '-'}",
        ]
    if isinstance(s, RepairPlan):
        return [f"repair plan for {', '.join(name(k) for k in s.to)}: {s.plan}"]
    if isinstance(s, ReGrant):
        return [f"says yes again to {', '.join(describe(i) for i in s.items)}"] + (
            [f"note: {s.note}"] if s.note else []
        )
    if isinstance(s, SceneClose):
        return [f"closes the scene: {s.reason}"]
    if isinstance(s, SceneRequests):
        return [
            *(f"act: {v.acts[r.act].name}, {name(r.giver)} to {name(r.receiver)}" for r in s.acts),
            *(f"nudity: {part} for {name(p)}" for p, part in s.nudity),
            f"note: {s.note or '-'}",
        ]
    if isinstance(s, Rider):
        return [f"rider version {s.version}, {len(s.acts)} acts: {s.description}"]
    assert isinstance(s, SceneBrief)
    return [f"scene {s.scene} {s.title!r}, pages {s.pages}, call {_when(s.call_time)}"]
