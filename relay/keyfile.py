"""The relay's log signing key: created on first start, read on every start after.

The file holds one C2SP note signer key string (``PRIVATE+KEY+name+keyid+base64``), mode
0600, written atomically. Its name is the log's origin; a configured origin that differs
from the key's name is refused, because checkpoints of one log must keep one origin.
"""

from __future__ import annotations

from pathlib import Path

from keys.errors import KeysError
from keys.keystore import write_private_file
from keys.note import NoteSigner


class LogKeyError(RuntimeError):
    """The log signing key file cannot be read, written or used with this configuration."""


def load_or_create_log_key(path: Path, origin: str) -> tuple[NoteSigner, bool]:
    """The signer stored at ``path``, creating it for ``origin`` if absent; True if created."""
    if not path.exists():
        signer = NoteSigner.generate(origin)
        try:
            # exclusive: two relays starting at once must not each write their own key.
            write_private_file(path, (signer.key_string() + "\n").encode("ascii"), exclusive=True)
        except KeysError as exc:
            if not path.exists():
                raise LogKeyError(str(exc)) from exc
        else:
            return signer, True
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
    return signer, False
