"""What every statement type shares: its purpose tag, canonical bytes and their hash."""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from keys.encoding import canonical_json


class StatementBase:
    """A statement's plaintext is ``canonical_json(to_json())``; its tag is the envelope purpose."""

    PURPOSE: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """The canonical plaintext (RFC 8785) sealed into the envelope."""
        return canonical_json(self.to_json())

    @property
    def hash(self) -> bytes:
        """SHA-256 of the canonical plaintext; a rider's hash is what acceptances name."""
        return hashlib.sha256(self.to_bytes()).digest()


def freeze(obj: object, name: str, value: object) -> None:
    """Normalise a field of a frozen dataclass in ``__post_init__`` (sorting, tuples)."""
    object.__setattr__(obj, name, value)
