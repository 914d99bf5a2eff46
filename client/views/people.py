"""Names for identity keys in a scene, and finding a participant from what a person typed."""

from __future__ import annotations

from collections.abc import Iterable

from client.errors import UsageError
from client.negotiation.brief import Participant, SceneBrief
from keys.identity import Fingerprint


class Names:
    """Identity key -> display name, from the scene brief (the names the IC admitted)."""

    def __init__(self, brief: SceneBrief | None, me: bytes | None = None) -> None:
        self.brief = brief
        self.me = me
        self._names = {} if brief is None else {p.identity: p.name for p in brief.participants}

    def __call__(self, identity: bytes) -> str:
        name = self._names.get(identity)
        if name is None:
            name = f"someone ({Fingerprint.of(identity).grouped()[:9]})"
        return f"{name} (you)" if identity == self.me else name

    def many(self, identities: Iterable[bytes]) -> list[str]:
        return [self(i) for i in identities]


def find_participant(brief: SceneBrief, query: str, role: str | None = None) -> Participant:
    """A participant by name (case-insensitive, unique start) or by fingerprint."""
    people = [p for p in brief.participants if role is None or p.role == role]
    compact = "".join(query.split()).upper()
    for p in people:
        if Fingerprint.of(p.identity).compact == compact:
            return p
    wanted = query.strip().lower()
    exact = [p for p in people if p.name.lower() == wanted]
    starts = exact or [p for p in people if p.name.lower().startswith(wanted)]
    if len(starts) == 1:
        return starts[0]
    known = ", ".join(p.name for p in people) or "nobody"
    what = "matches several people" if starts else "is not in this scene"
    raise UsageError(f"{query!r} {what}; the scene's {role or 'participant'}s are: {known}.")
