"""The app's one profile: unlocked with the passphrase in the page (or once at start from the
environment), forgotten after an idle time, on "lock", and when the process exits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from client import profile_lock
from client.profile import KEYSTORE_FILE, Profile

DEFAULT_IDLE_SECONDS = 15 * 60


@dataclass
class AppState:
    home: Path
    clock: Callable[[], float]
    idle_seconds: float = DEFAULT_IDLE_SECONDS
    profile: Profile | None = None
    last_active: float = 0.0
    # What the person last saw per scene (relay reachable, what is waiting), for the banner.
    relay_problems: dict[str, str] = field(default_factory=dict)
    # Confirmation pages' words, by a random token in their URL (never the words themselves).
    confirmations: dict[str, tuple[str, str]] = field(default_factory=dict)

    def has_identity(self) -> bool:
        return (self.home / KEYSTORE_FILE).exists()

    def unlock(self, passphrase: bytes) -> Profile:
        """WrongPassphraseError (a KeysError) for a wrong one; nothing is kept then."""
        profile = Profile.load(self.home).unlock(passphrase)
        self.profile = profile
        self.last_active = self.clock()
        return profile

    def unlocked(self) -> Profile | None:
        """The profile if it is unlocked and was used within the idle time; else lock it."""
        if self.profile is None:
            return None
        if self.clock() - self.last_active > self.idle_seconds:
            self.lock()
            return None
        self.last_active = self.clock()
        return self.profile

    def lock(self) -> None:
        if self.profile is not None and self.profile.keystore is not None:
            self.profile.keystore.close()
        self.profile = None


@asynccontextmanager
async def writing(home: Path) -> AsyncIterator[None]:
    """Hold the profile lock (shared with `closedset` commands) around a change."""
    fd = await asyncio.to_thread(profile_lock.acquire, home)
    try:
        yield
    finally:
        profile_lock.release(fd)
