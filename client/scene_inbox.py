"""``closedset inbox``: sync every scene of the profile and list what arrived since last time.

Each scene remembers how far its thread was shown (``SceneRef.seen``, the reader sequence), so
the inbox lists only what is new; a scene whose relay cannot be reached is reported, not fatal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from client.errors import ClientError
from client.negotiate import Unreadable, scene_session
from client.profile import Profile
from client.scenes import SceneBook, SceneRef
from client.views.people import Names
from client.views.thread import row


@dataclass
class Inbox:
    items: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    """Envelopes addressed to us that no reader can use (see ``SceneSession.opened``)."""

    def to_json(self) -> dict[str, Any]:
        return {"new": self.items, "problems": self.problems}


async def new_in_scene(
    profile: Profile,
    scene: SceneRef,
    clock: Callable[[], float] = time.time,
    unreadable: list[Unreadable] | None = None,
) -> list[dict[str, Any]]:
    """What others sent to this scene since ``scene.seen``; moves the marker forward.
    Envelopes that cannot be read are skipped and added to ``unreadable``."""
    async with scene_session(profile, scene, clock) as session:
        await session.sync()
        state = session.state()
        names = Names(state.brief, session.me)
        refused = {r.event.log_index: r.reason for r in state.refused}
        found = [
            {"scene": scene.alias, **row(item.event, names, refused, state)}
            for item in session.opened()
            if (item.cached.reader_sequence or 0) > scene.seen and item.event.sender != session.me
        ]
        scene.seen = session.cache.last_sequence
        if unreadable is not None:
            unreadable.extend(session.unreadable)
    return found


async def check_inbox(profile: Profile, clock: Callable[[], float] = time.time) -> Inbox:
    book = SceneBook(profile.home)
    inbox = Inbox()
    for scene in book:
        try:
            inbox.items += await new_in_scene(profile, scene, clock, inbox.unreadable)
        except ClientError as exc:
            inbox.problems.append(f"{scene.alias}: {exc}")
    book.save()
    return inbox
