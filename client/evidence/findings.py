"""What a verification run collects as it goes: failures, loud warnings and the hash trace.

Kept apart from the checks so every check module appends to one place and the report reads
one place; nothing here decides anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from client.evidence.failures import Failure


@dataclass
class Findings:
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)

    def fail(self, code: str, sentence: str) -> None:
        failure = Failure(code, sentence)
        if failure not in self.failures:
            self.failures.append(failure)
            self.trace.append(f"FAILED [{code}] {sentence}")

    def warn(self, sentence: str) -> None:
        self.warnings.append(sentence)

    def step(self, line: str) -> None:
        self.trace.append(line)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.failures]


def short(digest: bytes) -> str:
    """A hash as people quote it in a failure sentence: the first 16 hex digits."""
    return digest.hex()[:16]
