"""Every statement a scene thread carries: typed, frozen, canonical, each with its purpose tag.

Build one with its constructor (it validates), send ``to_bytes()`` sealed with ``PURPOSE`` as
the envelope purpose, and read one back with ``parse(purpose, plaintext)``. Formats byte by
byte: docs/negotiation.md.
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
    check_hash,
    check_int,
    check_key,
    check_text,
    check_time,
    check_unique,
    decode,
)
from client.negotiation.brief import Participant, SceneBrief, SceneRequests
from client.negotiation.errors import StatementError
from client.negotiation.rider import Annex, PerformerTerms, Rider, RiderAct
from client.negotiation.sheet import (
    ActAnswer,
    BoundarySheet,
    ClosedSet,
    Doubles,
    Signals,
    ZoneEntry,
)
from keys.encoding import parse_canonical_json
from keys.errors import EncodingError
from keys.statement import check_purpose

MAX_PLAINTEXT = 256 * 1024  # keys.envelope.MAX_PLAINTEXT_BYTES

__all__ = [
    "Acceptance",
    "ActAnswer",
    "Annex",
    "BoundarySheet",
    "CheckIn",
    "ClosedSet",
    "Counter",
    "Doubles",
    "FilmedMark",
    "Message",
    "Participant",
    "PerformerTerms",
    "ReGrant",
    "RepairPlan",
    "ReplicaConsent",
    "Rider",
    "RiderAct",
    "SceneBrief",
    "SceneClose",
    "SceneRequests",
    "Signals",
    "Statement",
    "TransgressionReport",
    "Waiver",
    "Withdrawal",
    "ZoneEntry",
    "parse",
]


@dataclass(frozen=True)
class Acceptance(StatementBase):
    """A participant accepts rider version N; the envelope's signature is the signature."""

    PURPOSE: ClassVar[str] = "closedset/acceptance/v1"

    version: int
    rider: bytes  # the rider version's hash

    def __post_init__(self) -> None:
        check_int(self.version, "rider version", 1, 100_000)
        check_hash(self.rider, "rider hash")

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "rider": b64(self.rider)}

    @classmethod
    def from_json(cls, value: Any) -> Acceptance:
        r = Reader(value, "acceptance", ("version", "rider"))
        return cls(r.integer("version", 1, 100_000), r.hash("rider"))


@dataclass(frozen=True)
class Counter(StatementBase):
    """A performer answers rider version N with comments instead of accepting; IC only."""

    PURPOSE: ClassVar[str] = "closedset/counter/v1"

    version: int
    rider: bytes
    comments: str

    def __post_init__(self) -> None:
        check_int(self.version, "rider version", 1, 100_000)
        check_hash(self.rider, "rider hash")
        check_text(self.comments, "comments", LONG_TEXT, empty=False)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "rider": b64(self.rider), "comments": self.comments}

    @classmethod
    def from_json(cls, value: Any) -> Counter:
        r = Reader(value, "counter", ("version", "rider", "comments"))
        return cls(r.integer("version", 1, 100_000), r.hash("rider"), r.raw("comments"))


WITHDRAWAL_FLAGS = ("stills", "body-double", "digital-double", "digital-replica")


def check_item(item: str, v: vocab.Vocabulary) -> str:
    """A withdrawable item: ``act:<id>[:giving|:receiving]``, ``zone:<id>``, ``nudity:<id>``,
    ``use:<id>``, or one of ``stills``, ``body-double``, ``digital-double``, ``digital-replica``."""
    kind, _, rest = item.partition(":")
    name, _, direction = rest.partition(":")
    known: dict[str, Any] = {"act": v.acts, "zone": v.zones, "nudity": v.nudity, "use": v.uses}
    ok = item in WITHDRAWAL_FLAGS or (
        kind in known
        and name in known[kind]
        and (direction == "" or (kind == "act" and direction in ("giving", "receiving")))
    )
    if not ok:
        raise StatementError(
            f"{item!r} is not a withdrawable item; use act:<act>[:giving|:receiving], "
            "zone:<zone>, nudity:<part>, use:<use>, stills, body-double, digital-double "
            "or digital-replica."
        )
    return item


@dataclass(frozen=True)
class Withdrawal(StatementBase):
    """A performer revokes consent: to the whole rider, or to listed items. Never refused."""

    PURPOSE: ClassVar[str] = "closedset/withdrawal/v1"

    whole: bool
    items: tuple[str, ...] = ()
    version: int | None = None  # the rider version the performer had in front of them
    reason: str | None = None
    vocabulary: int = vocab.CURRENT_VERSION

    def __post_init__(self) -> None:
        check_bool(self.whole, "whole-rider flag")
        freeze(self, "items", tuple(sorted(self.items)))
        check_unique(self.items, "withdrawn items")
        if self.whole == bool(self.items):
            raise StatementError("A withdrawal is either of the whole rider or of listed items.")
        for item in self.items:
            check_item(item, vocab.load(self.vocabulary))
        if self.version is not None:
            check_int(self.version, "rider version", 1, 100_000)
        if self.reason is not None:
            check_text(self.reason, "reason", LONG_TEXT, empty=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "vocabulary": self.vocabulary,
            "whole": self.whole,
            "items": list(self.items),
            "version": self.version,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, value: Any) -> Withdrawal:
        r = Reader(value, "withdrawal", ("vocabulary", "whole", "items", "version", "reason"))
        return cls(
            whole=r.boolean("whole"),
            items=r.strings("items"),
            version=r.opt_integer("version", 1, 100_000),
            reason=r.opt_text("reason", LONG_TEXT),
            vocabulary=r.integer("vocabulary", 1, 1_000),
        )


@dataclass(frozen=True)
class ReGrant(StatementBase):
    """A performer says yes again to items they withdrew (rule set 2): a withdrawal sticks
    until a newer sheet or this. It cannot go beyond their sheet. IC only."""

    PURPOSE: ClassVar[str] = "closedset/re-grant/v1"

    items: tuple[str, ...]
    note: str = ""
    vocabulary: int = vocab.CURRENT_VERSION

    def __post_init__(self) -> None:
        freeze(self, "items", tuple(sorted(self.items)))
        check_unique(self.items, "re-granted items")
        if not self.items:
            raise StatementError("A re-grant names at least one item you withdrew.")
        for item in self.items:
            check_item(item, vocab.load(self.vocabulary))
        check_text(self.note, "note", LONG_TEXT)

    def to_json(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary, "items": list(self.items), "note": self.note}

    @classmethod
    def from_json(cls, value: Any) -> ReGrant:
        r = Reader(value, "re-grant", ("vocabulary", "items", "note"))
        return cls(r.strings("items"), r.text("note", LONG_TEXT), r.integer("vocabulary", 1, 1_000))


@dataclass(frozen=True)
class FilmedMark(StatementBase):
    """The IC marks rider version N filmed: listed acts, or the whole scene when none listed."""

    PURPOSE: ClassVar[str] = "closedset/filmed/v1"

    version: int
    rider: bytes
    acts: tuple[str, ...] = ()
    shots: str = ""
    # Rule set 2, a production without a union agreement: the 48-hour findings this mark was
    # made despite, recorded on it (absent when there are none).
    notice: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_int(self.version, "rider version", 1, 100_000)
        check_hash(self.rider, "rider hash")
        freeze(self, "acts", tuple(sorted(self.acts)))
        check_unique(self.acts, "filmed acts")
        for act in self.acts:
            check_choice(act, "filmed act", vocab.load().acts)
        check_text(self.shots, "shots", LONG_TEXT)
        for line in self.notice:
            check_text(line, "notice finding", LONG_TEXT, empty=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "rider": b64(self.rider),
            "acts": list(self.acts),
            "shots": self.shots,
        } | ({"notice": list(self.notice)} if self.notice else {})

    @classmethod
    def from_json(cls, value: Any) -> FilmedMark:
        notice = ("notice",) if isinstance(value, dict) and "notice" in value else ()
        r = Reader(value, "filmed mark", ("version", "rider", "acts", "shots", *notice))
        return cls(
            r.integer("version", 1, 100_000),
            r.hash("rider"),
            r.strings("acts"),
            r.text("shots", LONG_TEXT),
            tuple(r.items("notice")) if notice else (),
        )


@dataclass(frozen=True)
class Waiver(StatementBase):
    """The scene's union representative waives the 48-hour notice floor for rider version N,
    naming the reason. A performer cannot waive it (a contractual minimum); only this can."""

    PURPOSE: ClassVar[str] = "closedset/waiver/v1"

    version: int
    rider: bytes
    reason: str

    def __post_init__(self) -> None:
        check_int(self.version, "rider version", 1, 100_000)
        check_hash(self.rider, "rider hash")
        check_text(self.reason, "reason", LONG_TEXT, empty=False)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "rider": b64(self.rider), "reason": self.reason}

    @classmethod
    def from_json(cls, value: Any) -> Waiver:
        r = Reader(value, "waiver", ("version", "rider", "reason"))
        return cls(r.integer("version", 1, 100_000), r.hash("rider"), r.raw("reason"))


@dataclass(frozen=True)
class ReplicaConsent(StatementBase):
    """A performer's consent to a digital replica of them, its own statement apart from the
    rider, describing the intended use; withdrawn on its own with the item ``digital-replica``.
    Without one in force, no rider may allow a replica of them (rule set 2). IC only."""

    PURPOSE: ClassVar[str] = "closedset/replica-consent/v1"

    use: str  # a reasonably specific description of the intended use

    def __post_init__(self) -> None:
        check_text(self.use, "description of the intended use", LONG_TEXT, empty=False)
        if len(self.use.split()) < 4:
            raise StatementError(
                "Describe the intended use of the replica in a few words at least (which "
                "scenes, which shots, for how long); consent to create is not consent to use."
            )

    def to_json(self) -> dict[str, Any]:
        return {"use": self.use}

    @classmethod
    def from_json(cls, value: Any) -> ReplicaConsent:
        return cls(Reader(value, "replica consent", ("use",)).text("use", LONG_TEXT))


CheckInStatus = Literal["ok", "need-support", "prefer-not-to-say"]
CHECK_IN_STATUSES: tuple[CheckInStatus, ...] = get_args(CheckInStatus)


@dataclass(frozen=True)
class CheckIn(StatementBase):
    """The aftercare check-in after filming; private between the performer and the IC."""

    PURPOSE: ClassVar[str] = "closedset/check-in/v1"

    status: CheckInStatus
    note: str = ""
    wants_contact: bool = False

    def __post_init__(self) -> None:
        check_choice(self.status, "check-in status", CHECK_IN_STATUSES)
        check_text(self.note, "note", LONG_TEXT)
        check_bool(self.wants_contact, "wants-contact flag")

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "note": self.note, "wants_contact": self.wants_contact}

    @classmethod
    def from_json(cls, value: Any) -> CheckIn:
        r = Reader(value, "check-in", ("status", "note", "wants_contact"))
        return cls(r.raw("status"), r.text("note", LONG_TEXT), r.boolean("wants_contact"))


TransgressionKind = Literal["crossing", "violation"]


@dataclass(frozen=True)
class TransgressionReport(StatementBase):
    """What happened, when, who was involved; a crossing or a violation. To the IC, and to the
    production contact only if the reporter chose so and is not anonymous to the production."""

    PURPOSE: ClassVar[str] = "closedset/transgression/v1"

    kind: TransgressionKind
    what: str
    when: int
    involved: tuple[bytes, ...] = ()
    others: str = ""  # people outside the thread, described in words (crew, visitors)
    anonymous_to_production: bool = True
    send_to_production: bool = False
    # Rule set 2: also to the scene's union representative (absent when false). An anonymous
    # report may go to the IC or the union representative only.
    send_to_union_rep: bool = False

    def __post_init__(self) -> None:
        check_choice(self.kind, "report kind", ("crossing", "violation"))
        check_bool(self.send_to_union_rep, "send-to-union-representative flag")
        check_text(self.what, "description of what happened", LONG_TEXT, empty=False)
        check_time(self.when, "time of the incident")
        freeze(self, "involved", tuple(sorted(self.involved)))
        check_unique(self.involved, "people involved")
        for key in self.involved:
            check_key(key, "person involved")
        check_text(self.others, "others involved", LONG_TEXT)
        check_bool(self.anonymous_to_production, "anonymity flag")
        check_bool(self.send_to_production, "send-to-production flag")
        if self.anonymous_to_production and self.send_to_production:
            # The envelope is signed by the reporter, so the production would see who wrote it.
            raise StatementError(
                "An anonymous report cannot go to the production directly, since your signature "
                "names you; send it to the IC, who passes it on without your name."
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "what": self.what,
            "when": self.when,
            "involved": [b64(k) for k in self.involved],
            "others": self.others,
            "anonymous_to_production": self.anonymous_to_production,
            "send_to_production": self.send_to_production,
        } | ({"send_to_union_rep": True} if self.send_to_union_rep else {})

    @classmethod
    def from_json(cls, value: Any) -> TransgressionReport:
        union = (
            ("send_to_union_rep",)
            if isinstance(value, dict) and "send_to_union_rep" in value
            else ()
        )
        r = Reader(value, "transgression report", _REPORT_FIELDS + union)
        return cls(
            kind=r.raw("kind"),
            what=r.text("what", LONG_TEXT),
            when=r.time("when"),
            involved=tuple(decode(k, KEY_SIZE, "person involved") for k in r.items("involved")),
            others=r.text("others", LONG_TEXT),
            anonymous_to_production=r.boolean("anonymous_to_production"),
            send_to_production=r.boolean("send_to_production"),
            send_to_union_rep=r.boolean("send_to_union_rep") if union else False,
        )


_REPORT_FIELDS = (
    "kind",
    "what",
    "when",
    "involved",
    "others",
    "anonymous_to_production",
    "send_to_production",
)


@dataclass(frozen=True)
class RepairPlan(StatementBase):
    """What follows a transgression report (rule set 2): the steps agreed, from the IC or the
    union representative, to the members named (the reporter, usually). ``report`` is the
    report's statement hash."""

    PURPOSE: ClassVar[str] = "closedset/repair-plan/v1"

    report: bytes
    plan: str
    to: tuple[bytes, ...]

    def __post_init__(self) -> None:
        check_hash(self.report, "report hash")
        check_text(self.plan, "repair plan", LONG_TEXT, empty=False)
        freeze(self, "to", tuple(sorted(self.to)))
        check_unique(self.to, "recipients")
        if not self.to:
            raise StatementError("A repair plan names at least one recipient, the reporter.")
        for key in self.to:
            check_key(key, "recipient")

    def to_json(self) -> dict[str, Any]:
        return {"report": b64(self.report), "plan": self.plan, "to": [b64(k) for k in self.to]}

    @classmethod
    def from_json(cls, value: Any) -> RepairPlan:
        r = Reader(value, "repair plan", ("report", "plan", "to"))
        return cls(
            r.hash("report"),
            r.text("plan", LONG_TEXT),
            tuple(decode(k, KEY_SIZE, "recipient") for k in r.items("to")),
        )


@dataclass(frozen=True)
class Message(StatementBase):
    """A free message to the members the sender names (the sender always reads it too)."""

    PURPOSE: ClassVar[str] = "closedset/message/v1"

    to: tuple[bytes, ...]
    text: str

    def __post_init__(self) -> None:
        freeze(self, "to", tuple(sorted(self.to)))
        check_unique(self.to, "recipients")
        if not self.to:
            raise StatementError("A message names at least one recipient.")
        for key in self.to:
            check_key(key, "recipient")
        check_text(self.text, "message", LONG_TEXT, empty=False)

    def to_json(self) -> dict[str, Any]:
        return {"to": [b64(k) for k in self.to], "text": self.text}

    @classmethod
    def from_json(cls, value: Any) -> Message:
        r = Reader(value, "message", ("to", "text"))
        return cls(tuple(decode(k, KEY_SIZE, "recipient") for k in r.items("to")), r.raw("text"))


@dataclass(frozen=True)
class SceneClose(StatementBase):
    """The IC closes the scene; afterwards only withdrawals and reports are still recorded."""

    PURPOSE: ClassVar[str] = "closedset/scene-close/v1"

    reason: str

    def __post_init__(self) -> None:
        check_text(self.reason, "reason", LONG_TEXT, empty=False)

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason}

    @classmethod
    def from_json(cls, value: Any) -> SceneClose:
        return cls(Reader(value, "scene close", ("reason",)).raw("reason"))


Statement = (
    SceneBrief
    | SceneRequests
    | BoundarySheet
    | Rider
    | Acceptance
    | Counter
    | Withdrawal
    | FilmedMark
    | CheckIn
    | TransgressionReport
    | Message
    | SceneClose
    | Waiver
    | ReplicaConsent
    | ReGrant
    | Annex
    | RepairPlan
)

TYPES: dict[str, type[Statement]] = {
    cls.PURPOSE: cls
    for cls in (
        SceneBrief,
        SceneRequests,
        BoundarySheet,
        Rider,
        Acceptance,
        Counter,
        Withdrawal,
        FilmedMark,
        CheckIn,
        TransgressionReport,
        Message,
        SceneClose,
        Waiver,
        ReplicaConsent,
        ReGrant,
        Annex,
        RepairPlan,
    )
}
PURPOSES: tuple[str, ...] = tuple(TYPES)


def parse(purpose: str, plaintext: bytes) -> Statement:
    """Read a statement from an opened envelope's purpose and plaintext, strictly.

    Refuses unknown purposes, non-canonical JSON, missing or extra fields, wrong types,
    unknown vocabulary ids and anything over a limit, with :class:`StatementError`.
    """
    try:
        check_purpose(purpose)
    except EncodingError as exc:
        raise StatementError(str(exc)) from exc
    cls = TYPES.get(purpose)
    if cls is None:
        raise StatementError(f"{purpose} is not a scene statement this version knows.")
    if len(plaintext) > MAX_PLAINTEXT:
        raise StatementError(f"A statement may be at most {MAX_PLAINTEXT} bytes.")
    try:
        value = parse_canonical_json(plaintext, what=purpose)
    except EncodingError as exc:
        raise StatementError(str(exc)) from exc
    statement = cls.from_json(value)
    if statement.to_bytes() != plaintext:
        # Lists in another order, or anything else the constructor normalised.
        raise StatementError(f"The {purpose} statement is not in its canonical form.")
    return statement
