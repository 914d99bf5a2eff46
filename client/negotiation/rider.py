"""A rider version: the agreed terms for a scene, drafted by the IC inside the overlap.

Versions chain by hash (``previous`` = SHA-256 of the previous version's canonical bytes);
acceptances name that hash. ``widenings`` and ``additions`` compare two versions for the
"tighten, never widen" and "48 hours' notice" rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from client.negotiation import vocabulary as vocab
from client.negotiation._base import StatementBase, freeze
from client.negotiation._strict import (
    LONG_TEXT,
    Reader,
    b64,
    check_bool,
    check_hash,
    check_int,
    check_key,
    check_text,
    check_time,
    check_unique,
)
from client.negotiation.errors import StatementError
from client.negotiation.sheet import ClosedSet, Doubles, Signals


@dataclass(frozen=True, order=True)
class RiderAct:
    """One act: who gives, who receives, on which zones, up to which intensity.

    For acts without a direction the two performers are stored in byte order, so one pairing
    has one spelling; ``giver``/``receiver`` then only name the two people.
    """

    act: str
    giver: bytes
    receiver: bytes
    zones: tuple[str, ...] = ()
    intensity: int | None = None
    note: str | None = None
    # Rule set 2: a performer answered "ask first" (act or zone): the IC asks before each take.
    ask_first: bool = False
    # Rule set 2: the IC's note that a "maybe" was discussed with that performer; shown to them.
    discussed: str | None = None

    def __post_init__(self) -> None:
        check_key(self.giver, "giver")
        check_key(self.receiver, "receiver")
        if self.giver == self.receiver:
            raise StatementError(f"The act {self.act} needs two different performers.")
        freeze(self, "zones", tuple(sorted(self.zones)))
        check_unique(self.zones, f"zones of {self.act}")
        if self.intensity is not None:
            check_int(self.intensity, f"intensity of {self.act}", 1, 10)
        if self.note is not None:
            check_text(self.note, f"note on {self.act}", 400, empty=False)
        check_bool(self.ask_first, f"ask-first marker of {self.act}")
        if self.discussed is not None:
            check_text(self.discussed, f"discussion note on {self.act}", 400, empty=False)

    @property
    def key(self) -> tuple[str, bytes, bytes]:
        return (self.act, self.giver, self.receiver)

    def to_json(self) -> dict[str, Any]:
        return {
            "act": self.act,
            "giver": b64(self.giver),
            "receiver": b64(self.receiver),
            "zones": list(self.zones),
            "intensity": self.intensity,
            "note": self.note,
        } | _optional(ask_first=self.ask_first or None, discussed=self.discussed)


def _optional(**fields: object) -> dict[str, Any]:
    # Fields added by rule set 2 are absent at their default, so a rider signed before them
    # still re-encodes to the bytes its acceptances name (docs/negotiation.md).
    return {k: v for k, v in fields.items() if v is not None}


@dataclass(frozen=True, order=True)
class PerformerTerms:
    """What the rider says about one performer: nudity, garments, footage uses, doubles."""

    identity: bytes
    nudity: tuple[str, ...] = ()  # parts shown; every other part is not shown
    garments: tuple[str, ...] = ()
    footage: tuple[str, ...] = ()  # footage uses allowed beyond the picture itself
    doubles: Doubles = field(default_factory=Doubles)
    # Rule set 2: this performer's own stop, slow-down and non-verbal signals, in the shared
    # rider because a partner must recognise them (absent when None, as before rule set 2).
    signals: Signals | None = None
    # Rule set 2: SHA-256 of this performer's private annex (their footage and double terms,
    # sealed to them and the IC only); the signed rider commits to it (absent when None).
    annex: bytes | None = None

    def __post_init__(self) -> None:
        check_key(self.identity, "performer identity")
        if self.annex is not None:
            check_hash(self.annex, "annex hash")
            if self.footage or self.doubles != Doubles():
                raise StatementError(
                    "Terms with a private annex keep their footage and double terms in it."
                )
        for name in ("nudity", "garments", "footage"):
            freeze(self, name, tuple(sorted(getattr(self, name))))
            check_unique(getattr(self, name), name)

    def to_json(self) -> dict[str, Any]:
        return (
            {
                "identity": b64(self.identity),
                "nudity": list(self.nudity),
                "garments": list(self.garments),
                "footage": list(self.footage),
                "doubles": self.doubles.to_json(),
            }
            | ({} if self.signals is None else {"signals": self.signals.to_json()})
            | ({} if self.annex is None else {"annex": b64(self.annex)})
        )


@dataclass(frozen=True)
class Rider(StatementBase):
    """Rider version N; ``actual_sex_prohibited`` is always true and cannot be waived."""

    PURPOSE: ClassVar[str] = "closedset/rider/v1"

    version: int
    previous: bytes | None
    pages: str
    description: str
    call_time: int
    valid_from: int
    valid_until: int
    acts: tuple[RiderAct, ...]
    performers: tuple[PerformerTerms, ...]
    signals: Signals
    closed_set: ClosedSet = field(default_factory=ClosedSet)
    actual_sex_prohibited: bool = True
    vocabulary: int = vocab.CURRENT_VERSION

    def __post_init__(self) -> None:
        v = vocab.load(self.vocabulary)
        check_int(self.version, "rider version", 1, 100_000)
        if (self.version == 1) != (self.previous is None):
            raise StatementError("Version 1 has no previous hash; every later version has one.")
        if self.previous is not None:
            check_hash(self.previous, "previous version hash")
        check_text(self.pages, "script pages", 64, empty=False)
        check_text(self.description, "description", LONG_TEXT, empty=False)
        for name in ("call_time", "valid_from", "valid_until"):
            check_time(getattr(self, name), name.replace("_", " "))
        if not self.valid_from <= self.call_time <= self.valid_until:
            raise StatementError("The call time must fall within the consent's date range.")
        if self.actual_sex_prohibited is not True:
            raise StatementError("A rider always prohibits actual sex; it cannot be waived.")
        acts = tuple(sorted(_canonical_pair(a, v) for a in self.acts))
        check_unique([a.key for a in acts], "acts")
        freeze(self, "acts", acts)
        freeze(self, "performers", tuple(sorted(self.performers)))
        people = [p.identity for p in self.performers]
        check_unique(people, "performers")
        if not people:
            raise StatementError("A rider names at least one performer.")
        for act in acts:
            if act.giver not in people or act.receiver not in people:
                raise StatementError(f"The act {act.act} names someone the rider does not list.")
            for zone in act.zones:
                if zone not in v.zones:
                    raise StatementError(f"{zone!r} is not a body zone.")
        for terms in self.performers:
            for part in terms.nudity:
                if part not in v.nudity:
                    raise StatementError(f"{part!r} is not a nudity part.")
            for garment in terms.garments:
                if garment not in v.garments:
                    raise StatementError(f"{garment!r} is not a modesty garment.")
            for use in terms.footage:
                if use not in v.uses:
                    raise StatementError(f"{use!r} is not a footage use.")

    def terms(self, identity: bytes) -> PerformerTerms:
        return next(p for p in self.performers if p.identity == identity)

    def acts_of(self, identity: bytes) -> tuple[RiderAct, ...]:
        return tuple(a for a in self.acts if identity in (a.giver, a.receiver))

    def to_json(self) -> dict[str, Any]:
        return {
            "vocabulary": self.vocabulary,
            "version": self.version,
            "previous": None if self.previous is None else b64(self.previous),
            "pages": self.pages,
            "description": self.description,
            "call_time": self.call_time,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "acts": [a.to_json() for a in self.acts],
            "performers": [p.to_json() for p in self.performers],
            "signals": self.signals.to_json(),
            "closed_set": self.closed_set.to_json(),
            "actual_sex_prohibited": self.actual_sex_prohibited,
        }

    @classmethod
    def from_json(cls, value: Any) -> Rider:
        r = Reader(value, "rider", _RIDER_FIELDS)
        acts = []
        for item in r.items("acts"):
            fields = _ACT_FIELDS + tuple(
                k for k in _ACT_OPTIONAL if isinstance(item, dict) and k in item
            )
            a = Reader(item, "rider act", fields)
            acts.append(
                RiderAct(
                    act=a.text("act"),
                    giver=a.key("giver"),
                    receiver=a.key("receiver"),
                    zones=a.strings("zones"),
                    intensity=a.opt_integer("intensity", 1, 10),
                    note=a.opt_text("note", 400),
                    ask_first=a.boolean("ask_first") if "ask_first" in fields else False,
                    discussed=a.opt_text("discussed", 400) if "discussed" in fields else None,
                )
            )
        performers = []
        for item in r.items("performers"):
            extra = tuple(k for k in ("signals", "annex") if isinstance(item, dict) and k in item)
            own = "signals" in extra
            p = Reader(item, "performer terms", _TERMS_FIELDS + extra)
            performers.append(
                PerformerTerms(
                    identity=p.key("identity"),
                    nudity=p.strings("nudity"),
                    garments=p.strings("garments"),
                    footage=p.strings("footage"),
                    doubles=Doubles.from_json(p.raw("doubles")),
                    signals=Signals.from_json(p.raw("signals")) if own else None,
                    annex=p.hash("annex") if "annex" in extra else None,
                )
            )
        return cls(
            vocabulary=r.integer("vocabulary", 1, 1_000),
            version=r.integer("version", 1, 100_000),
            previous=r.opt_hash("previous"),
            pages=r.text("pages", 64),
            description=r.text("description", LONG_TEXT),
            call_time=r.time("call_time"),
            valid_from=r.time("valid_from"),
            valid_until=r.time("valid_until"),
            acts=tuple(acts),
            performers=tuple(performers),
            signals=Signals.from_json(r.raw("signals")),
            closed_set=ClosedSet.from_json(r.raw("closed_set")),
            actual_sex_prohibited=r.raw("actual_sex_prohibited"),
        )


_RIDER_FIELDS = (
    "vocabulary",
    "version",
    "previous",
    "pages",
    "description",
    "call_time",
    "valid_from",
    "valid_until",
    "acts",
    "performers",
    "signals",
    "closed_set",
    "actual_sex_prohibited",
)


_ACT_FIELDS = ("act", "giver", "receiver", "zones", "intensity", "note")
_ACT_OPTIONAL = ("ask_first", "discussed")
_TERMS_FIELDS = ("identity", "nudity", "garments", "footage", "doubles")


def _canonical_pair(act: RiderAct, v: vocab.Vocabulary) -> RiderAct:
    if act.act not in v.acts:
        raise StatementError(f"{act.act!r} is not an act in vocabulary v{v.version}.")
    if not v.acts[act.act].directional and act.receiver < act.giver:
        return replace(act, giver=act.receiver, receiver=act.giver)
    return act


def _looser(old: int | None, new: int | None) -> bool:
    # No limit is the loosest of all; a higher number is looser than a lower one.
    return old is not None and (new is None or new > old)


def additions(old: Rider, new: Rider) -> tuple[str, ...]:
    """New acts and more nudity in ``new`` (the narrow reading of rule set 1's notice rule)."""
    found = [f"new act {a.act}" for a in new.acts if a.key not in {b.key for b in old.acts}]
    old_terms = {p.identity: p for p in old.performers}
    for terms in new.performers:
        before = old_terms.get(terms.identity, PerformerTerms(terms.identity))
        found += [f"more nudity: {part}" for part in terms.nudity if part not in before.nudity]
    return tuple(found)


def exposure_increases(old: Rider, new: Rider, performer: bytes | None = None) -> tuple[str, ...]:
    """Every way ``new`` exposes a performer more than ``old`` (all performers, or one): a new
    act or zone, a looser intensity, more nudity, a dropped garment, a footage use, a double or
    replica, more people on the closed set or at the monitors, stills. What needs 48 hours'
    notice, and what an acceptance after call time may not add (rule set 2)."""

    def mine(a: RiderAct) -> bool:
        return performer is None or performer in (a.giver, a.receiver)

    found = list(
        f"new act {a.act}" for a in new.acts if mine(a) and a.key not in {b.key for b in old.acts}
    )
    old_acts = {a.key: a for a in old.acts}
    for act in new.acts:
        before = old_acts.get(act.key)
        if before is None or not mine(act):
            continue
        found += [f"{act.act} adds zone {z}" for z in act.zones if z not in before.zones]
        if _looser(before.intensity, act.intensity):
            found.append(f"{act.act} loosens intensity {before.intensity} to {act.intensity}")
        if before.ask_first and not act.ask_first:
            found.append(f"{act.act} drops its ask-first marker")
    old_terms = {p.identity: p for p in old.performers}
    for terms in new.performers:
        if performer is not None and terms.identity != performer:
            continue
        was = old_terms.get(terms.identity)
        if was is None:
            found.append("adds a performer")
            continue
        found += [f"more nudity: {p}" for p in terms.nudity if p not in was.nudity]
        found += [f"drops garment {g}" for g in was.garments if g not in terms.garments]
        found += [f"allows footage use {u}" for u in terms.footage if u not in was.footage]
        for name in ("body_double", "digital_double", "digital_replica"):
            if getattr(terms.doubles, name) and not getattr(was.doubles, name):
                found.append(f"allows {name.replace('_', ' ')}")
    cs_old, cs_new = old.closed_set, new.closed_set
    found += [f"adds {p} to the closed set" for p in cs_new.present if p not in cs_old.present]
    found += [f"adds {p} to monitors" for p in cs_new.monitors if p not in cs_old.monitors]
    if cs_new.stills and not cs_old.stills:
        found.append("allows stills")
    return tuple(found)


EXTENDS_DATES = "extends the consent dates"


def widenings(old: Rider, new: Rider, performer: bytes | None = None) -> tuple[str, ...]:
    """Everything ``new`` allows that ``old`` did not; empty when ``new`` only narrows. After
    call time the framing, the dates and the signals are fixed too (rule set 2 reads these)."""
    found = list(exposure_increases(old, new, performer))
    if new.description != old.description:
        found.append("changes the description of how the scene appears")
    if new.signals != old.signals:
        found.append("changes the signals")
    if new.call_time != old.call_time:
        found.append("moves the call time")
    if new.valid_from < old.valid_from or new.valid_until > old.valid_until:
        found.append(EXTENDS_DATES)
    return tuple(found)


ANNEX_SALT_SIZE = 32


@dataclass(frozen=True)
class Annex(StatementBase):
    """One performer's private terms for rider version N: footage uses and doubles, and a note.
    Sealed to that performer and the IC only; the rider's terms name its hash, so every
    acceptance covers it while no partner reads it. The random 32-byte salt keeps the hash of a
    few yes/no fields from being guessed (rule set 2)."""

    PURPOSE: ClassVar[str] = "closedset/annex/v1"

    version: int
    performer: bytes
    salt: bytes
    footage: tuple[str, ...] = ()
    doubles: Doubles = field(default_factory=Doubles)
    note: str = ""
    vocabulary: int = vocab.CURRENT_VERSION

    def __post_init__(self) -> None:
        v = vocab.load(self.vocabulary)
        check_int(self.version, "rider version", 1, 100_000)
        check_key(self.performer, "performer")
        if not isinstance(self.salt, bytes) or len(self.salt) != ANNEX_SALT_SIZE:
            raise StatementError(f"An annex salt is {ANNEX_SALT_SIZE} random bytes.")
        freeze(self, "footage", tuple(sorted(self.footage)))
        check_unique(self.footage, "annex footage uses")
        for use in self.footage:
            if use not in v.uses:
                raise StatementError(f"{use!r} is not a footage use.")
        check_text(self.note, "annex note", LONG_TEXT)

    def to_json(self) -> dict[str, Any]:
        return {
            "vocabulary": self.vocabulary,
            "version": self.version,
            "performer": b64(self.performer),
            "salt": b64(self.salt),
            "footage": list(self.footage),
            "doubles": self.doubles.to_json(),
            "note": self.note,
        }

    @classmethod
    def from_json(cls, value: Any) -> Annex:
        fields = ("vocabulary", "version", "performer", "salt", "footage", "doubles", "note")
        r = Reader(value, "annex", fields)
        return cls(
            version=r.integer("version", 1, 100_000),
            performer=r.key("performer"),
            salt=r.hash("salt"),
            footage=r.strings("footage"),
            doubles=Doubles.from_json(r.raw("doubles")),
            note=r.text("note", LONG_TEXT),
            vocabulary=r.integer("vocabulary", 1, 1_000),
        )

    def merged(self, terms: PerformerTerms) -> PerformerTerms:
        """The performer's whole terms: the shared ones with this annex's private ones."""
        return replace(terms, footage=self.footage, doubles=self.doubles, annex=None)
