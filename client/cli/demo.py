"""``closedset demo``: the story so far, told step by step with real keys.

Three people (an intimacy coordinator and two performers) create identities, swap
them and compare safety numbers; the IC seals a note to both performers, each opens
it, an outsider cannot, and a tampered copy is refused. Every step is checked; the
demo exits 0 only if every check held.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from client.cli.context import Context
from client.cli.registry import Command, add_command
from client.contacts import Contacts
from client.profile import CONTACTS_FILE, Profile
from keys import armor
from keys.envelope import Envelope, open_envelope, seal
from keys.errors import KeysError
from keys.identity import Role, decode_history, safety_number
from keys.randomness import random_bytes

DEMO_PASSPHRASE = b"demo passphrase, not for real use"


@dataclass
class Step:
    title: str
    detail: str
    ok: bool


class Story:
    """Collects steps, prints each as it happens, and remembers whether all held."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.steps: list[Step] = []

    def step(self, title: str, check: Callable[[], str]) -> bool:
        try:
            detail, ok = check(), True
        except (KeysError, AssertionError) as exc:
            detail, ok = f"FAILED: {exc}", False
        self.steps.append(Step(title, detail, ok))
        if not self.ctx.json:
            mark = "ok " if ok else "!! "
            self.ctx.stdout.write(f"{mark} {len(self.steps):2d}. {title}\n")
            for line in detail.splitlines():
                self.ctx.stdout.write(f"        {line}\n")
        return ok

    @property
    def passed(self) -> bool:
        return all(s.ok for s in self.steps)


def run_demo(ctx: Context, workdir: Path) -> Story:
    story = Story(ctx)
    people: dict[str, Profile] = {}
    cast: list[tuple[str, str, Role]] = [
        ("ic", "Ines Duarte", "ic"),
        ("ana", "Ana Ruiz", "performer"),
        ("ben", "Ben Okafor", "performer"),
        ("olga", "Olga (not in this scene)", "performer"),
    ]

    def create(key: str, name: str, role: Role) -> Callable[[], str]:
        def check() -> str:
            profile = Profile.create(
                workdir / key, DEMO_PASSPHRASE, name=name, role=role, email=None, now=ctx.now()
            )
            people[key] = profile
            return f"fingerprint {profile.history.fingerprint}; private keys sealed with Argon2id"

        return check

    for key, name, role in cast:
        story.step(f"{name} creates an identity ({role})", create(key, name, role))
    if not story.passed:
        return story

    def exchange() -> str:
        lines = []
        for a, b in [("ic", "ana"), ("ic", "ben"), ("ana", "ic"), ("ben", "ic")]:
            exported = armor.armor(people[b].history.to_bytes(), armor.IDENTITY)
            history = decode_history(armor.dearmor(exported, armor.IDENTITY))
            book = Contacts.load(people[a].home / CONTACTS_FILE)
            book.add(history)
            number = safety_number(people[a].identity_key, history.identity_key)
            book.mark_verified(history.identity_key)
            book.save()
            if a == "ic":
                lines.append(f"{people[a].history.name} and {history.name} read aloud: {number}")
        return "\n".join(lines)

    story.step("They swap identity records and compare safety numbers", exchange)

    ic, ana, ben, olga = (people[k] for k in ("ic", "ana", "ben", "olga"))
    note = b"Scene 12 closed-set meeting moved to 09:00. Bring your sheet questions."
    sealed: dict[str, Envelope] = {}

    def seal_note() -> str:
        opened = seal(
            note,
            sender=ic.signing_key(),
            recipients=ic.own_recipients() + ana.own_recipients() + ben.own_recipients(),
            thread=random_bytes(16),
            prev=None,
            purpose="closedset/note/v1",
        )
        text = armor.armor(opened.envelope.to_bytes(), armor.ENVELOPE)
        sealed["armored"] = Envelope.from_bytes(armor.dearmor(text, armor.ENVELOPE))
        return (
            f"one ciphertext, message key wrapped for 3 devices; {len(text)} characters of armor\n"
            f"envelope hash {opened.envelope.hash.hex()[:32]}..."
        )

    story.step("The IC seals a note to Ana and Ben (and her own device)", seal_note)

    def open_as(profile: Profile) -> Callable[[], str]:
        def check() -> str:
            opened = open_envelope(sealed["armored"], profile.device_keys()[0])
            assert opened.plaintext == note, "the plaintext differs from what was sealed"
            assert opened.sender == ic.identity_key, "the signer is not the IC"
            return f"reads: {opened.plaintext.decode()!r}, signed by {ic.history.name}"

        return check

    story.step("Ana opens it and checks the IC's signature", open_as(ana))
    story.step("Ben opens it too", open_as(ben))

    def outsider() -> str:
        try:
            open_envelope(sealed["armored"], olga.device_keys()[0])
        except KeysError as exc:
            return f"refused: {exc}"
        raise AssertionError("an outsider opened an envelope not addressed to her")

    story.step("Olga, not a recipient, cannot open it", outsider)

    def tamper() -> str:
        raw = bytearray(sealed["armored"].to_bytes())
        index = raw.index(b'"ciphertext":"') + 20
        raw[index] = ord("A") if raw[index] != ord("A") else ord("B")
        try:
            open_envelope(Envelope.from_bytes(bytes(raw)), ana.device_keys()[0])
        except KeysError as exc:
            return f"refused: {exc}"
        raise AssertionError("a tampered envelope was accepted")

    story.step("A copy with one changed character is refused", tamper)
    return story


def demo_command(ctx: Context, args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="closedset-demo-") as tmp:
        if not ctx.json:
            ctx.stdout.write(f"Closed Set demo: four people in throwaway profiles under {tmp}\n\n")
        story = run_demo(ctx, Path(tmp))
    ctx.emit(
        {"passed": story.passed, "steps": [s.__dict__ for s in story.steps]},
        "\nEvery check held." if story.passed else "\nSome checks FAILED; see the marks above.",
    )
    return 0 if story.passed else 1


add_command(
    Command(
        ("demo",),
        demo_command,
        "Run the whole story with throwaway identities and check every step.",
        "closedset demo",
        needs_profile=False,
    )
)
