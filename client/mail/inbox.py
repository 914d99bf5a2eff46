"""The profile's inbox: every envelope imported from mail, one armored file per envelope.

``<home>/inbox/<hash hex>.asc`` (mode 0600), readable by ``closedset open < FILE``. Importing
checks each envelope's format and outer signature, and whether one of this profile's device
keys opens it; an envelope already in the inbox is reported, not stored twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nacl.public

from keys import armor
from keys.encoding import b64u_encode
from keys.envelope import Envelope, open_envelope
from keys.errors import DecryptionError, KeysError
from keys.identity import Fingerprint
from keys.keystore import write_private_file
from keys.mailparts import find_envelopes
from keys.mailseal import open_sealed

INBOX_DIR = "inbox"


@dataclass(frozen=True, slots=True)
class Imported:
    """One envelope found in one message, and what became of it."""

    source: str
    hash: str | None
    thread: str | None
    sender: str | None
    status: str
    """"new", "already" (in the inbox before), or "refused" (see ``detail``)."""
    opens: bool | None
    """True if this profile's device keys open it; None when it was not tried."""
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "hash": self.hash,
            "thread": self.thread,
            "sender": self.sender,
            "status": self.status,
            "opens": self.opens,
            "detail": self.detail,
        }


class Inbox:
    def __init__(self, home: Path, devices: Sequence[nacl.public.PrivateKey] = ()) -> None:
        self.path = home / INBOX_DIR
        self.devices = list(devices)

    def import_message(self, raw: bytes, source: str) -> list[Imported]:
        """Every envelope in one message; a message without any gives an empty list."""
        try:
            found = find_envelopes(raw)
        except KeysError as exc:
            return [Imported(source, None, None, None, "refused", None, str(exc))]
        results = [self._store(block, source) for block in found.envelopes]
        for sealed in found.sealed:
            if not self.devices:
                detail = "sealed to your devices; import without --no-open to open it"
                results.append(Imported(source, None, None, None, "refused", None, detail))
                continue
            try:
                block = open_sealed(sealed, self.devices)
            except KeysError as exc:
                results.append(Imported(source, None, None, None, "refused", None, str(exc)))
                continue
            results.append(self._store(block, source))
        return results

    def _store(self, block: bytes, source: str) -> Imported:
        try:
            envelope = Envelope.from_bytes(block).verify_outer()
        except KeysError as exc:
            return Imported(source, None, None, None, "refused", None, str(exc))
        digest = envelope.hash.hex()
        thread = b64u_encode(envelope.context.thread)
        sender = Fingerprint.of(envelope.context.sender).grouped()
        opens = self._opens(envelope) if self.devices else None
        target = self.path / f"{digest}.asc"
        if target.exists():
            return Imported(source, digest, thread, sender, "already", opens)
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private_file(target, armor.armor(envelope.to_bytes(), armor.ENVELOPE).encode())
        return Imported(source, digest, thread, sender, "new", opens)

    def _opens(self, envelope: Envelope) -> bool:
        for device in self.devices:
            try:
                open_envelope(envelope, device)
                return True
            except DecryptionError:
                continue
        return False

    def envelopes(self) -> list[Envelope]:
        if not self.path.is_dir():
            return []
        return [
            Envelope.from_bytes(armor.dearmor(p.read_text("ascii"), armor.ENVELOPE))
            for p in sorted(self.path.glob("*.asc"))
        ]
