"""Messages from mail files: one ``.eml`` file, an mbox file, or a Maildir directory.

Each message comes with a short name for reports (``file.eml``, ``mbox#3``, the Maildir key).
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from client.errors import UsageError


def messages(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        if not all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            raise UsageError(f"{path} is a directory but not a Maildir (no cur, new and tmp).")
        box = mailbox.Maildir(path, create=False)
        for key in sorted(box.keys()):
            yield f"{path.name}/{key}", box.get_bytes(key)
        return
    try:
        with path.open("rb") as file:
            head = file.read(5)
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}.") from exc
    if head == b"From ":
        mbox = mailbox.mbox(path, create=False)
        try:
            for number, key in enumerate(mbox.keys(), start=1):
                yield f"{path.name}#{number}", mbox.get_bytes(key)
        finally:
            mbox.close()
        return
    yield path.name, path.read_bytes()
