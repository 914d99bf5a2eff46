"""What each performer's consent allows, and whether a rider stays inside it (rule set 2).

A performer's consent is their latest boundary sheet, narrowed by every item they withdrew
since (a withdrawal sticks until a newer sheet or a re-grant says yes again). ``breaches``
lists every rider item outside it, naming the performer, the item and their answer; the scene
fold refuses such a rider (scene.py), and ``clamp`` gives the largest rider inside it, which is
what the rider template drafts. Rules are written against the vocabulary's structure (an act's
directions and zones), never against vocabulary 1's ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from client.negotiation import vocabulary as vocab
from client.negotiation.brief import SceneBrief
from client.negotiation.rider import PerformerTerms, Rider, RiderAct
from client.negotiation.sheet import ActAnswer, BoundarySheet, ClosedSet, Doubles, ZoneEntry
from client.negotiation.vocabulary import Direction

_DOUBLE_ITEMS = {
    "body-double": "body_double",
    "digital-double": "digital_double",
    "digital-replica": "digital_replica",
}


@dataclass(frozen=True)
class Consent:
    """One performer's consent as the viewer knows it: ``sheet`` is None when this view holds
    no sheet of theirs (a partner's view), and only their withdrawals are then known."""

    performer: bytes
    sheet: BoundarySheet | None
    withdrawn: frozenset[str] = frozenset()
    replica: str | None = None  # the intended use of their replica consent in force, if any

    def act(self, act: str, direction: Direction) -> ActAnswer | None:
        if self.sheet is None:
            return None
        return self.sheet.answer(act, direction)

    def act_withdrawn(self, act: str, direction: Direction) -> bool:
        return f"act:{act}" in self.withdrawn or f"act:{act}:{direction}" in self.withdrawn

    def narrowed(self) -> BoundarySheet | None:
        """The sheet with every withdrawn item turned into "no", "never" or not allowed."""
        s, w = self.sheet, self.withdrawn
        if s is None:
            return None
        acts = tuple(
            replace(a, answer="no") if self.act_withdrawn(a.act, a.direction) else a for a in s.acts
        )
        zones = tuple(
            ZoneEntry(z.zone, "never", z.note) if f"zone:{z.zone}" in w else z for z in s.zones
        )
        doubles = Doubles(
            **{
                name: getattr(s.doubles, name) and item not in w
                for item, name in _DOUBLE_ITEMS.items()
            }
        )
        return replace(
            s,
            acts=acts,
            zones=zones,
            nudity_shown=tuple(p for p in s.nudity_shown if f"nudity:{p}" not in w),
            footage=tuple(u for u in s.footage if f"use:{u}" not in w),
            doubles=doubles,
            closed_set=replace(s.closed_set, stills=s.closed_set.stills and "stills" not in w),
        )


@dataclass(frozen=True)
class Breach:
    """One rider item outside one performer's consent."""

    performer: bytes
    item: str  # as a withdrawal names it (act:<id>:<direction>, zone:<id>, nudity:<id>, ...)
    answer: str  # what they said, after "who": 'answered "no"', "withdrew it", ...
    code: str  # outside-sheet, withdrawn, not-discussed, ask-first-unmarked

    def sentence(self, name: str) -> str:
        return f"{describe(self.item)} for {name}, who {self.answer}"


def describe(item: str) -> str:
    """``act:kissing-neck:receiving`` -> ``kissing, neck (receiving)``, for sentences."""
    v = vocab.load()
    kind, _, rest = item.partition(":")
    name, _, direction = rest.partition(":")
    tables: dict[str, Mapping[str, vocab.Term | vocab.Act]] = {
        "act": v.acts, "zone": v.zones, "nudity": v.nudity, "use": v.uses, "garment": v.garments,
    }  # fmt: skip
    term = tables.get(kind, {}).get(name)
    if item == "signals":
        return "their signals"
    if kind in ("present", "monitors"):
        return f"{rest} {'on the closed set' if kind == 'present' else 'at the monitors'}"
    elif kind == "intensity":
        act, _, level = rest.partition(":")
        return f"{v.acts[act].name} at intensity {level}"
    else:
        label = term.name if term is not None else item.replace("-", " ")
        label = {"zone": "zone ", "nudity": "nudity: ", "use": "footage use: "}.get(
            kind, ""
        ) + label
        if kind == "garment":
            label = f"no {label}"
    return f"{label} ({direction})" if direction else label


def _act_item(act: vocab.Act, direction: Direction) -> str:
    return f"act:{act.id}" if direction == "mutual" else f"act:{act.id}:{direction}"


def _sides(act: vocab.Act, ra: RiderAct) -> list[tuple[bytes, Direction]]:
    if act.directional:
        return [(ra.giver, "giving"), (ra.receiver, "receiving")]
    return [(ra.giver, "mutual"), (ra.receiver, "mutual")]


def act_breaches(ra: RiderAct, consents: Mapping[bytes, Consent]) -> list[Breach]:
    """Everything wrong with one rider act against the consents this view holds."""
    v = vocab.load()
    act = v.act(ra.act)
    found: list[Breach] = []
    limits = []
    for person, direction in _sides(act, ra):
        c = consents.get(person)
        if c is None:
            continue
        item = _act_item(act, direction)
        if c.act_withdrawn(act.id, direction):
            found.append(Breach(person, item, "withdrew it", "withdrawn"))
            continue
        given = c.act(act.id, direction)
        if given is None:
            continue
        if given.answer == "no":
            found.append(Breach(person, item, 'answered "no"', "outside-sheet"))
        elif given.answer == "maybe" and ra.discussed is None:
            found.append(
                Breach(
                    person,
                    item,
                    'answered "maybe" and the act has no note that it was discussed',
                    "not-discussed",
                )
            )
        elif given.answer == "ask-first" and not ra.ask_first:
            found.append(
                Breach(person, item, 'answered "ask first" and the act has no ask-first marker',
                       "ask-first-unmarked")
            )  # fmt: skip
        if given.intensity is not None:
            limits.append((person, given.intensity))
    # The body touched is the receiver's; in an act without a direction both bodies are.
    bodies = [ra.receiver] if act.directional else [ra.giver, ra.receiver]
    for person in bodies:
        c = consents.get(person)
        if c is None:
            continue
        for zone in ra.zones or act.zones:
            if f"zone:{zone}" in c.withdrawn:
                found.append(Breach(person, f"zone:{zone}", "withdrew it", "withdrawn"))
                continue
            if c.sheet is None:
                continue
            answer = c.sheet.zone(zone).answer
            if answer == "never":
                found.append(Breach(person, f"zone:{zone}", 'answered "never"', "outside-sheet"))
            elif answer == "ask-first" and not ra.ask_first:
                found.append(
                    Breach(person, f"zone:{zone}", 'answered "ask first" and the act has no '
                           "ask-first marker", "ask-first-unmarked")
                )  # fmt: skip
    for person, limit in limits:
        if ra.intensity is None or ra.intensity > limit:
            level = "no limit" if ra.intensity is None else str(ra.intensity)
            found.append(
                Breach(person, f"intensity:{act.id}:{level}", f"set a limit of {limit}",
                       "outside-sheet")
            )  # fmt: skip
    return found


def terms_breaches(terms: PerformerTerms, c: Consent) -> list[Breach]:
    """A performer's own terms (nudity, garments, footage, doubles) against their consent."""
    found: list[Breach] = []
    p, w, s = terms.identity, c.withdrawn, c.sheet

    def check(item: str, allowed: bool | None, refused: str = 'answered "no"') -> None:
        if item in w:
            found.append(Breach(p, item, "withdrew it", "withdrawn"))
        elif allowed is False:
            found.append(Breach(p, item, refused, "outside-sheet"))

    for part in terms.nudity:
        check(
            f"nudity:{part}", None if s is None else part in s.nudity_shown, 'answered "not shown"'
        )
    for use in terms.footage:
        check(f"use:{use}", None if s is None else use in s.footage)
    for item, name in _DOUBLE_ITEMS.items():
        if getattr(terms.doubles, name):
            check(item, None if s is None else getattr(s.doubles, name))
    if s is not None and terms.signals != s.signals:
        found.append(Breach(p, "signals", "chose other signals on their sheet", "signals"))
    replica = terms.doubles.digital_replica and s is not None and s.doubles.digital_replica
    if replica and "digital-replica" not in w and c.replica is None:
        found.append(
            Breach(p, "digital-replica", "has given no separate replica consent describing "
                   "the use", "no-replica-consent")
        )  # fmt: skip
    if s is not None:
        for garment in s.garments:
            if garment not in terms.garments:
                found.append(Breach(p, f"garment:{garment}", "asked for it",
                                    "outside-sheet"))  # fmt: skip
    return found


def closed_set_breaches(closed: ClosedSet, c: Consent) -> list[Breach]:
    found: list[Breach] = []
    if closed.stills:
        if "stills" in c.withdrawn:
            found.append(Breach(c.performer, "stills", "withdrew it", "withdrawn"))
        elif c.sheet is not None and not c.sheet.closed_set.stills:
            found.append(Breach(c.performer, "stills", 'answered "no"', "outside-sheet"))
    if c.sheet is None:
        return found
    for kind in ("present", "monitors"):
        allowed = set(getattr(c.sheet.closed_set, kind))
        for person in getattr(closed, kind):
            if person not in allowed:
                found.append(
                    Breach(c.performer, f"{kind}:{person}", "did not name them", "outside-sheet")
                )  # fmt: skip
    return found


def breaches(rider: Rider, consents: Mapping[bytes, Consent]) -> list[Breach]:
    """Every item of ``rider`` outside the consents this view holds, acts first."""
    found: list[Breach] = []
    for ra in rider.acts:
        found += act_breaches(ra, consents)
    for terms in rider.performers:
        c = consents.get(terms.identity)
        if c is not None:
            found += terms_breaches(terms, c)
            found += closed_set_breaches(rider.closed_set, c)
    return found


def to_confirm(rider: Rider, c: Consent) -> list[tuple[RiderAct, str]]:
    """The rider acts this performer answered "maybe": they confirm each one explicitly when
    accepting, with the IC's discussion note beside it."""
    if c.sheet is None:
        return []
    v = vocab.load()
    out = []
    for ra in rider.acts_of(c.performer):
        act = v.act(ra.act)
        for person, direction in _sides(act, ra):
            given = c.sheet.answer(act.id, direction)
            if person == c.performer and given.answer == "maybe":
                out.append((ra, _act_item(act, direction)))
                break
    return out


def clamp(rider: Rider, consents: Mapping[bytes, Consent]) -> Rider:
    """The largest rider inside ``consents``: acts outside them dropped, intensity lowered to
    the limit, ask-first markers set, nudity, footage, doubles, closed set and stills cut back
    and wanted garments added. What ``rider template`` drafts from the current version."""
    acts: list[RiderAct] = []
    for ra in rider.acts:
        wrong = act_breaches(ra, consents)
        if any(b.code == "ask-first-unmarked" for b in wrong):
            ra = replace(ra, ask_first=True)
        limits = [b for b in wrong if b.item.startswith("intensity:")]
        if limits:
            level = min(int(b.answer.rsplit(" ", 1)[1]) for b in limits)
            ra = replace(ra, intensity=level)
        zones = tuple(z for z in ra.zones if not _zone_out(ra, z, consents))
        if ra.zones and zones != ra.zones:
            ra = replace(ra, zones=zones)
        if ra.zones and not zones:
            continue
        if act_breaches(ra, consents):
            continue
        acts.append(ra)
    terms = []
    for t in rider.performers:
        c = consents.get(t.identity)
        if c is None:
            terms.append(t)
            continue
        out = {b.item for b in terms_breaches(t, c)}
        wanted = () if c.sheet is None else c.sheet.garments
        doubles = Doubles(
            **{name: getattr(t.doubles, name) and item not in out
               for item, name in _DOUBLE_ITEMS.items()}
        )  # fmt: skip
        terms.append(
            PerformerTerms(
                t.identity,
                tuple(p for p in t.nudity if f"nudity:{p}" not in out),
                tuple(sorted(set(t.garments) | set(wanted))),
                tuple(u for u in t.footage if f"use:{u}" not in out),
                doubles,
                t.signals if c.sheet is None else c.sheet.signals,
            )
        )
    closed = rider.closed_set
    for c in consents.values():
        out = {b.item for b in closed_set_breaches(closed, c)}
        closed = ClosedSet(
            tuple(p for p in closed.present if f"present:{p}" not in out),
            tuple(p for p in closed.monitors if f"monitors:{p}" not in out),
            closed.stills and "stills" not in out,
        )
    return replace(rider, acts=tuple(acts), performers=tuple(terms), closed_set=closed)


def _zone_out(ra: RiderAct, zone: str, consents: Mapping[bytes, Consent]) -> bool:
    probe = replace(ra, zones=(zone,), intensity=None, ask_first=True, discussed="probe")
    return any(b.item == f"zone:{zone}" for b in act_breaches(probe, consents))


def act_holds(ra: RiderAct, item: str, performer: bytes) -> bool:
    """Does the rider act ``ra`` hold ``item`` (``act:...`` or ``zone:...``) for ``performer``?"""
    if performer not in (ra.giver, ra.receiver):
        return False
    act = vocab.load().act(ra.act)
    kind, _, rest = item.partition(":")
    if kind == "act":
        name, _, direction = rest.partition(":")
        sides = [d for p, d in _sides(act, ra) if p == performer]
        return ra.act == name and (not direction or direction in sides)
    if kind == "zone":
        touched = ra.receiver == performer or not act.directional
        return touched and rest in (ra.zones or act.zones)
    return False


def holds(rider: Rider, item: str, performer: bytes) -> bool:
    """Does ``rider`` hold ``item`` (a withdrawal item) for ``performer``?"""
    kind, _, rest = item.partition(":")
    if kind in ("act", "zone"):
        return any(act_holds(ra, item, performer) for ra in rider.acts_of(performer))
    terms = rider.terms(performer)
    if kind == "nudity":
        return rest in terms.nudity
    if kind == "use":
        return rest in terms.footage
    if item == "stills":
        return rider.closed_set.stills
    if item in _DOUBLE_ITEMS:
        return bool(getattr(terms.doubles, _DOUBLE_ITEMS[item]))
    return False


def consents_of(
    performers: Iterable[bytes],
    sheets: Mapping[bytes, BoundarySheet],
    withdrawn: Mapping[bytes, frozenset[str]],
    replicas: Mapping[bytes, str] | None = None,
) -> dict[bytes, Consent]:
    """Per performer, what this view knows of their consent (only those it knows anything of)."""
    out = {}
    for p in performers:
        if p in sheets or withdrawn.get(p):
            replica = (replicas or {}).get(p)
            out[p] = Consent(p, sheets.get(p), withdrawn.get(p, frozenset()), replica)
    return out


@dataclass(frozen=True)
class Contradiction:
    """Two answers of one sheet that cannot both hold; ``path`` is the sheet form's key."""

    path: tuple[str, ...]
    message: str


def contradictions(sheet: BoundarySheet) -> list[Contradiction]:
    """An act answered other than "no" on one's own body while every zone it touches there is
    "never"; a nudity part shown while every zone it covers is "never"."""
    v = vocab.load(sheet.vocabulary)
    never = {z.zone for z in sheet.zones if z.answer == "never"}
    found = []
    for a in sheet.acts:
        act = v.act(a.act)
        # Giving touches a partner's body; receiving and mutual acts touch one's own.
        if a.answer == "no" or a.direction == "giving" or not set(act.zones) <= never:
            continue
        key = "answer" if a.direction == "mutual" else a.direction
        found.append(
            Contradiction(
                ("acts", act.id, key),
                f"acts.{act.id}.{key} is {a.answer!r} but every zone it touches on you "
                f'({", ".join(act.zones)}) is "never"; change one of them.',
            )
        )
    for part in sheet.nudity_shown:
        covers = v.nudity[part].covers
        if covers and set(covers) <= never:
            found.append(
                Contradiction(
                    ("nudity", part),
                    f"nudity.{part} is true but every zone it shows ({', '.join(covers)}) is "
                    '"never"; change one of them.',
                )
            )
    return found


def minimum_breaches(rider: Rider) -> list[Breach]:
    """Minimums no performer can waive: an act with genital-area contact needs a barrier or
    modesty garment for each of its performers (SAG-AFTRA counts genital contact without a
    physical barrier as actual sex). Read from vocabulary properties, not ids."""
    v = vocab.load(rider.vocabulary)
    found = []
    for ra in rider.acts:
        if not v.genital_contact(v.act(ra.act), ra.zones):
            continue
        for person in (ra.giver, ra.receiver):
            garments = rider.terms(person).garments
            if not any(v.garments[g].barrier for g in garments):
                found.append(
                    Breach(person, f"act:{ra.act}", "has no barrier or modesty garment in the "
                           "rider", "no-barrier")
                )  # fmt: skip
    return found


def minor_breaches(rider: Rider, brief: SceneBrief) -> list[Breach]:
    """For a performer under 18: no nudity and no simulated sexual activity in the rider, and a
    chaperone named in the closed set (rules against vocabulary properties, not ids)."""
    v = vocab.load(rider.vocabulary)
    found = []
    for minor in brief.minors:
        for part in rider.terms(minor).nudity:
            none = "is under 18, so none is allowed"
            found.append(Breach(minor, f"nudity:{part}", none, "minor"))
        for ra in rider.acts_of(minor):
            if v.act(ra.act).simulated_sex:
                found.append(
                    Breach(minor, f"act:{ra.act}", "is under 18, so no simulated sex is allowed",
                           "minor")
                )  # fmt: skip
    if brief.minors and not any("chaperone" in p.lower() for p in rider.closed_set.present):
        found.append(
            Breach(brief.minors[0], "present:a chaperone", "is under 18, so the closed set "
                   "must name one", "no-chaperone")
        )  # fmt: skip
    return found


def minor_sheet_problems(sheet: BoundarySheet) -> list[str]:
    """What a minor's sheet may not say: nudity shown, or simulated sex other than "no"."""
    v = vocab.load(sheet.vocabulary)
    found = [f"nudity.{p} must be false" for p in sheet.nudity_shown]
    found += [
        f'acts.{a.act} must be "no"'
        for a in sheet.acts
        if v.act(a.act).simulated_sex and a.answer != "no"
    ]
    return found
