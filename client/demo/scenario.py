"""The story ``closedset demo`` tells, and the hook later features append their steps to.

``tell`` creates the cast (an IC and two performers, each with their own profile) and runs
``STEPS`` then ``EXTRA_STEPS`` in order. A feature that extends the story (the counsel's
evidence check, for one) appends ``(title, step)`` pairs to ``EXTRA_STEPS``; a step gets the
:class:`Cast` (people, relay URL, work directory and ``facts`` earlier steps recorded) and
returns the text to print, or raises AssertionError/ClientError to fail the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from client.demo.cast import Person
from client.demo.story import Story

SCENE = "scene-12"  # the IC's alias for the scene
LIGHTHOUSE = "lighthouse"  # each performer's alias for it


@dataclass
class Cast:
    ic: Person
    ana: Person
    ben: Person
    relay: str
    workdir: Path
    transcript: list[str]
    # What earlier steps learned (versions, log indices, fingerprints), for later steps.
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def people(self) -> tuple[Person, Person, Person]:
        return self.ic, self.ana, self.ben


StepFn = Callable[[Cast], str]
# Steps appended by other features (counsel's evidence bundle goes here); run after STEPS.
EXTRA_STEPS: list[tuple[str, StepFn]] = []


def cast_of(workdir: Path, relay: str, clock: Callable[[], float] | None = None) -> Cast:
    transcript: list[str] = []

    def person(name: str, role: str, key: str) -> Person:
        return Person(name, role, workdir / key, clock, transcript)

    return Cast(
        person("Ines Duarte", "ic", "ines"),
        person("Ana Ruiz", "performer", "ana"),
        person("Ben Okafor", "performer", "ben"),
        relay,
        workdir,
        transcript,
    )


def tell(story: Story, cast: Cast) -> Cast:
    from client.demo.act_one import STEPS as FIRST
    from client.demo.act_two import STEPS as SECOND

    for title, run_step in [*FIRST, *SECOND, *EXTRA_STEPS]:
        story.step(title, partial(run_step, cast), cast.transcript)
    return cast
