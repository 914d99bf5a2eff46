"""One writer at a time per profile: the app and a ``closedset`` command writing the same
profile take this lock, so neither overwrites the other's update (scenes, contacts, keystore).

An advisory ``flock`` on ``<home>/.lock``: released when the holder ends, even by a crash.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".lock"


def acquire(home: Path) -> int:
    """Take the lock (waiting while another holder works); returns the fd to :func:`release`."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def release(fd: int) -> None:
    os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def profile_lock(home: Path) -> Iterator[None]:
    """Hold the profile's write lock for the block."""
    fd = acquire(home)
    try:
        yield
    finally:
        release(fd)
