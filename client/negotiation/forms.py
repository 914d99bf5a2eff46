"""Sheets and riders as TOML files people fill in, and their parsers with line-numbered errors.

A sheet template starts every answer unanswered (``""``): nothing is assumed, and a sheet with
an unanswered item is refused unless the performer sets ``unanswered = "no"``. The rider
template (rider_form.py) is pre-filled from the overlap with agreed acts only.
"""

from __future__ import annotations

import datetime
from typing import Any

from client.negotiation import consent
from client.negotiation import vocabulary as vocab
from client.negotiation._form import UNANSWERED, Form, quote
from client.negotiation.brief import SceneBrief
from client.negotiation.errors import FormError, Problem, StatementError
from client.negotiation.overlap import review_scene
from client.negotiation.rider_form import amend_template, parse_rider, rider_template
from client.negotiation.scene_state import SceneState
from client.negotiation.sheet import (
    CHECK_IN_PREFERENCES,
    DEFAULT_SLOW,
    DEFAULT_STOP,
    ActAnswer,
    BoundarySheet,
    ClosedSet,
    Doubles,
    Signals,
    ZoneEntry,
)

__all__ = [
    "amend_template",
    "next_rider_template",
    "parse_rider",
    "parse_sheet",
    "rider_template",
    "sheet_template",
]


def next_rider_template(state: SceneState, now: int) -> str:
    """The IC's next rider to edit: version 1 from the overlap, else the current version cut
    back to each performer's current consent (rule set 2), with a note of what was cut."""
    if state.brief is None:
        raise ValueError("A scene without a brief has no rider to draft.")
    current = state.current
    if current is None:
        return rider_template(review_scene(state, now))
    if state.rules < 2:
        return amend_template(current.rider, state.brief)
    consents = state.consents()
    cut = consent.breaches(state.whole(current.rider), consents)
    names = {p.identity: p.name for p in state.brief.participants}
    notes = tuple(
        f"Cut back from version {current.rider.version}: {b.sentence(names[b.performer])}."
        for b in cut
    )
    # The IC's view holds each private annex: draft from the whole terms, keeping them private.
    whole = state.whole(current.rider)
    private = frozenset(t.identity for t in current.rider.performers if t.annex is not None)
    within = consent.clamp(whole, consents)
    return amend_template(current.rider, state.brief, within=within, notes=notes, private=private)


_DOUBLES = {
    "body_double": "a body double may perform the parts the rider allows",
    "digital_double": "a digital double may be used within what the rider allows",
    "digital_replica": "a digital replica of you may be made: separate, explicit consent",
}
_SECTIONS = (
    "vocabulary",
    "unanswered",
    "you",
    "signals",
    "acts",
    "zones",
    "zone_notes",
    "nudity",
    "modesty",
    "closed_set",
    "footage",
    "doubles",
    "care",
)


def _when(t: int) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def sheet_template(
    vocabulary: vocab.Vocabulary,
    brief: SceneBrief,
    performer: bytes,
    *,
    previous: BoundarySheet | None = None,
) -> str:
    """A TOML boundary sheet for ``performer`` to fill in (or ``previous`` to edit)."""
    p = previous
    name = brief.participant(performer).name
    out = [
        f"# Closed Set boundary sheet: scene {brief.scene}, {brief.title!r}, pages {brief.pages}",
        f"# Call time {_when(brief.call_time)}. Sheet for {name}.",
        "# This sheet is encrypted to the IC only; nothing in it reaches a scene partner.",
        "#",
        '# Every answer starts empty (""): nothing is assumed. Acts take "yes", "ask-first",',
        '# "maybe" (to discuss with the IC) or "no". Giving: you do it to a partner; receiving:',
        '# a partner does it to you. To answer every item you leave empty with "no" (acts),',
        '# "never" (zones) or false, set unanswered = "no"; it does not answer the fields',
        "# marked REQUIRED, which you always fill in yourself.",
        "",
        f"vocabulary = {vocabulary.version}",
        'unanswered = ""',
        "",
        "[you]",
        "# The name and pronouns to use during the scene (your own or the character's).",
        f"name = {quote(p.name if p else name)}  # REQUIRED",
        f"pronouns = {quote(p.pronouns if p else '')}  # REQUIRED",
        "",
        "[signals]",
        "# The stop word halts everything; the slow-down word asks for a pause and a check-in.",
        f"stop = {quote(p.signals.stop if p else DEFAULT_STOP)}  # REQUIRED",
        f"slow = {quote(p.signals.slow if p else DEFAULT_SLOW)}  # REQUIRED",
        "# A signal for when you cannot speak, e.g. two taps on your partner's arm.",
        f"nonverbal = {quote(p.signals.nonverbal if p else '')}  # REQUIRED",
    ]
    for act in vocabulary.acts.values():
        out += ["", f"[acts.{act.id}]", f"# {act.name}: {act.definition}"]
        for direction in act.directions:
            key = "answer" if direction == "mutual" else direction
            given = p.answer(act.id, direction) if p else None
            out.append(f"{key} = {quote(given.answer if given else UNANSWERED)}")
            limit = "" if direction == "mutual" else f"{direction}_"
            if given is not None and given.intensity is not None:
                out.append(f"{limit}intensity = {given.intensity}")
            else:
                out.append(f"# {limit}intensity = 5   (optional limit, 1 = light feathery touch)")
    out += ["", "[zones]", '# Each body zone: "ok", "ask-first" or "never".']
    for zone_id, zone in vocabulary.zones.items():
        out.append(
            f"{zone_id} = {quote(p.zone(zone_id).answer if p else UNANSWERED)}  # {zone.name}"
        )
    out += ["", "[zone_notes]", '# Optional, e.g. chest-breasts = "side yes, nipple no"']
    out += [f"{z.zone} = {quote(z.note)}" for z in (p.zones if p else ()) if z.note]
    out += ["", "[nudity]", "# true: may be shown on camera; false: not shown."]
    for part_id, part in vocabulary.nudity.items():
        value = quote(part_id in p.nudity_shown) if p else '""'
        out += [f"# {part.name}: {part.definition}", f"{part_id} = {value}"]
    out += [
        "",
        "[modesty]",
        f"# Garments and barriers you want, any of: {', '.join(vocabulary.garments)}",
        f"garments = {quote(list(p.garments) if p else [])}",
        "",
        "[closed_set]",
        "# Who may be present and watch monitors (roles or names); may stills be taken?",
        f"present = {quote(list(p.closed_set.present) if p else [])}",
        f"monitors = {quote(list(p.closed_set.monitors) if p else [])}",
        f"stills = {quote(p.closed_set.stills) if p else chr(34) * 2}",
        "",
        "[footage]",
        "# May the footage of this scene be used beyond the picture itself? true or false.",
    ]
    for use_id, use in vocabulary.uses.items():
        out.append(f"{use_id} = {quote(use_id in p.footage) if p else chr(34) * 2}  # {use.name}")
    out += ["", "[doubles]"]
    for double, meaning in _DOUBLES.items():
        value = quote(getattr(p.doubles, double)) if p else '""'
        out.append(f"{double} = {value}  # {meaning}")
    out += [
        "",
        "[care]",
        "# Things to know for your safety (allergies, injuries). Never trauma disclosure.",
        f"health = {quote(p.health if p else '')}",
        "# Your own aftercare plan; private to you and the IC.",
        f"aftercare = {quote(p.aftercare if p else '')}",
        f"# How the IC checks in 24-48 hours after the shoot: {', '.join(CHECK_IN_PREFERENCES)}",
        f"check_in = {quote(p.check_in if p else '')}  # REQUIRED",
        "# Anything else for the IC.",
        f"notes = {quote(p.notes if p else '')}",
        "",
    ]
    return "\n".join(out)


def parse_sheet(
    text: str, *, filename: str = "sheet.toml", vocabulary: vocab.Vocabulary | None = None
) -> BoundarySheet:
    """Read a filled-in sheet; raises :class:`FormError` listing every mistake with its line."""
    v = vocabulary or vocab.load()
    f = Form(text, filename)
    f.only((), _SECTIONS, "a section of a boundary sheet")
    if f.get("vocabulary") != v.version:
        f.problem(("vocabulary",), f"vocabulary must be {v.version}; start from a new template.")
    no = f.choice(("unanswered",), ("no",), default="")  # "" keeps unanswered items refused
    say_no = no == "no"
    acts: list[ActAnswer] = []
    f.only(("acts",), v.acts, "an act of this vocabulary")
    for act in v.acts.values():
        keys = (
            ["answer", "intensity"]
            if not act.directional
            else ["giving", "receiving", "giving_intensity", "receiving_intensity"]
        )
        f.only(("acts", act.id), keys, f"a field of {act.id}")
        if not f.table("acts", act.id):
            continue
        for direction in act.directions:
            key = "answer" if direction == "mutual" else direction
            path = ("acts", act.id, key)
            answer = f.choice(path, vocab.ANSWERS, "no" if say_no else None)
            limit_key = "intensity" if direction == "mutual" else f"{direction}_intensity"
            limit = f.integer(("acts", act.id, limit_key), 1, 10)
            if answer is not None:
                acts.append(ActAnswer(act.id, direction, answer, limit))  # type: ignore[arg-type]
    zones: list[ZoneEntry] = []
    f.only(("zones",), v.zones, "a body zone")
    f.only(("zone_notes",), v.zones, "a body zone")
    for zone in v.zones:
        answer = f.choice(("zones", zone), vocab.ZONE_ANSWERS, "never" if say_no else None)
        note = f.text(("zone_notes", zone), limit=400).strip() or None
        if answer is not None:
            zones.append(ZoneEntry(zone, answer, note))  # type: ignore[arg-type]
    f.only(("nudity",), v.nudity, "a nudity part")
    shown = tuple(p for p in v.nudity if f.flag(("nudity", p), False if say_no else None))
    f.only(("footage",), v.uses, "a footage use")
    uses = tuple(u for u in v.uses if f.flag(("footage", u), False if say_no else None))
    f.only(("doubles",), _DOUBLES, "a kind of double")
    doubles = {k: bool(f.flag(("doubles", k), False if say_no else None)) for k in _DOUBLES}
    stills = bool(f.flag(("closed_set", "stills"), False if say_no else None))
    check_in = f.choice(("care", "check_in"), CHECK_IN_PREFERENCES, required=True)
    fields: dict[str, Any] = {
        "name": f.text(("you", "name"), required=True, limit=120),
        "pronouns": f.text(("you", "pronouns"), required=True, limit=60),
        "garments": f.ids(("modesty", "garments"), v.garments, "a modesty garment"),
        "closed_set": ClosedSet(
            f.strings(("closed_set", "present")), f.strings(("closed_set", "monitors")), stills
        ),
        "health": f.text(("care", "health")),
        "aftercare": f.text(("care", "aftercare")),
        "notes": f.text(("care", "notes")),
    }
    signals = [f.text(("signals", k), required=True, limit=60) for k in ("stop", "slow")]
    nonverbal = f.text(("signals", "nonverbal"), required=True, limit=200)
    f.finish()
    try:
        sheet = BoundarySheet(
            acts=tuple(acts),
            zones=tuple(zones),
            nudity_shown=shown,
            signals=Signals(nonverbal=nonverbal, stop=signals[0], slow=signals[1]),
            footage=uses,
            doubles=Doubles(**doubles),
            check_in=check_in,  # type: ignore[arg-type]
            vocabulary=v.version,
            **fields,
        )
    except StatementError as exc:
        raise FormError(filename, [Problem(0, str(exc))]) from exc
    for c in consent.contradictions(sheet):
        f.problem(c.path, c.message)
    f.finish()
    return sheet
