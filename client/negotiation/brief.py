"""The scene brief (who, when, which pages) and the director's requests (the IC's private input).

The brief goes to every participant; the requests go to the IC's own devices only, so a
performer is never shown a request they refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

from client.negotiation import vocabulary as vocab
from client.negotiation._base import StatementBase, freeze
from client.negotiation._strict import (
    KEY_SIZE,
    LONG_TEXT,
    Reader,
    b64,
    check_bool,
    check_choice,
    check_int,
    check_key,
    check_text,
    check_time,
    check_unique,
    decode,
)
from client.negotiation.errors import StatementError

RULES_VERSION = 2  # the consent rule set new briefs name; see docs/negotiation.md
# "union-rep": the scene's union representative (rule set 2): receives only what is addressed
# to them, and alone may waive the 48-hour notice floor (statements.Waiver).
# "guardian": a parent or guardian of a minor performer (rule set 2), who reads the minor's
# sheet, accepts alongside them and may withdraw for them.
SceneRole = Literal["performer", "ic", "union-rep", "guardian"]
SCENE_ROLES: tuple[SceneRole, ...] = get_args(SceneRole)


@dataclass(frozen=True, order=True)
class Participant:
    """A member of the scene: identity key, role in this scene, and a display name.

    Rule set 2: ``minor`` marks a performer under 18 (the IC marks it, the performer confirms
    it by accepting the brief's terms); a ``guardian`` names the minor they act for in ``of``.
    Both are absent from the bytes at their default.
    """

    identity: bytes
    role: SceneRole
    name: str
    minor: bool = False
    of: bytes | None = None

    def __post_init__(self) -> None:
        check_key(self.identity, "participant identity")
        check_choice(self.role, "participant role", SCENE_ROLES)
        check_text(self.name, "participant name", 120, empty=False)
        check_bool(self.minor, "under-18 flag")
        if self.minor and self.role != "performer":
            raise StatementError("Only a performer is marked as under 18.")
        if (self.role == "guardian") != (self.of is not None):
            raise StatementError("A guardian names the minor they act for, and only a guardian.")
        if self.of is not None:
            check_key(self.of, "the guardian's minor")

    def to_json(self) -> dict[str, Any]:
        out = {"identity": b64(self.identity), "role": self.role, "name": self.name}
        return (
            out
            | ({"minor": True} if self.minor else {})
            | ({} if self.of is None else {"of": b64(self.of)})
        )

    @classmethod
    def from_json(cls, value: Any, what: str = "participant") -> Participant:
        extra = tuple(k for k in ("minor", "of") if isinstance(value, dict) and k in value)
        r = Reader(value, what, ("identity", "role", "name", *extra))
        return cls(
            r.key("identity"),
            r.raw("role"),
            r.raw("name"),
            r.boolean("minor") if "minor" in extra else False,
            r.key("of") if "of" in extra else None,
        )


@dataclass(frozen=True)
class SceneBrief(StatementBase):
    """The scene from the script breakdown: who takes part, when, and the consent's dates.

    ``pairs`` names who touches whom in a scene of three or more (empty: every pair).
    ``production_contact`` may receive a transgression report when its reporter chooses so.
    """

    PURPOSE: ClassVar[str] = "closedset/scene-brief/v1"

    title: str
    scene: str
    pages: str
    call_time: int
    valid_from: int
    valid_until: int
    participants: tuple[Participant, ...]
    description: str = ""
    pairs: tuple[tuple[bytes, bytes], ...] = ()
    production_contact: Participant | None = None
    # The consent rule set this scene is judged by (docs/negotiation.md, "Rule sets"): 1 is
    # the set before riders were held to the sheets; a brief without the field is rule set 1,
    # so an old scene reads as it was signed.
    rules: int = RULES_VERSION
    # False: the production is not under a union agreement, so the 48-hour floor cannot be
    # waived by a union representative; late cases are flagged and recorded instead.
    union_agreement: bool = True

    def __post_init__(self) -> None:
        check_text(self.title, "scene title", 200, empty=False)
        check_text(self.scene, "scene number", 32, empty=False)
        check_text(self.pages, "script pages", 64, empty=False)
        check_text(self.description, "scene description", LONG_TEXT)
        for name in ("call_time", "valid_from", "valid_until"):
            check_time(getattr(self, name), name.replace("_", " "))
        if not self.valid_from <= self.call_time <= self.valid_until:
            raise StatementError("The call time must fall within the production date range.")
        freeze(self, "participants", tuple(sorted(self.participants)))
        check_unique([p.identity for p in self.participants], "participants")
        if [p.role for p in self.participants].count("ic") != 1 or not self.performers:
            raise StatementError("A scene has exactly one IC and at least one performer.")
        if [p.role for p in self.participants].count("union-rep") > 1:
            raise StatementError("A scene has at most one union representative.")
        check_bool(self.union_agreement, "union agreement flag")
        for g in self.participants:
            if g.of is not None and (
                g.of not in self.performers or not self.participant(g.of).minor
            ):
                raise StatementError("A guardian acts for a performer of the scene under 18.")
        if self.rules < 2 and (self.union_rep is not None or not self.union_agreement):
            raise StatementError("A union representative or its absence needs rule set 2.")
        pairs = tuple(sorted(tuple(sorted(pair)) for pair in self.pairs))
        check_unique(pairs, "pairs")
        for a, b in pairs:
            if a == b or a not in self.performers or b not in self.performers:
                raise StatementError("Each pair names two different performers of the scene.")
        freeze(self, "pairs", pairs)
        check_int(self.rules, "rule set", 1, RULES_VERSION)
        contact = self.production_contact
        if contact is not None and contact.identity in self.members:
            raise StatementError("The production contact is not a participant of the scene.")

    @property
    def ic(self) -> bytes:
        return next(p.identity for p in self.participants if p.role == "ic")

    @property
    def performers(self) -> tuple[bytes, ...]:
        return tuple(p.identity for p in self.participants if p.role == "performer")

    @property
    def minors(self) -> tuple[bytes, ...]:
        return tuple(p.identity for p in self.participants if p.minor)

    def guardians_of(self, minor: bytes) -> tuple[bytes, ...]:
        return tuple(p.identity for p in self.participants if p.of == minor)

    @property
    def guardians(self) -> tuple[bytes, ...]:
        return tuple(p.identity for p in self.participants if p.role == "guardian")

    @property
    def union_rep(self) -> bytes | None:
        return next((p.identity for p in self.participants if p.role == "union-rep"), None)

    @property
    def members(self) -> frozenset[bytes]:
        return frozenset(p.identity for p in self.participants)

    def participant(self, identity: bytes) -> Participant:
        return next(p for p in self.participants if p.identity == identity)

    def to_json(self) -> dict[str, Any]:
        contact = self.production_contact
        return (
            {
                "title": self.title,
                "scene": self.scene,
                "pages": self.pages,
                "description": self.description,
                "call_time": self.call_time,
                "valid_from": self.valid_from,
                "valid_until": self.valid_until,
                "participants": [p.to_json() for p in self.participants],
                "pairs": [[b64(a), b64(b)] for a, b in self.pairs],
                "production_contact": None if contact is None else contact.to_json(),
            }
            | ({} if self.rules == 1 else {"rules": self.rules})
            | ({} if self.union_agreement else {"union_agreement": False})
        )

    @classmethod
    def from_json(cls, value: Any) -> SceneBrief:
        optional = tuple(
            k for k in ("rules", "union_agreement") if isinstance(value, dict) and k in value
        )
        r = Reader(value, "scene brief", _BRIEF_FIELDS + optional)
        pairs = []
        for pair in r.items("pairs"):
            if not isinstance(pair, list) or len(pair) != 2:
                raise StatementError("Each pair is a list of two identity keys.")
            pairs.append((decode(pair[0], KEY_SIZE, "pair"), decode(pair[1], KEY_SIZE, "pair")))
        contact = r.raw("production_contact")
        return cls(
            title=r.text("title"),
            scene=r.text("scene", 32),
            pages=r.text("pages", 64),
            description=r.text("description", LONG_TEXT),
            call_time=r.time("call_time"),
            valid_from=r.time("valid_from"),
            valid_until=r.time("valid_until"),
            participants=tuple(Participant.from_json(p) for p in r.items("participants")),
            pairs=tuple(pairs),
            production_contact=None
            if contact is None
            else Participant.from_json(contact, "production contact"),
            rules=r.integer("rules", 2, RULES_VERSION) if "rules" in optional else 1,
            union_agreement=r.boolean("union_agreement") if "union_agreement" in optional else True,
        )


_BRIEF_FIELDS = (
    "title",
    "scene",
    "pages",
    "description",
    "call_time",
    "valid_from",
    "valid_until",
    "participants",
    "pairs",
    "production_contact",
)


@dataclass(frozen=True, order=True)
class Request:
    """An act the director asks for, between two performers; the IC's private input."""

    act: str
    giver: bytes
    receiver: bytes

    def __post_init__(self) -> None:
        check_key(self.giver, "giver")
        check_key(self.receiver, "receiver")
        if self.act not in vocab.load().acts:
            raise StatementError(f"{self.act!r} is not an act in the vocabulary.")


@dataclass(frozen=True)
class SceneRequests(StatementBase):
    """What the director asked for: acts and nudity. Sealed to the IC's own devices only,
    so no performer is ever shown a request they refused."""

    PURPOSE: ClassVar[str] = "closedset/scene-requests/v1"

    acts: tuple[Request, ...] = ()
    nudity: tuple[tuple[bytes, str], ...] = ()  # (performer, part)
    note: str = ""

    def __post_init__(self) -> None:
        freeze(self, "acts", tuple(sorted(self.acts)))
        freeze(self, "nudity", tuple(sorted(self.nudity)))
        check_unique(self.acts, "requested acts")
        check_unique(self.nudity, "requested nudity")
        for performer, part in self.nudity:
            check_key(performer, "performer")
            check_choice(part, "nudity part", vocab.load().nudity)
        check_text(self.note, "note", LONG_TEXT)

    def to_json(self) -> dict[str, Any]:
        return {
            "acts": [
                {"act": r.act, "giver": b64(r.giver), "receiver": b64(r.receiver)}
                for r in self.acts
            ],
            "nudity": [{"performer": b64(p), "part": part} for p, part in self.nudity],
            "note": self.note,
        }

    @classmethod
    def from_json(cls, value: Any) -> SceneRequests:
        r = Reader(value, "scene requests", ("acts", "nudity", "note"))
        acts = []
        for item in r.items("acts"):
            a = Reader(item, "requested act", ("act", "giver", "receiver"))
            acts.append(Request(a.text("act"), a.key("giver"), a.key("receiver")))
        nudity = []
        for item in r.items("nudity"):
            n = Reader(item, "requested nudity", ("performer", "part"))
            nudity.append((n.key("performer"), n.text("part")))
        return cls(tuple(acts), tuple(nudity), r.text("note", LONG_TEXT))
