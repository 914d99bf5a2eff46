"""What the scene fold accumulates: events in, records of each statement, and the derived views
(current version, who accepted, open withdrawals) that the rules and the timing flags read.
The rules themselves are in scene.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Generic, TypeVar

from client.negotiation import consent
from client.negotiation.brief import SceneBrief, SceneRequests, SceneRole
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
)
from keys.identity import Role

T = TypeVar("T")


class Phase(StrEnum):
    # Nothing yet: the first statement must be the IC's scene brief.
    EMPTY = "empty"
    # The brief is out; boundary sheets are coming in. A performer's own view stays here until
    # a rider arrives, because a partner's sheet never reaches them.
    DRAFT = "draft"
    # Every performer's sheet is in (seen by the IC only): the IC can review and draft a rider.
    SHEETS_IN = "sheets-in"
    # Rider version N is out and no version was agreed before; waiting for acceptances.
    PROPOSED = "proposed"
    # Every performer accepted the same current version: these terms hold.
    AGREED = "agreed"
    # A newer version supersedes an agreed one; every acceptance is needed again.
    AMENDED = "amended"
    # A performer withdrew the whole rider or items of it; nothing holds until a new version
    # is accepted. The withdrawn items are recorded.
    WITHDRAWN = "withdrawn"
    # The current rider's consent date range ended before filming; it must be renewed.
    EXPIRED = "expired"
    # The IC marked the agreed rider (or acts of it) filmed. Later withdrawals are still
    # recorded, marked "after filming"; footage already shot stays with the production.
    FILMED = "filmed"
    # The IC closed the scene; only withdrawals and transgression reports are still recorded.
    CLOSED = "closed"


@dataclass(frozen=True)
class Event:
    """One opened envelope of the scene thread, as the log ordered it."""

    sender: bytes  # identity key that signed the envelope
    role: Role | SceneRole  # the role the brief gives the sender, else their identity record's
    statement: Statement
    envelope: bytes  # envelope hash
    log_time: int  # relay receipt time, Unix seconds
    log_index: int


@dataclass(frozen=True)
class Sent(Generic[T]):
    """A statement the fold accepted, with who sent it and when the log received it."""

    statement: T
    sender: bytes
    at: int
    index: int
    envelope: bytes


@dataclass(frozen=True)
class Version:
    """One rider version as proposed, and when (if ever) every performer had accepted it."""

    rider: Rider
    hash: bytes
    proposed: Sent[Rider]
    agreed_at: int | None = None


@dataclass(frozen=True)
class WithdrawalRecord:
    """A withdrawal, always recorded; ``version`` is the rider version current at the time.

    ``by_sheet``: a later boundary sheet narrowed what the rider held, which counts as a
    withdrawal of those items (``sent`` is then the sheet). ``blocks``: the rider current at
    the time held something withdrawn, so it needs a new version before filming.
    """

    sent: Sent[Any]  # Sent[Withdrawal], or Sent[BoundarySheet] when by_sheet
    version: int | None
    after_filming: bool
    items: tuple[str, ...] = ()
    whole: bool = False
    reason: str | None = None
    by_sheet: bool = False
    blocks: bool = True


@dataclass(frozen=True)
class Refusal:
    """A statement in the log that the rules refused; kept so the IC can see and follow up."""

    event: Event
    code: str
    reason: str


@dataclass(frozen=True)
class Step:
    """One transition taken: at which log index, on which input, from which phase to which."""

    index: int
    input: str
    before: Phase
    after: Phase


@dataclass(frozen=True)
class SceneState:
    """The scene as one viewer's statements make it; every field is a pure fold result."""

    phase: Phase = Phase.EMPTY
    brief: SceneBrief | None = None
    requests: Sent[SceneRequests] | None = None
    sheets: tuple[Sent[BoundarySheet], ...] = ()  # the latest sheet of each performer
    versions: tuple[Version, ...] = ()
    acceptances: tuple[Sent[Acceptance], ...] = ()
    counters: tuple[Sent[Counter], ...] = ()
    withdrawals: tuple[WithdrawalRecord, ...] = ()
    filmed: tuple[Sent[FilmedMark], ...] = ()
    check_ins: tuple[Sent[CheckIn], ...] = ()
    reports: tuple[Sent[TransgressionReport], ...] = ()
    messages: tuple[Sent[Message], ...] = ()
    waivers: tuple[Sent[Waiver], ...] = ()
    replica_consents: tuple[Sent[ReplicaConsent], ...] = ()
    regrants: tuple[Sent[ReGrant], ...] = ()
    annexes: tuple[Sent[Annex], ...] = ()  # private terms this view can read
    repair_plans: tuple[Sent[RepairPlan], ...] = ()
    closed: Sent[SceneClose] | None = None
    refused: tuple[Refusal, ...] = ()
    history: tuple[Step, ...] = ()
    seen: frozenset[bytes] = frozenset()  # envelope hashes folded, so a re-delivery is a no-op
    # Whose view this is, when the fold was told (the IC's view holds every sheet).
    viewer: bytes | None = None

    @property
    def rules(self) -> int:
        return 1 if self.brief is None else self.brief.rules

    @property
    def performers(self) -> tuple[bytes, ...]:
        return () if self.brief is None else self.brief.performers

    @property
    def current(self) -> Version | None:
        return self.versions[-1] if self.versions else None

    @property
    def agreed(self) -> Version | None:
        """The latest version that every performer accepted (it may since be superseded)."""
        return next((v for v in reversed(self.versions) if v.agreed_at is not None), None)

    @property
    def call_time(self) -> int | None:
        if self.current is not None:
            return self.current.rider.call_time
        return None if self.brief is None else self.brief.call_time

    def sheet(self, performer: bytes) -> BoundarySheet | None:
        return next((s.statement for s in self.sheets if s.sender == performer), None)

    def accepted(self, version: int) -> frozenset[bytes]:
        return frozenset(a.sender for a in self.acceptances if a.statement.version == version)

    @property
    def waiting_for(self) -> tuple[bytes, ...]:
        """Performers (and a minor's guardians) who have not accepted the current version."""
        if self.current is None or self.brief is None:
            return ()
        done = self.accepted(self.current.rider.version)
        signers = (*self.performers, *self.brief.guardians)
        return tuple(p for p in signers if p not in done)

    @property
    def open_withdrawals(self) -> tuple[WithdrawalRecord, ...]:
        """Withdrawals of something the current rider holds that no newer version answered."""
        since = -1 if self.current is None else self.current.proposed.index
        return tuple(w for w in self.withdrawals if w.sent.index > since and w.blocks)

    def withdrawn(self, performer: bytes) -> frozenset[str]:
        """Items ``performer`` withdrew since their latest sheet: they stay withdrawn until a
        newer sheet answers them again."""
        sheet = next((s for s in self.sheets if s.sender == performer), None)
        since = -1 if sheet is None else sheet.index
        replica = self.replica(performer)
        # A minor's guardian may withdraw for them.
        speakers = {performer, *(() if self.brief is None else self.brief.guardians_of(performer))}

        def regranted(item: str, after: int) -> bool:
            return any(
                g.sender in speakers and g.index > after and item in g.statement.items
                for g in self.regrants
            )

        return frozenset(
            item
            for w in self.withdrawals
            if w.sent.sender in speakers and w.sent.index > since and not w.by_sheet
            for item in w.items
            # A newer replica consent re-grants the replica, as a newer sheet does the rest;
            # an explicit re-grant names the items.
            if not (item == "digital-replica" and replica is not None)
            and not regranted(item, w.sent.index)
        )

    def replica(self, performer: bytes) -> Sent[ReplicaConsent] | None:
        """The performer's replica consent in force: their latest, unless withdrawn since."""
        latest = next((r for r in reversed(self.replica_consents) if r.sender == performer), None)
        if latest is None:
            return None
        for w in self.withdrawals:
            gone = w.whole or "digital-replica" in w.items
            if w.sent.sender == performer and w.sent.index > latest.index and gone:
                return None
        return latest

    def annex(self, digest: bytes) -> Annex | None:
        return next((a.statement for a in self.annexes if a.statement.hash == digest), None)

    def whole(self, rider: Rider) -> Rider:
        """``rider`` with each private annex this view holds merged into its performer's terms."""
        terms = []
        for t in rider.performers:
            found = None if t.annex is None else self.annex(t.annex)
            terms.append(t if found is None else found.merged(t))
        return replace(rider, performers=tuple(terms))

    def consents(self) -> dict[bytes, consent.Consent]:
        """What this view knows of each performer's consent (sheet, narrowed by withdrawals)."""
        sheets = {s.sender: s.statement for s in self.sheets}
        withdrawn = {p: self.withdrawn(p) for p in self.performers}
        replicas = {p: r.statement.use for p in self.performers if (r := self.replica(p))}
        return consent.consents_of(self.performers, sheets, withdrawn, replicas)

    @property
    def filmed_at(self) -> int | None:
        """Log time of the latest filmed mark: the end of the shoot, for the check-in."""
        return self.filmed[-1].at if self.filmed else None
