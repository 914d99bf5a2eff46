"""A performer's boundary sheet for one scene, and the parts a rider shares with it.

A sheet is encrypted to the IC only (see audience.py). It is complete by construction: every
act in every direction, every zone and every nudity part is answered; nothing is assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

from client.negotiation import vocabulary as vocab
from client.negotiation._base import StatementBase, freeze
from client.negotiation._strict import (
    LONG_TEXT,
    Reader,
    check_bool,
    check_choice,
    check_int,
    check_text,
    check_unique,
)
from client.negotiation.errors import StatementError
from client.negotiation.vocabulary import Answer, Direction, ZoneAnswer

CheckInPreference = Literal["message", "call", "in-person", "none"]
CHECK_IN_PREFERENCES: tuple[CheckInPreference, ...] = get_args(CheckInPreference)
DEFAULT_STOP = "Red"
DEFAULT_SLOW = "Yellow"


@dataclass(frozen=True)
class Signals:
    """The stop word, the slow-down/check-in word, and a signal for when speech is impossible."""

    nonverbal: str
    stop: str = DEFAULT_STOP
    slow: str = DEFAULT_SLOW

    def __post_init__(self) -> None:
        check_text(self.stop, "stop word", 40, empty=False)
        check_text(self.slow, "slow-down word", 40, empty=False)
        check_text(self.nonverbal, "non-verbal signal", 200, empty=False)
        if self.stop.casefold() == self.slow.casefold():
            raise StatementError("The stop word and the slow-down word must differ.")

    def to_json(self) -> dict[str, Any]:
        return {"stop": self.stop, "slow": self.slow, "nonverbal": self.nonverbal}

    @classmethod
    def from_json(cls, value: Any) -> Signals:
        r = Reader(value, "signals", ("stop", "slow", "nonverbal"))
        return cls(stop=r.raw("stop"), slow=r.raw("slow"), nonverbal=r.raw("nonverbal"))


@dataclass(frozen=True)
class ClosedSet:
    """Who may be on set, who may watch monitors, whether stills may be taken."""

    present: tuple[str, ...] = ()
    monitors: tuple[str, ...] = ()
    stills: bool = False

    def __post_init__(self) -> None:
        for name in ("present", "monitors"):
            people = tuple(sorted(getattr(self, name)))
            for person in people:
                check_text(person, f"closed-set {name} entry", 200, empty=False)
            check_unique(people, f"closed-set {name}")
            freeze(self, name, people)
        check_bool(self.stills, "stills permission")

    def to_json(self) -> dict[str, Any]:
        return {
            "present": list(self.present),
            "monitors": list(self.monitors),
            "stills": self.stills,
        }

    @classmethod
    def from_json(cls, value: Any) -> ClosedSet:
        r = Reader(value, "closed set", ("present", "monitors", "stills"))
        return cls(tuple(r.items("present")), tuple(r.items("monitors")), r.raw("stills"))


@dataclass(frozen=True)
class Doubles:
    """Body double and digital double consent; a digital replica is a separate, explicit yes."""

    body_double: bool = False
    digital_double: bool = False
    digital_replica: bool = False

    def __post_init__(self) -> None:
        for name in ("body_double", "digital_double", "digital_replica"):
            check_bool(getattr(self, name), name.replace("_", " "))

    def to_json(self) -> dict[str, Any]:
        return {
            "body_double": self.body_double,
            "digital_double": self.digital_double,
            "digital_replica": self.digital_replica,
        }

    @classmethod
    def from_json(cls, value: Any) -> Doubles:
        r = Reader(value, "doubles", ("body_double", "digital_double", "digital_replica"))
        return cls(r.raw("body_double"), r.raw("digital_double"), r.raw("digital_replica"))


@dataclass(frozen=True, order=True)
class ActAnswer:
    """One act in one direction ("mutual" for acts without one), with an optional 1-10 limit."""

    act: str
    direction: Direction
    answer: Answer
    intensity: int | None = None

    def __post_init__(self) -> None:
        check_choice(self.direction, "direction", get_args(Direction))
        check_choice(self.answer, f"answer for {self.act}", vocab.ANSWERS)
        if self.intensity is not None:
            check_int(self.intensity, f"intensity limit for {self.act}", 1, 10)

    def to_json(self) -> dict[str, Any]:
        return {
            "act": self.act,
            "direction": self.direction,
            "answer": self.answer,
            "intensity": self.intensity,
        }


@dataclass(frozen=True, order=True)
class ZoneEntry:
    """One body zone: OK, ask first or never, with an optional note ("side yes, nipple no")."""

    zone: str
    answer: ZoneAnswer
    note: str | None = None

    def __post_init__(self) -> None:
        check_choice(self.answer, f"answer for zone {self.zone}", vocab.ZONE_ANSWERS)
        if self.note is not None:
            check_text(self.note, f"note on zone {self.zone}", 400, empty=False)

    def to_json(self) -> dict[str, Any]:
        return {"zone": self.zone, "answer": self.answer, "note": self.note}


@dataclass(frozen=True)
class BoundarySheet(StatementBase):
    """One performer's private answers for one scene; read by the IC only."""

    PURPOSE: ClassVar[str] = "closedset/boundary-sheet/v1"

    acts: tuple[ActAnswer, ...]
    zones: tuple[ZoneEntry, ...]
    nudity_shown: tuple[str, ...]  # parts that may be shown; every other part is not shown
    signals: Signals
    name: str
    pronouns: str
    garments: tuple[str, ...] = ()
    closed_set: ClosedSet = field(default_factory=ClosedSet)
    footage: tuple[str, ...] = ()  # footage uses allowed; every other use is not
    doubles: Doubles = field(default_factory=Doubles)
    health: str = ""
    aftercare: str = ""
    check_in: CheckInPreference = "message"
    notes: str = ""
    vocabulary: int = vocab.CURRENT_VERSION

    def __post_init__(self) -> None:
        v = vocab.load(self.vocabulary)
        freeze(self, "acts", tuple(sorted(self.acts)))
        freeze(self, "zones", tuple(sorted(self.zones)))
        for name in ("nudity_shown", "garments", "footage"):
            freeze(self, name, tuple(sorted(getattr(self, name))))
        wanted = {(a.id, d) for a in v.acts.values() for d in a.directions}
        given = [(a.act, a.direction) for a in self.acts]
        check_unique(given, "act answers")
        if set(given) != wanted:
            missing = sorted(wanted - set(given))[:3]
            extra = sorted(set(given) - wanted)[:3]
            raise StatementError(
                f"A sheet answers every act of vocabulary v{v.version} in each direction once; "
                f"missing {missing}, unknown {extra}."
            )
        zones = [z.zone for z in self.zones]
        check_unique(zones, "zones")
        if set(zones) != set(v.zones):
            raise StatementError("A sheet answers every body zone of its vocabulary once.")
        _check_ids(self.nudity_shown, v.nudity, "nudity parts")
        _check_ids(self.garments, v.garments, "garments")
        _check_ids(self.footage, v.uses, "footage uses")
        check_text(self.name, "name during the scene", 120, empty=False)
        check_text(self.pronouns, "pronouns", 60, empty=False)
        for text in ("health", "aftercare", "notes"):
            check_text(getattr(self, text), text, LONG_TEXT)
        check_choice(self.check_in, "check-in preference", CHECK_IN_PREFERENCES)

    def answer(self, act: str, direction: Direction) -> ActAnswer:
        for item in self.acts:
            if item.act == act and item.direction == direction:
                return item
        raise KeyError((act, direction))

    def zone(self, zone: str) -> ZoneEntry:
        return next(z for z in self.zones if z.zone == zone)

    def to_json(self) -> dict[str, Any]:
        return {
            "vocabulary": self.vocabulary,
            "acts": [a.to_json() for a in self.acts],
            "zones": [z.to_json() for z in self.zones],
            "nudity_shown": list(self.nudity_shown),
            "garments": list(self.garments),
            "signals": self.signals.to_json(),
            "name": self.name,
            "pronouns": self.pronouns,
            "closed_set": self.closed_set.to_json(),
            "footage": list(self.footage),
            "doubles": self.doubles.to_json(),
            "health": self.health,
            "aftercare": self.aftercare,
            "check_in": self.check_in,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, value: Any) -> BoundarySheet:
        r = Reader(value, "boundary sheet", _SHEET_FIELDS)
        acts = []
        for item in r.items("acts"):
            a = Reader(item, "act answer", ("act", "direction", "answer", "intensity"))
            acts.append(
                ActAnswer(
                    a.text("act"),
                    a.raw("direction"),
                    a.raw("answer"),
                    a.opt_integer("intensity", 1, 10),
                )
            )
        zones = []
        for item in r.items("zones"):
            z = Reader(item, "zone answer", ("zone", "answer", "note"))
            zones.append(ZoneEntry(z.text("zone"), z.raw("answer"), z.opt_text("note", 400)))
        return cls(
            vocabulary=r.integer("vocabulary", 1, 1_000),
            acts=tuple(acts),
            zones=tuple(zones),
            nudity_shown=r.strings("nudity_shown"),
            garments=r.strings("garments"),
            signals=Signals.from_json(r.raw("signals")),
            name=r.text("name"),
            pronouns=r.text("pronouns"),
            closed_set=ClosedSet.from_json(r.raw("closed_set")),
            footage=r.strings("footage"),
            doubles=Doubles.from_json(r.raw("doubles")),
            health=r.text("health", LONG_TEXT),
            aftercare=r.text("aftercare", LONG_TEXT),
            check_in=r.raw("check_in"),
            notes=r.text("notes", LONG_TEXT),
        )


_SHEET_FIELDS = (
    "vocabulary",
    "acts",
    "zones",
    "nudity_shown",
    "garments",
    "signals",
    "name",
    "pronouns",
    "closed_set",
    "footage",
    "doubles",
    "health",
    "aftercare",
    "check_in",
    "notes",
)


def _check_ids(ids: tuple[str, ...], known: object, what: str) -> None:
    check_unique(ids, what)
    for item in ids:
        if item not in known:  # type: ignore[operator]
            raise StatementError(f"{item!r} is not one of the vocabulary's {what}.")
