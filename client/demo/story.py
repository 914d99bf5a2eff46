"""The demo's narration: each step runs, is checked, and is printed as it happens, with the
commands the people typed and who can see what. The demo exits 0 only if every step held."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from client.cli.context import Context
from client.errors import ClientError
from keys.errors import KeysError


@dataclass
class Step:
    title: str
    detail: str
    ok: bool
    commands: list[str] = field(default_factory=list)


class Story:
    """Collects steps, prints each as it happens, and remembers whether all held."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.steps: list[Step] = []
        self._marks: list[list[str]] = []

    def step(self, title: str, check: Callable[[], str], *transcripts: list[str]) -> bool:
        """Run ``check``; the commands it added to the ``transcripts`` are shown with it."""
        if not self.passed:
            return False  # a story stops at its first failed step: later steps build on it
        starts = [len(t) for t in transcripts]
        try:
            detail, ok = check(), True
        except (ClientError, KeysError, AssertionError) as exc:
            detail, ok = f"FAILED: {exc}", False
        commands = [c for t, n in zip(transcripts, starts, strict=True) for c in t[n:]]
        self.steps.append(Step(title, detail, ok, commands))
        if not self.ctx.json:
            mark = "ok " if ok else "!! "
            self.ctx.stdout.write(f"{mark} {len(self.steps):2d}. {title}\n")
            for line in commands:
                self.ctx.stdout.write(f"        {line}\n")
            for line in detail.splitlines():
                self.ctx.stdout.write(f"        {line}\n")
            self.ctx.stdout.flush()
        return ok

    @property
    def passed(self) -> bool:
        return all(s.ok for s in self.steps)
