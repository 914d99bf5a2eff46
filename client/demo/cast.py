"""The demo's people: each has a profile directory and runs real ``closedset`` commands in this
process through ``client.cli.main.run``, with their own environment; and small helpers that
fill in the TOML forms the way a person would in an editor."""

from __future__ import annotations

import io
import json
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.cli.main import run
from client.negotiation._form import quote
from client.profile import Profile

DEMO_PASSPHRASE = "demo passphrase, not for real use"


class CommandFailed(AssertionError):
    """A command the story expected to work failed (or one expected to fail worked)."""


@dataclass
class Person:
    name: str
    role: str
    home: Path
    clock: Callable[[], float] | None = None
    transcript: list[str] = field(default_factory=list)

    @property
    def environ(self) -> dict[str, str]:
        return {"CLOSEDSET_HOME": str(self.home), "CLOSEDSET_PASSPHRASE": DEMO_PASSPHRASE}

    def _run(self, args: tuple[str, ...]) -> tuple[int, str, str]:
        # Shown as a person would type it: files relative to the demo's directory, and a long
        # invite code shortened.
        shown = [
            a[:32] + "…"
            if a.startswith("closedset-invite:")
            else a.replace(f"{self.home.parent}/", "")
            for a in args
        ]
        self.transcript.append(f"{self.name.split()[0].lower()}$ closedset {shlex.join(shown)}")
        out, err = io.StringIO(), io.StringIO()
        code = run([*args, "--json"], self.environ, stdout=out, stderr=err, clock=self.clock)
        return code, out.getvalue(), err.getvalue()

    def cli(self, *args: str) -> Any:
        """Run a command that must work; returns its JSON output."""
        code, out, err = self._run(args)
        if code != 0:
            raise CommandFailed(f"`closedset {shlex.join(args)}` failed: {err.strip()}")
        return json.loads(out) if out.strip() else None

    def refused(self, *args: str) -> str:
        """Run a command that must be refused; returns its one-sentence error."""
        code, _, err = self._run(args)
        if code == 0:
            raise CommandFailed(f"`closedset {shlex.join(args)}` should have been refused.")
        return err.strip().removeprefix("closedset: ")

    def now(self) -> int:
        return int((self.clock or time.time)())

    def profile(self) -> Profile:
        return Profile.load(self.home).unlock(DEMO_PASSPHRASE.encode())

    def last_command(self) -> str:
        return self.transcript[-1]


def fill(text: str, values: dict[str, Any]) -> str:
    """Set ``section.key = value`` lines of a template (``unanswered`` for a top-level key)."""
    wanted = dict(values)
    section, out = "", []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            section = stripped.strip("[]")
        elif "=" in stripped and not stripped.startswith("#"):
            key = stripped.split("=", 1)[0].strip()
            path = f"{section}.{key}" if section else key
            if path in wanted:
                line = f"{key} = {quote(wanted.pop(path))}"
        out.append(line)
    for path, value in wanted.items():
        # An optional key the template leaves out (a zone note): add it under its section.
        section, _, key = path.rpartition(".")
        header = out.index(f"[{section}]") if f"[{section}]" in out else None
        if header is None:
            raise CommandFailed(f"The template has no [{section}] for {key}.")
        out.insert(header + 1, f"{key} = {quote(value)}")
    return "\n".join(out) + "\n"


def _blocks(text: str) -> list[str]:
    return text.rstrip("\n").split("\n\n")


def edit_act(text: str, act: str, **values: Any) -> str:
    """Set fields of the rider's ``[[acts]]`` entry for ``act`` (an uncommented entry)."""
    blocks = _blocks(text)
    for i, block in enumerate(blocks):
        if block.startswith("[[acts]]") and f'act = "{act}"' in block:
            lines = [
                ln
                for ln in block.splitlines()
                if not any(ln.lstrip("# ").startswith(f"{k} =") for k in values)
            ]
            lines += [f"{k} = {quote(v)}" for k, v in values.items()]
            blocks[i] = "\n".join(lines)
            return "\n\n".join(blocks) + "\n"
    raise CommandFailed(f"The rider has no act {act}.")


def drop_act(text: str, act: str) -> str:
    blocks = [b for b in _blocks(text) if not (b.startswith("[[acts]]") and f'act = "{act}"' in b)]
    return "\n\n".join(blocks) + "\n"


def add_act(text: str, act: str, giver: str, receiver: str, zones: list[str], **extra: Any) -> str:
    block = "\n".join(
        [
            "[[acts]]",
            f"act = {quote(act)}",
            f"giver = {quote(giver)}",
            f"receiver = {quote(receiver)}",
            f"zones = {quote(zones)}",
            *[f"{k} = {quote(v)}" for k, v in extra.items()],
        ]
    )
    return text.rstrip("\n") + "\n\n" + block + "\n"
