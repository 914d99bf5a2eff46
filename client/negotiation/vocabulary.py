"""The versioned catalogue of acts, body zones, nudity parts, garments and footage uses.

Shipped as ``data/vocabulary-v<N>.json``, loaded once, validated, and looked up by id. Sheets
and riders name their vocabulary version, so a later catalogue never changes an old answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final, Literal, get_args

from client.negotiation.errors import VocabularyError

Answer = Literal["yes", "ask-first", "maybe", "no"]
ZoneAnswer = Literal["ok", "ask-first", "never"]
Direction = Literal["giving", "receiving", "mutual"]
ANSWERS: Final[tuple[Answer, ...]] = get_args(Answer)
ZONE_ANSWERS: Final[tuple[ZoneAnswer, ...]] = get_args(ZoneAnswer)
CURRENT_VERSION: Final = 1
_ID_RE = re.compile(r"\A[a-z][a-z0-9]*(?:-[a-z0-9]+)*\Z")


@dataclass(frozen=True)
class Term:
    """A zone, nudity part, garment, footage use or answer: an id, a name and a definition.

    The properties the consent rules read (so a later vocabulary keeps the rules): a zone is
    ``genital``; a nudity part ``covers`` zones; a garment is a ``barrier`` at the genital area.
    """

    id: str
    name: str
    definition: str
    genital: bool = False
    covers: tuple[str, ...] = ()
    barrier: bool = False


@dataclass(frozen=True)
class Act:
    """An activity in clinical words. ``directional`` acts are answered giving and receiving."""

    id: str
    name: str
    definition: str
    directional: bool
    zones: tuple[str, ...]
    simulated_sex: bool = False  # simulated sexual activity (never for a minor)
    group: str = ""  # a heading in plain words the forms list the act under; no rule reads it

    @property
    def directions(self) -> tuple[Direction, ...]:
        return ("giving", "receiving") if self.directional else ("mutual",)


@dataclass(frozen=True)
class Vocabulary:
    """One version of the catalogue; every id is unique within its kind."""

    version: int
    answers: Mapping[str, Term]
    zone_answers: Mapping[str, Term]
    acts: Mapping[str, Act]
    zones: Mapping[str, Term]
    nudity: Mapping[str, Term]
    garments: Mapping[str, Term]
    uses: Mapping[str, Term]

    def genital_contact(self, act: Act, zones: tuple[str, ...] = ()) -> bool:
        """Does the act (on ``zones``, default all of its zones) touch a genital zone?"""
        return any(self.zones[z].genital for z in zones or act.zones)

    def act_groups(self) -> list[tuple[str, list[Act]]]:
        """The acts under their groups' plain-words headings, in the catalogue's order (a group
        where it first appears); acts without a group come under an empty heading."""
        groups: dict[str, list[Act]] = {}
        for act in self.acts.values():
            groups.setdefault(act.group, []).append(act)
        return list(groups.items())

    def act(self, act_id: str) -> Act:
        try:
            return self.acts[act_id]
        except KeyError:
            raise VocabularyError(
                f"{act_id!r} is not an act in vocabulary v{self.version}."
            ) from None


_PROPERTIES = {"zones": "genital", "nudity parts": "covers", "garments": "barrier"}


def _terms(raw: Any, kind: str, ids: tuple[str, ...] | None = None) -> dict[str, Term]:
    if not isinstance(raw, list) or not raw:
        raise VocabularyError(f"The vocabulary's {kind} must be a non-empty list.")
    out: dict[str, Term] = {}
    prop = _PROPERTIES.get(kind)
    for item in raw:
        allowed = {"id", "name", "definition"} | ({prop} if prop else set())
        if not isinstance(item, dict) or not {"id", "name"} <= set(item) <= allowed:
            raise VocabularyError(f"Every vocabulary {kind} entry needs an id and a name.")
        term_id, name = item["id"], item["name"]
        definition = item.get("definition", name)
        if not all(isinstance(v, str) and v for v in (term_id, name, definition)):
            raise VocabularyError(f"The vocabulary {kind} entry {term_id!r} has an empty field.")
        assert isinstance(definition, str)
        if not _ID_RE.match(term_id) or term_id in out:
            raise VocabularyError(f"{term_id!r} is not a valid, unique {kind} id.")
        extra: dict[str, Any] = {}
        if prop == "covers":
            covers = item.get("covers", [])
            if not isinstance(covers, list) or not all(isinstance(z, str) for z in covers):
                raise VocabularyError(f"The nudity part {term_id!r} covers a list of zones.")
            extra["covers"] = tuple(covers)
        elif prop is not None:
            if not isinstance(item.get(prop, False), bool):
                raise VocabularyError(f"The {kind} entry {term_id!r} has a non-boolean {prop}.")
            extra[prop] = item.get(prop, False)
        out[term_id] = Term(term_id, name, definition, **extra)
    if ids is not None and tuple(out) != ids:
        raise VocabularyError(f"The vocabulary's {kind} must be exactly {', '.join(ids)}.")
    return out


def from_json(value: Any) -> Vocabulary:
    """Validate a parsed vocabulary document; raises :class:`VocabularyError`."""
    fields = {"version", "answers", "zone_answers", "acts", "zones", "nudity", "garments", "uses"}
    if not isinstance(value, dict) or set(value) != fields:
        raise VocabularyError(f"A vocabulary must have exactly the fields {sorted(fields)}.")
    version = value["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise VocabularyError("The vocabulary version must be a positive whole number.")
    zones = _terms(value["zones"], "zones")
    acts: dict[str, Act] = {}
    for item in value["acts"] if isinstance(value["acts"], list) else []:
        fields = {"id", "name", "definition", "directional", "zones"}
        optional = {"simulated_sex", "group"}
        if not isinstance(item, dict) or not fields <= set(item) <= fields | optional:
            raise VocabularyError("Every act needs id, name, definition, directional and zones.")
        if not isinstance(item.get("simulated_sex", False), bool):
            raise VocabularyError(f"The act {item['id']!r} has a non-boolean simulated_sex.")
        group = item.get("group", "")
        if not isinstance(group, str) or ("group" in item and not group.strip()):
            raise VocabularyError(f"The act {item['id']!r} has an empty or non-text group.")
        term = _terms([{k: item[k] for k in ("id", "name", "definition")}], "acts")
        act_zones = item["zones"]
        if not isinstance(item["directional"], bool) or not isinstance(act_zones, list):
            raise VocabularyError(f"The act {item['id']!r} has a malformed direction or zones.")
        if not act_zones or any(z not in zones for z in act_zones) or item["id"] in acts:
            raise VocabularyError(f"The act {item['id']!r} names an unknown zone or is repeated.")
        t = term[item["id"]]
        acts[t.id] = Act(
            t.id, t.name, t.definition, item["directional"], tuple(act_zones),
            item.get("simulated_sex", False), group,
        )  # fmt: skip
    if not acts:
        raise VocabularyError("The vocabulary must list at least one act.")
    nudity = _terms(value["nudity"], "nudity parts")
    if any(z not in zones for part in nudity.values() for z in part.covers):
        raise VocabularyError("A nudity part covers a zone the vocabulary does not list.")
    return Vocabulary(
        version=version,
        answers=_terms(value["answers"], "answers", ANSWERS),
        zone_answers=_terms(value["zone_answers"], "zone answers", ZONE_ANSWERS),
        acts=acts,
        zones=zones,
        nudity=nudity,
        garments=_terms(value["garments"], "garments"),
        uses=_terms(value["uses"], "footage uses"),
    )


@cache
def load(version: int = CURRENT_VERSION) -> Vocabulary:
    """The shipped vocabulary of this version, read and validated once per process."""
    name = f"vocabulary-v{version}.json"
    try:
        text = resources.files("client.negotiation").joinpath("data", name).read_text("utf-8")
    except FileNotFoundError:
        raise VocabularyError(
            f"Vocabulary v{version} is not known to this version of Closed Set; update it."
        ) from None
    vocabulary = from_json(json.loads(text))
    if vocabulary.version != version:
        raise VocabularyError(f"{name} says it is version {vocabulary.version}.")
    return vocabulary
