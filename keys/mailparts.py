"""Finding Closed Set envelopes in an email message: shared by the relay's SMTP ingress and the
client's mailbox import, so both accept exactly the same shapes (docs/email.md, "Accepted").

An envelope travels as an attachment (``application/vnd.closedset.envelope`` or a ``*.asc``
file, armored or as raw canonical bytes) or as armor pasted into a ``text/plain`` body, where
mail clients may have re-wrapped it or quoted it with ``> ``; :mod:`keys.armor` forgives both.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import Final

from keys import armor
from keys.errors import EncodingError

ENVELOPE_MEDIA_TYPE: Final = "application/vnd.closedset.envelope"
ATTACHMENT_NAME: Final = "envelope.asc"
# An envelope sealed for the mail pipe (keys.mailseal), armored as CLOSEDSET SEALED MAIL.
SEALED_MEDIA_TYPE: Final = "application/vnd.closedset.sealed"
SEALED_ATTACHMENT_NAME: Final = "message.asc"

# compat32 is the email package's fast path: no header objects are built, and we read only
# Content-Type, Content-Disposition and the payload of each part.
_PARSER: Final = BytesParser(policy=policy.compat32)


# --- thread addresses ---------------------------------------------------------------------------

THREAD_ID_SIZE: Final = 16
_LOCAL_PART_RE: Final = re.compile(r"\A[a-z2-7]{26}\Z")


def thread_local_part(thread: bytes) -> str:
    """The local part of a thread's address: its id in lower-case base32 (RFC 4648), 26 letters
    and digits. Mail systems may fold the case of a local part, and Postfix refuses one that
    starts with "-" by default, so neither case nor punctuation may carry meaning here."""
    if len(thread) != THREAD_ID_SIZE:
        raise EncodingError(f"A thread id is {THREAD_ID_SIZE} bytes.")
    return base64.b32encode(thread).decode("ascii").rstrip("=").lower()


def parse_thread_local_part(local: str) -> bytes:
    """The thread id a local part names (any case); refuse anything else."""
    text = local.lower()
    if not _LOCAL_PART_RE.match(text):
        raise EncodingError("This is not a Closed Set thread address.")
    try:
        thread = base64.b32decode(text.upper() + "======")
    except binascii.Error as exc:
        raise EncodingError("This is not a Closed Set thread address.") from exc
    if thread_local_part(thread) != text:  # stray bits in the last letter
        raise EncodingError("This is not a Closed Set thread address.")
    return thread


@dataclass(frozen=True, slots=True)
class Found:
    """What one message carries: distinct envelopes (canonical bytes, not yet parsed)."""

    envelopes: tuple[bytes, ...]
    mentions_armor: bool
    """True if any part held a BEGIN CLOSEDSET line, so 'no envelope' means a damaged one."""
    sealed: tuple[bytes, ...] = ()
    """Distinct mail seals (``keys.mailseal``), not yet opened: each holds one envelope."""


def find_envelopes(raw: bytes) -> Found:
    """Every distinct envelope in the message ``raw``, in order of appearance.

    A damaged armor block raises :class:`keys.errors.ArmorError` (never skipped silently);
    the bytes returned are unchecked and go to ``Envelope.from_bytes`` next.
    """
    message = _PARSER.parsebytes(raw)
    found: list[bytes] = []
    sealed: list[bytes] = []
    mentions = False
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = _kind(part)
        if kind is None:
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        if kind == "binary" and payload.lstrip().startswith(b"{"):
            blocks = [payload.strip()]
        else:
            text = _text(part, payload)
            mentions = mentions or "BEGIN CLOSEDSET" in text
            blocks = armor.find_armored(text, armor.ENVELOPE)
            for block in armor.find_armored(text, armor.SEALED) if "SEALED" in text else ():
                if block not in sealed:
                    sealed.append(block)
        for block in blocks:
            if block not in found:
                found.append(block)
    return Found(tuple(found), mentions or bool(found) or bool(sealed), tuple(sealed))


def _kind(part: Message) -> str | None:
    """Say "binary" for an envelope attachment, "text" for a body that may hold armor."""
    content_type = part.get_content_type()
    filename = (part.get_filename() or "").lower()
    if content_type in (ENVELOPE_MEDIA_TYPE, SEALED_MEDIA_TYPE) or filename.endswith(".asc"):
        return "binary"
    if content_type == "text/plain":
        return "text"
    return None


def _text(part: Message, payload: bytes) -> str:
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        # An unknown charset name; armor is ASCII, so any ASCII-compatible reading finds it.
        return payload.decode("latin-1")
