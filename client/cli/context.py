"""What every command gets: where the profile lives, how to ask for the passphrase, output.

Commands take a :class:`Context` instead of reading globals, so tests (and the demo)
can run several people's commands in one process.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from client.errors import UsageError
from client.profile import Profile, resolve_home

PASSPHRASE_ENV = "CLOSEDSET_PASSPHRASE"


@dataclass
class Context:
    """One command invocation's surroundings."""

    home: Path
    environ: Mapping[str, str]
    json: bool = False
    verbose: bool = False
    passphrase_file: str | None = None
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], float] = time.time
    unreadable: list[dict[str, Any]] = field(default_factory=list)
    """Envelopes this command had to skip (``client.negotiate.Unreadable`` as JSON)."""

    @classmethod
    def from_args(cls, args: argparse.Namespace, environ: Mapping[str, str]) -> Context:
        return cls(
            home=resolve_home(getattr(args, "home", None), environ),
            environ=environ,
            json=getattr(args, "json", False),
            verbose=getattr(args, "verbose", False),
            passphrase_file=getattr(args, "passphrase_file", None),
        )

    def now(self) -> int:
        return int(self.clock())

    # --- passphrase ------------------------------------------------------------------------

    def passphrase(self, *, confirm: bool = False, prompt: str = "Passphrase: ") -> bytes:
        """From ``--passphrase-file``, then ``CLOSEDSET_PASSPHRASE``, then a terminal prompt."""
        if self.passphrase_file:
            try:
                text = Path(self.passphrase_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise UsageError(
                    f"Cannot read the passphrase file {self.passphrase_file}: {exc.strerror}."
                ) from exc
            return _checked(text.rstrip("\r\n"))
        if self.environ.get(PASSPHRASE_ENV):
            return _checked(self.environ[PASSPHRASE_ENV])
        if not (self.stdin.isatty() and os.isatty(0)):
            raise UsageError(
                f"A passphrase is needed: set {PASSPHRASE_ENV} or pass --passphrase-file FILE."
            )
        first = getpass.getpass(prompt)
        if confirm and getpass.getpass("Repeat the passphrase: ") != first:
            raise UsageError("The two passphrases differ; nothing was changed.")
        return _checked(first)

    def unlocked_profile(self) -> Profile:
        profile = Profile.load(self.home)
        return profile.unlock(self.passphrase())

    def read_text(self, path: str) -> str:
        """A file the person named, or standard input for ``-``; one sentence if unreadable."""
        if path == "-":
            return self.stdin.read()
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise UsageError(f"Cannot read {path}: {reason}.") from exc

    # --- output ----------------------------------------------------------------------------

    def emit(self, data: Any, human: str | Callable[[], str]) -> None:
        """Print ``data`` as JSON with ``--json``, else the human rendering.

        With ``--json``, an object gains ``unreadable`` when the command skipped envelopes
        (a list becomes ``{"items": [...], "unreadable": [...]}``)."""
        if self.json:
            if self.unreadable and isinstance(data, dict):
                data = {**data, "unreadable": list(self.unreadable)}
            elif self.unreadable and isinstance(data, list):
                data = {"items": data, "unreadable": list(self.unreadable)}
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        else:
            text = human() if callable(human) else human
            self.stdout.write(text if text.endswith("\n") else text + "\n")

    def skipped(self, items: Sequence[Any]) -> None:
        """Report envelopes a reader skipped: once each per command, on stderr."""
        for item in items:
            value = item.to_json()
            if value in self.unreadable:
                continue
            self.unreadable.append(value)
            self.note(
                f"closedset: skipped an envelope you cannot read ({item}); the rest of the "
                "scene is shown without it, and the log keeps it."
            )

    def note(self, text: str) -> None:
        """A remark for the person, on stderr so it never mixes with data on stdout."""
        self.stderr.write(text + "\n")


def _checked(passphrase: str) -> bytes:
    if len(passphrase) < 8:
        raise UsageError("The passphrase must be at least 8 characters long.")
    return passphrase.encode("utf-8")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with aligned columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
