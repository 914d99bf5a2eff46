"""Small builders for scene stories: people, a brief, sheets, riders and a log that folds."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from client.negotiation import vocabulary as vocab
from client.negotiation.brief import Participant, SceneBrief
from client.negotiation.rider import PerformerTerms, Rider, RiderAct
from client.negotiation.scene import Event, SceneState, fold, step
from client.negotiation.sheet import ActAnswer, BoundarySheet, Signals, ZoneEntry
from client.negotiation.statements import Acceptance, Statement

IC, ANA, BEN, CLEO, OUTSIDER, PRODUCER, UNION = (bytes([i]) * 32 for i in range(1, 8))
NAMES = {IC: "Irene (IC)", ANA: "Ana", BEN: "Ben", CLEO: "Cleo", OUTSIDER: "Oscar", UNION: "Uma"}
ROLES = {
    IC: "ic", ANA: "performer", BEN: "performer", CLEO: "performer", OUTSIDER: "performer",
    UNION: "union-rep", bytes([9]) * 32: "guardian",
}  # fmt: skip
HOUR = 3600
DAY = 24 * HOUR
CALL = 1_800_000_000  # 2027-01-15
V = vocab.load()


def brief(
    performers: Iterable[bytes] = (ANA, BEN),
    *,
    pairs: tuple[tuple[bytes, bytes], ...] = (),
    contact: bool = False,
    call: int = CALL,
    union: bool = True,
) -> SceneBrief:
    """The scene; with a union representative (Uma) unless ``union`` is false."""
    people = [Participant(IC, "ic", NAMES[IC])]
    if union:
        people.append(Participant(UNION, "union-rep", NAMES[UNION]))
    people += [Participant(p, "performer", NAMES[p]) for p in performers]
    return SceneBrief(
        title="The Lighthouse",
        scene="42A",
        pages="31-33",
        call_time=call,
        valid_from=call - 30 * DAY,
        valid_until=call + 30 * DAY,
        participants=tuple(people),
        pairs=pairs,
        production_contact=Participant(PRODUCER, "performer", "Pat (production)")
        if contact
        else None,
    )


def sheet(
    *,
    yes: Iterable[str] = (),
    ask: Iterable[str] = (),
    maybe: Iterable[str] = (),
    zones: dict[str, str] | None = None,
    nudity: Iterable[str] = (),
    intensity: dict[str, int] | None = None,
    notes: str = "",
    stop: str = "Red",
) -> BoundarySheet:
    """Everything "no" unless named; an item is ``act`` (every direction) or ``act:direction``."""
    answers = {}
    for answer, items in (("yes", yes), ("ask-first", ask), ("maybe", maybe)):
        for item in items:
            answers[item] = answer
    acts = []
    for act in V.acts.values():
        for d in act.directions:
            answer = answers.get(f"{act.id}:{d}", answers.get(act.id, "no"))
            limit = (intensity or {}).get(f"{act.id}:{d}", (intensity or {}).get(act.id))
            acts.append(ActAnswer(act.id, d, answer, limit))  # type: ignore[arg-type]
    zone_answers = {z: "ok" for z in V.zones} | (zones or {})
    return BoundarySheet(
        acts=tuple(acts),
        zones=tuple(ZoneEntry(z, a) for z, a in zone_answers.items()),  # type: ignore[arg-type]
        nudity_shown=tuple(nudity),
        signals=Signals(nonverbal="two taps", stop=stop),
        name="Ana",
        pronouns="she/her",
        notes=notes,
    )


def rider(
    version: int = 1,
    previous: Rider | None = None,
    *,
    acts: Iterable[tuple[str, bytes, bytes]] = (("closed-mouth-kissing-lips", ANA, BEN),),
    zones: tuple[str, ...] = ("lips",),
    intensity: int | None = 5,
    nudity: dict[bytes, tuple[str, ...]] | None = None,
    performers: Iterable[bytes] = (ANA, BEN),
    call: int = CALL,
    valid_until: int | None = None,
) -> Rider:
    return Rider(
        version=version,
        previous=None if previous is None else previous.hash,
        pages="31-33",
        description="A first kiss at the window, framed from the shoulders up.",
        call_time=call,
        valid_from=call - 30 * DAY,
        valid_until=call + 30 * DAY if valid_until is None else valid_until,
        acts=tuple(RiderAct(a, g, r, zones, intensity) for a, g, r in acts),
        performers=tuple(
            PerformerTerms(p, (nudity or {}).get(p, ()), signals=Signals(nonverbal="two taps"))
            for p in performers
        ),
        signals=Signals(nonverbal="two taps"),
    )


def accept(r: Rider) -> Acceptance:
    return Acceptance(r.version, r.hash)


@dataclass
class Log:
    """A scene thread being written: each ``add`` appends an event at the log's clock."""

    now: int = CALL - 10 * DAY
    events: list[Event] = field(default_factory=list)

    def event(self, sender: bytes, statement: Statement, at: int | None = None) -> Event:
        index = len(self.events)
        self.now = self.now + 60 if at is None else at
        envelope = hashlib.sha256(index.to_bytes(8, "big") + statement.to_bytes()).digest()
        role = ROLES.get(sender, "performer")
        return Event(sender, role, statement, envelope, self.now, index)  # type: ignore[arg-type]

    def add(self, sender: bytes, statement: Statement, at: int | None = None) -> Event:
        event = self.event(sender, statement, at)
        self.events.append(event)
        return event

    def state(self) -> SceneState:
        return fold(self.events)

    def strict(self) -> SceneState:
        return fold(self.events, strict=True)

    def step(self, sender: bytes, statement: Statement, at: int | None = None) -> SceneState:
        """Apply one more statement with the rules, raising if refused (as a sender would)."""
        state = self.strict()
        event = self.event(sender, statement, at)
        result = step(state, event)
        self.events.append(event)
        return result


def open_sheet(**changes: object) -> BoundarySheet:
    """A sheet that says yes to every act and shows every part: stories about other rules."""
    yes = changes.pop("yes", list(V.acts))
    nudity = changes.pop("nudity", list(V.nudity))
    return sheet(yes=yes, nudity=nudity, **changes)  # type: ignore[arg-type]


def agreed_log(
    r: Rider | None = None,
    performers: Iterable[bytes] = (ANA, BEN),
    sheets: dict[bytes, BoundarySheet] | None = None,
) -> Log:
    """A scene whose rider v1 every performer accepted, ten days before call; each sheet
    says yes to everything unless ``sheets`` gives one."""
    performers = tuple(performers)
    r = r or rider(performers=performers)
    log = Log()
    log.add(IC, brief(performers))
    for p in performers:
        log.add(p, (sheets or {}).get(p) or open_sheet())
    log.add(IC, r)
    for p in performers:
        log.add(p, accept(r))
    return log
