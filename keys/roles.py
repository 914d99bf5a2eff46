"""Thread roles: what a member is in one thread. They come from the thread, never from the
``role`` an identity record states about itself (that is a self-description only).

- ``ic``: a coordinator. The thread's creator is its IC; another member becomes one only by the
  creator's signed, logged grant (``keys.grant``). No invite admits a coordinator.
- ``performer``: admitted by an invite that names it.

Later roles (guardian, production contact, union representative, understudy) are added here as
invitable, non-coordinating entries; the relay's rules and the invite and grant formats read
this table, so adding a role changes no code that checks authority. Format: docs/protocol.md,
"Thread roles".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ThreadRole:
    name: str
    coordinates: bool
    """May invite and remove members (the creator alone grants and removes co-coordinators)."""
    invitable: bool
    """An invite may admit a member in this role."""
    grantable: bool
    """The creator's grant may give this role to a member."""


IC = ThreadRole("ic", coordinates=True, invitable=False, grantable=True)
PERFORMER = ThreadRole("performer", coordinates=False, invitable=True, grantable=False)

THREAD_ROLES: dict[str, ThreadRole] = {role.name: role for role in (IC, PERFORMER)}
INVITABLE_ROLES: tuple[str, ...] = tuple(r.name for r in THREAD_ROLES.values() if r.invitable)
GRANTABLE_ROLES: tuple[str, ...] = tuple(r.name for r in THREAD_ROLES.values() if r.grantable)
MAX_ROLE_LENGTH = 16


def thread_role(name: str) -> ThreadRole | None:
    """The role called ``name``, or None if this version knows no such role."""
    return THREAD_ROLES.get(name) if isinstance(name, str) else None
