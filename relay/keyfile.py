"""The relay's log signing key: one C2SP note signer key string in ``log-signing.key``.

The file holds ``PRIVATE+KEY+name+keyid+base64``, mode 0600, written atomically. Its name is
the log's origin; a configured origin that differs from the key's name is refused, because
checkpoints of one log must keep one origin. Whether a missing key may be created is decided
at start-up by :mod:`relay.logstate` (never silently: that would fork the log).
"""

from __future__ import annotations

from pathlib import Path

from keys.errors import KeysError
from keys.note import NoteSigner


class LogKeyError(RuntimeError):
    """The log signing key file cannot be read, written or used with this configuration."""


def read_log_key(path: Path, origin: str) -> NoteSigner:
    """The signer stored at ``path``, which must be for ``origin``."""
    try:
        text = path.read_text("ascii").strip()
        signer = NoteSigner.from_key_string(text)
    except (OSError, UnicodeDecodeError, KeysError) as exc:
        raise LogKeyError(f"The log signing key at {path} cannot be read: {exc}") from exc
    if signer.name != origin:
        raise LogKeyError(
            f"The log key at {path} is for origin {signer.name!r}, but the configuration says "
            f"{origin!r}; a log keeps one origin for life, so fix the configuration."
        )
    return signer


def load_or_create_log_key(path: Path, origin: str) -> tuple[NoteSigner, bool]:
    """The signer at ``path``, or a new log's key (with its "nothing signed yet" record, see
    :mod:`relay.logstate`) if there is none; True if created. For tools and tests that set up
    a new log by hand; the relay itself decides at start-up."""
    from relay.logstate import KeyOnDisk, StartupError, establish

    if path.exists():
        return read_log_key(path, origin), False
    key = KeyOnDisk(NoteSigner.generate(origin), existed=False)
    try:
        establish(key, path)
    except StartupError as exc:
        raise LogKeyError(str(exc)) from exc
    return key.signer, True
