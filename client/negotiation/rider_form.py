"""The rider as a TOML file: the IC's template (from the overlap, or from the version it
amends) and its parser. Performers are named by short labels from the brief; times are TOML
date-times with an offset (``2025-06-01T07:00:00Z``).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from client.negotiation import vocabulary as vocab
from client.negotiation._form import Form, quote
from client.negotiation._strict import b64, decode
from client.negotiation.brief import SceneBrief
from client.negotiation.errors import FormError, Problem, StatementError
from client.negotiation.overlap import Review
from client.negotiation.rider import ANNEX_SALT_SIZE, Annex, PerformerTerms, Rider, RiderAct
from client.negotiation.sheet import ClosedSet, Doubles, Signals
from keys.identity import Fingerprint
from keys.randomness import random_bytes

_TOP = (
    "vocabulary",
    "version",
    "previous",
    "pages",
    "description",
    "call_time",
    "valid_from",
    "valid_until",
    "actual_sex_prohibited",
    "signals",
    "closed_set",
    "performers",
    "acts",
)
_TERMS = (
    "identity",
    "nudity",
    "garments",
    "footage",
    "body_double",
    "digital_double",
    "digital_replica",
    "stop",
    "slow",
    "nonverbal",
    "private",
)
_ACT = ("act", "giver", "receiver", "zones", "intensity", "note", "ask_first", "discussed")


def labels(brief: SceneBrief) -> dict[bytes, str]:
    """Short, unique, TOML-safe labels for the performers, from their names."""
    out: dict[bytes, str] = {}
    for identity in brief.performers:
        base = re.sub(r"[^a-z0-9]+", "-", brief.participant(identity).name.lower()).strip("-")
        label, n = base or "performer", 2
        while label in out.values():
            label, n = f"{base or 'performer'}-{n}", n + 1
        out[identity] = label
    return out


def _time(t: int) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Draft:
    brief: SceneBrief
    version: int
    previous: bytes | None
    description: str
    signals: Signals | None
    closed_set: ClosedSet
    terms: list[PerformerTerms]
    acts: list[tuple[RiderAct, str | None]] = field(default_factory=list)  # (act, why hidden)
    pages: str = ""
    call_time: int = 0
    valid_from: int = 0
    valid_until: int = 0
    notes: list[str] = field(default_factory=list)
    private: set[bytes] = field(default_factory=set)  # performers whose terms are in an annex


def _render(d: _Draft) -> str:
    names = labels(d.brief)
    b = d.brief
    out = [
        f"# Closed Set rider: scene {b.scene}, {b.title!r}. Version {d.version}.",
        "# Every participant accepts this exact version; any change is a new version.",
        "# Actual sex is prohibited in every rider; that line cannot be changed.",
        *[f"# {n}" for n in d.notes],
        "",
        f"vocabulary = {vocab.CURRENT_VERSION}",
        f"version = {d.version}",
        f"previous = {quote('' if d.previous is None else b64(d.previous))}",
        f"pages = {quote(d.pages or b.pages)}",
        "# How the intimacy will appear in the final picture.",
        f"description = {quote(d.description)}",
        f"call_time = {_time(d.call_time or b.call_time)}",
        f"valid_from = {_time(d.valid_from or b.valid_from)}",
        f"valid_until = {_time(d.valid_until or b.valid_until)}",
        "actual_sex_prohibited = true",
        "",
        "[signals]",
        f"stop = {quote(d.signals.stop if d.signals else 'Red')}",
        f"slow = {quote(d.signals.slow if d.signals else 'Yellow')}",
        f"nonverbal = {quote(d.signals.nonverbal if d.signals else '')}",
        "",
        "[closed_set]",
        f"present = {quote(list(d.closed_set.present))}",
        f"monitors = {quote(list(d.closed_set.monitors))}",
        f"stills = {quote(d.closed_set.stills)}",
    ]
    for t in d.terms:
        who = b.participant(t.identity).name
        out += [
            "",
            f"[performers.{names[t.identity]}]",
            f"identity = {quote(b64(t.identity))}  # {who}, {Fingerprint.of(t.identity)}",
            f"nudity = {quote(list(t.nudity))}",
            f"garments = {quote(list(t.garments))}",
            f"footage = {quote(list(t.footage))}",
            f"body_double = {quote(t.doubles.body_double)}",
            f"digital_double = {quote(t.doubles.digital_double)}",
            f"digital_replica = {quote(t.doubles.digital_replica)}",
            "# true: footage and doubles go in an annex sealed to this performer and you only.",
            f"private = {quote(t.identity in d.private)}",
        ]
        if t.signals is not None:
            out += [
                f"# {who}'s own signals, from their sheet: shared so a partner recognises them.",
                f"stop = {quote(t.signals.stop)}",
                f"slow = {quote(t.signals.slow)}",
                f"nonverbal = {quote(t.signals.nonverbal)}",
            ]
    for act, hidden in d.acts:
        lines = [
            "[[acts]]",
            f"act = {quote(act.act)}",
            f"giver = {quote(names[act.giver])}",
            f"receiver = {quote(names[act.receiver])}",
            f"zones = {quote(list(act.zones))}",
        ]
        lines.append(f"intensity = {act.intensity}" if act.intensity else "# intensity = 5")
        lines.append(f"note = {quote(act.note)}" if act.note else '# note = ""')
        if act.ask_first:
            lines.append(
                'ask_first = true  # a performer answered "ask first": ask before each take'
            )
        if act.discussed:
            lines.append(f"discussed = {quote(act.discussed)}")
        elif hidden and hidden.startswith("maybe"):
            lines.append('discussed = ""  # your note of the discussion, shown to the performer')
        if hidden:
            out += ["", f"# {hidden}", *[f"# {line}" for line in lines]]
        else:
            out += ["", *lines]
    return "\n".join(out) + "\n"


def rider_template(review: Review) -> str:
    """Rider version 1 pre-filled from the overlap: agreed acts only; "ask first" acts are
    written commented out with their ask-first marker, to include after asking, and "maybe"
    acts commented out with a ``discussed`` line for the IC's note of the discussion. Requested
    nudity is filled in where the performer said it may be shown."""
    brief, sheets = review.brief, review.sheets
    v = vocab.load()
    acts: list[tuple[RiderAct, str | None]] = []
    for row in review.acts:
        if row.outcome not in ("agreed", "ask-first", "discuss"):
            continue
        ok = tuple(z for z, a in row.zones if a == "ok")
        zones = ok or tuple(z for z, _ in row.zones)
        ask = (
            row.outcome == "ask-first"
            or not ok
            or "ask-first" in (row.giver_answer, row.receiver_answer)
        )
        act = RiderAct(row.act, row.giver, row.receiver, zones, row.intensity, ask_first=ask)
        hidden = {
            "ask-first": "ask first: include only after asking both performers",
            "discuss": "maybe: include only after discussing it; write what was agreed in "
            "discussed, which the performer confirms when accepting",
        }.get(row.outcome)
        acts.append((act, hidden))
    terms = []
    for performer in brief.performers:
        sheet = sheets.get(performer)
        nudity = tuple(
            n.part for n in review.nudity if n.performer == performer and n.requested and n.shown
        )
        terms.append(
            PerformerTerms(performer, nudity)
            if sheet is None
            else PerformerTerms(
                performer, nudity, sheet.garments, sheet.footage, sheet.doubles, sheet.signals
            )
        )
    present = [set(s.closed_set.present) for s in sheets.values()]
    monitors = [set(s.closed_set.monitors) for s in sheets.values()]
    closed = ClosedSet(
        tuple(sorted(set.intersection(*present))) if present else (),
        tuple(sorted(set.intersection(*monitors))) if monitors else (),
        bool(sheets) and all(s.closed_set.stills for s in sheets.values()),
    )
    barrier = {t.identity for t in terms if any(v.garments[g].barrier for g in t.garments)}
    for i, (act, hidden) in enumerate(acts):
        genital = v.genital_contact(v.act(act.act), act.zones)
        if hidden is None and genital and not {act.giver, act.receiver} <= barrier:
            acts[i] = (
                act,
                "genital-area contact: include only with a barrier or modesty "
                "garment in each performer's garments (a minimum no one can waive)",
            )
    # The scene's common words; each performer's own signals are in their terms below.
    words = {(s.signals.stop, s.signals.slow) for s in sheets.values()}
    stop, slow = next(iter(words)) if len(words) == 1 else ("Red", "Yellow")
    signals = Signals("each performer's own, in their terms", stop, slow) if sheets else None
    notes = ["Drafted from the overlap: only acts every performer agreed to in that direction."]
    notes += list(review.notes)
    draft = _Draft(brief, 1, None, "", signals, closed, terms, acts, notes=notes)
    return _render(draft)


def amend_template(
    rider: Rider,
    brief: SceneBrief,
    *,
    within: Rider | None = None,
    notes: tuple[str, ...] = (),
    private: frozenset[bytes] = frozenset(),
) -> str:
    """The next version of ``rider`` to edit: version + 1, its hash as previous, with the terms
    of ``within`` (the rider cut back to each performer's current consent) when given."""
    previous = rider
    rider = within or rider
    draft = _Draft(
        brief,
        previous.version + 1,
        previous.hash,
        rider.description,
        rider.signals,
        rider.closed_set,
        list(rider.performers),
        [(a, None) for a in rider.acts],
        rider.pages,
        rider.call_time,
        rider.valid_from,
        rider.valid_until,
        [
            f"Amends version {previous.version}; after call time a rider may only narrow.",
            *notes,
        ],
        set(private),
    )
    return _render(draft)


def _when(f: Form, key: str) -> int:
    value = f.get(key)
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return int(value.timestamp())
    f.problem((key,), f"{key} must be a date and time with its offset, like 2025-06-01T07:00:00Z.")
    return 0


def parse_rider(
    text: str,
    brief: SceneBrief,
    *,
    filename: str = "rider.toml",
    vocabulary: vocab.Vocabulary | None = None,
) -> Rider:
    """Read a rider file against the brief; raises :class:`FormError` with every line at fault."""
    v = vocabulary or vocab.load()
    f = Form(text, filename)
    f.only((), _TOP, "a field of a rider")
    if f.get("vocabulary") != v.version:
        f.problem(("vocabulary",), f"vocabulary must be {v.version}; start from a new template.")
    if f.get("actual_sex_prohibited") is not True:
        f.problem(
            ("actual_sex_prohibited",), "actual_sex_prohibited must stay true; it cannot be waived."
        )
    version = f.integer(("version",), 1, 100_000)
    if version is None:
        f.problem(("version",), "version must be a whole number, 1 for the first rider.")
    previous: bytes | None = None
    raw_previous = f.text(("previous",))
    if raw_previous:
        try:
            previous = decode(raw_previous, 32, "previous version hash")
        except StatementError:
            f.problem(
                ("previous",),
                "previous must be the previous version's hash as printed "
                "by `closedset rider show`.",
            )
    by_label = {label: key for key, label in labels(brief).items()}
    f.only(("performers",), by_label, "a performer label of this scene")
    terms = []
    for label, identity in by_label.items():
        path = ("performers", label)
        f.only(path, _TERMS, "a field of performer terms")
        if not f.table(*path):
            continue
        if f.get(*path, "identity") != b64(identity):
            f.problem(
                (*path, "identity"),
                f"identity of {label} does not match the scene brief; copy it from the template.",
            )
        doubles = {k: bool(f.flag((*path, k))) for k in _TERMS[4:7]}
        own = None
        if f.get(*path, "private") is not None:
            f.flag((*path, "private"))  # read by parse_rider_with_annexes
        if any(f.get(*path, k) is not None for k in _TERMS[7:10]):
            own_words = [f.text((*path, k), required=True, limit=200) for k in _TERMS[7:10]]
            try:
                own = Signals(nonverbal=own_words[2], stop=own_words[0], slow=own_words[1])
            except StatementError as exc:
                f.problem((*path, "stop"), str(exc))
        terms.append(
            PerformerTerms(
                identity,
                f.ids((*path, "nudity"), v.nudity, "a nudity part"),
                f.ids((*path, "garments"), v.garments, "a modesty garment"),
                f.ids((*path, "footage"), v.uses, "a footage use"),
                Doubles(**doubles),
                own,
            )
        )
    acts = []
    raw_acts = f.get("acts") or []
    for i, _ in enumerate(raw_acts if isinstance(raw_acts, list) else []):
        path = ("acts", str(i))
        f.only(path, _ACT, "a field of an act")
        act = f.get(*path, "act")
        if act not in v.acts:
            f.problem(
                (*path, "act"), f"{quote(act)} is not an act; see `closedset sheet template`."
            )
        people = []
        for side in ("giver", "receiver"):
            label = f.get(*path, side)
            if label not in by_label:
                f.problem(
                    (*path, side),
                    f"{quote(label)} is not a performer; use {' or '.join(by_label)}.",
                )
            people.append(by_label.get(label, b""))
        zones = f.ids((*path, "zones"), v.zones, "a body zone")
        intensity = f.integer((*path, "intensity"), 1, 10)
        note = f.text((*path, "note"), limit=400) or None
        ask_first = f.get(*path, "ask_first") is not None and bool(f.flag((*path, "ask_first")))
        discussed = f.text((*path, "discussed"), limit=400).strip() or None
        if act in v.acts and all(people):
            if people[0] == people[1]:
                f.problem((*path, "receiver"), "giver and receiver must be two performers.")
            else:
                acts.append(
                    RiderAct(
                        str(act), people[0], people[1], zones, intensity, note,
                        ask_first=ask_first, discussed=discussed,
                    )
                )  # fmt: skip
    signals = [f.text(("signals", k), required=True, limit=200) for k in ("stop", "slow")]
    nonverbal = f.text(("signals", "nonverbal"), required=True, limit=200)
    stills = bool(f.flag(("closed_set", "stills")))
    closed = ClosedSet(
        f.strings(("closed_set", "present")), f.strings(("closed_set", "monitors")), stills
    )
    fields: dict[str, Any] = {k: _when(f, k) for k in ("call_time", "valid_from", "valid_until")}
    description = f.text(("description",), required=True)
    pages = f.text(("pages",), required=True, limit=64)
    f.finish()
    try:
        return Rider(
            version=version or 1,
            previous=previous,
            pages=pages,
            description=description,
            acts=tuple(acts),
            performers=tuple(terms),
            closed_set=closed,
            signals=Signals(nonverbal=nonverbal, stop=signals[0], slow=signals[1]),
            **fields,
        )
    except StatementError as exc:
        raise FormError(filename, [Problem(0, str(exc))]) from exc


def parse_rider_with_annexes(
    text: str,
    brief: SceneBrief,
    *,
    filename: str = "rider.toml",
    salt: Callable[[int], bytes] = random_bytes,
) -> tuple[Rider, list[Annex]]:
    """A rider file and the private annexes it asks for (``private = true``): each such
    performer's footage and doubles move into an annex with a fresh 32-byte salt, and their
    terms in the shared rider name the annex's hash. Send the annexes first, then the rider."""
    rider = parse_rider(text, brief, filename=filename)
    data = Form(text, filename).data.get("performers", {})
    by_label = {label: key for key, label in labels(brief).items()}
    private = {by_label[k] for k, v in data.items() if isinstance(v, dict) and v.get("private")}
    annexes, terms = [], []
    for t in rider.performers:
        if t.identity not in private:
            terms.append(t)
            continue
        annex = Annex(rider.version, t.identity, salt(ANNEX_SALT_SIZE), t.footage, t.doubles)
        annexes.append(annex)
        terms.append(replace(t, footage=(), doubles=Doubles(), annex=annex.hash))
    return replace(rider, performers=tuple(terms)), annexes
