"""A scene run through the real CLI for the consent stories: people, sheets from answers, rider
files edited as an IC would, and the checks every refusal needs (one sentence, nothing sent)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.demo.cast import Person, fill
from client.timefmt import iso

DAY = 86400
ALL_ZONES_OK = {
    f"zones.{z}": "ok"
    for z in (
        "head", "face", "lips", "neck", "back-of-neck", "shoulders", "arms", "hands",
        "chest-breasts", "stomach", "back", "buttocks", "genital-area", "thighs", "legs", "feet",
    )
}  # fmt: skip


def answers(**extra: object) -> dict[str, object]:
    """A filled-in sheet: everything unanswered is "no", every zone OK unless given."""
    return {
        "unanswered": "no",
        "you.pronouns": "they/them",
        "signals.nonverbal": "two taps",
        "care.check_in": "message",
        **ALL_ZONES_OK,
    } | {k.replace("__", "."): v for k, v in extra.items()}


@dataclass
class CliScene:
    tmp: Path
    relay: str
    clock: Any
    ic: Person = field(init=False)
    performers: dict[str, Person] = field(default_factory=dict)
    alias: str = "scene-9"
    mine: str = "story"
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ic = self.person("Ines", "ic")

    def person(self, name: str, role: str = "performer") -> Person:
        p = Person(name, role, self.tmp / name.lower(), self.clock, self.log)
        p.cli("id", "new", "--name", name, "--role", role)
        return p

    def open(self, names: list[str], *, call_in: int = 10 * DAY, new: tuple[str, ...] = ()) -> None:
        now = self.ic.now()
        self.ic.cli(
            "scene", "new", "--relay", self.relay, "--title", "Harbour", "--scene", "9",
            "--pages", "4-5", "--call-time", iso(now + call_in), "--valid-from", iso(now - DAY),
            *new,
        )  # fmt: skip
        for name in names:
            p = self.person(name)
            code = self.ic.cli("scene", "invite", self.alias)["code"]
            p.cli("scene", "join", code, "--alias", self.mine)
            self.performers[name] = p
        self.ic.cli("scene", "brief", self.alias)

    def __getitem__(self, name: str) -> Person:
        return self.performers[name]

    def sheet(self, name: str, values: dict[str, object]) -> dict[str, Any]:
        p = self[name]
        path = self.tmp / f"{name}-sheet-{len(self.log)}.toml"
        p.cli("sheet", "template", self.mine, "--out", str(path))
        path.write_text(fill(path.read_text(), values))
        return dict(p.cli("sheet", "submit", self.mine, str(path)))

    def template(self) -> str:
        path = self.tmp / f"rider-{len(self.log)}.toml"
        self.ic.cli("rider", "template", self.alias, "--out", str(path))
        return path.read_text()

    def propose(self, edit: Callable[[str], str] = lambda t: t) -> tuple[int, str, str]:
        text = edit(fill(self.template(), {"description": "Two scenes at the harbour wall."}))
        path = self.tmp / f"rider-edited-{len(self.log)}.toml"
        path.write_text(text)
        return self.ic._run(("rider", "propose", self.alias, str(path)))

    def sent(self) -> int:
        """How many statements the thread holds, as the IC's client lists them."""
        return len(self.ic.cli("thread", self.alias))

    def refused(self, person: Person, *args: str) -> str:
        """Run a command that must be refused with one sentence and send nothing."""
        before = self.sent()
        code, out, err = person._run(args)
        assert code in (1, 2), (code, out, err)  # refused (1) or a missing flag (2)
        assert err.startswith("closedset: ") and "Traceback" not in err, err
        assert self.sent() == before, "a refused command sent something"
        return err.removeprefix("closedset: ").strip()

    def refused_rider(self, edit: Callable[[str], str]) -> str:
        text = edit(fill(self.template(), {"description": "Two scenes at the harbour wall."}))
        path = self.tmp / f"rider-refused-{len(self.log)}.toml"
        path.write_text(text)
        return self.refused(self.ic, "rider", "propose", self.alias, str(path))

    def accept_all(self, *extra: str) -> None:
        for p in self.performers.values():
            p.cli("rider", "accept", self.mine, "--yes", *extra)

    def status(self, who: Person | None = None) -> dict[str, Any]:
        p = who or self.ic
        return dict(p.cli("scene", "status", self.alias if p is self.ic else self.mine))


def act_block(act: str, giver: str, receiver: str, zones: list[str], **extra: object) -> str:
    from client.negotiation._form import quote

    lines = [
        "[[acts]]", f"act = {quote(act)}", f"giver = {quote(giver)}",
        f"receiver = {quote(receiver)}", f"zones = {quote(zones)}",
    ]  # fmt: skip
    lines += [f"{k} = {quote(v)}" for k, v in extra.items()]
    return "\n" + "\n".join(lines) + "\n"
