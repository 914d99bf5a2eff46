"""Errors the negotiation domain raises, each one sentence a person can act on.

ClientError                  (client.errors) anything the client refuses
+-- NegotiationError         anything this package refuses
    +-- VocabularyError      the shipped vocabulary file is broken (a packaging bug)
    +-- StatementError       a statement's plaintext is not in its one canonical form
    +-- SceneRuleError       a statement the scene's rules do not allow now
    +-- FormError            a sheet or rider file has mistakes; lists each with its line
"""

from __future__ import annotations

from dataclasses import dataclass

from client.errors import ClientError


class NegotiationError(ClientError):
    """Base class: the negotiation domain refused something."""


class VocabularyError(NegotiationError):
    """The vocabulary data does not validate; nothing can be checked against it."""


class StatementError(NegotiationError):
    """A statement is malformed: wrong fields, types, vocabulary ids or limits."""


class SceneRuleError(NegotiationError):
    """The scene's rules refuse this statement now (wrong sender, wrong state, stale version).

    ``code`` names the rule for programs (``superseded``, ``widening-after-call-time``, ...);
    docs/negotiation.md lists them.
    """

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Problem:
    """One mistake in a form: the 1-based line it is on (0 when it is about the whole file)."""

    line: int
    message: str

    def render(self, filename: str) -> str:
        where = f"{filename} line {self.line}" if self.line else filename
        return f"{where}: {self.message}"


class FormError(NegotiationError):
    """A sheet or rider file has mistakes; ``str()`` lists every one, one per line."""

    def __init__(self, filename: str, problems: list[Problem]) -> None:
        self.filename = filename
        self.problems = tuple(sorted(problems, key=lambda p: p.line))
        super().__init__("\n".join(p.render(filename) for p in self.problems))
