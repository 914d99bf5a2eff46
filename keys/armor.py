"""ASCII armor: Closed Set binary objects as text that survives being sent by email.

Fixed BEGIN/END lines around standard base64 in 64-character CRLF lines. Decoding forgives
what mail clients do to text (quoting, re-wrapping, whitespace) and refuses everything else.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from keys.errors import ArmorError, LimitError

# The labels are a closed set: each names one kind of object, so a block pasted into the
# wrong place is refused by its label before anyone tries to parse its bytes.
ENVELOPE: Final = "ENVELOPE"
IDENTITY: Final = "IDENTITY"
KEY_BACKUP: Final = "KEY BACKUP"
DISCLOSURE: Final = "DISCLOSURE"
BUNDLE: Final = "EVIDENCE"
SEALED: Final = "SEALED MAIL"  # keys.mailseal: an envelope sealed for the mail pipe
LABELS: Final = frozenset({ENVELOPE, IDENTITY, KEY_BACKUP, DISCLOSURE, BUNDLE, SEALED})

# Checked on the whole input before any decoding, so a huge paste costs nothing.
MAX_ARMOR_CHARS: Final = 4 * 1024 * 1024
LINE_LENGTH: Final = 64

# Format (armor):
#
#     -----BEGIN CLOSEDSET <LABEL>-----\r\n
#     <standard base64 (RFC 4648 section 4) with padding, 64 characters per line>\r\n
#     ...last line may be shorter; no line at all for empty data...\r\n
#     -----END CLOSEDSET <LABEL>-----\r\n
#
# Decoding tolerates exactly: spaces, tabs, CR and LF anywhere in the base64 region
# (so blank lines and any re-wrapping), leading and trailing spaces and tabs on every line,
# and mail quote prefixes (any mix of '>', spaces and tabs) at the start of every line
# including BEGIN and END. Text before BEGIN and after END is ignored. Everything else is
# refused: characters outside the base64 alphabet, bad or missing padding, non-canonical
# trailing bits, header lines, a missing END, a second BEGIN before END, mismatched labels.

_AGAIN = "copy the whole block from BEGIN to END again"
_QUOTE_AND_SPACE = " \t>"
_SPACE = " \t"
_MARKER_RE = re.compile(r"-----(BEGIN|END) CLOSEDSET (.*?)-----")
_HEADER_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*:")
_INNER_SPACE_RE = re.compile(r"[ \t]+")
_NOT_BASE64_RE = re.compile(r"[^A-Za-z0-9+/=]")


def armor(data: bytes, label: str) -> str:
    """Armor ``data`` as one ``CLOSEDSET <label>`` block with CRLF line endings."""
    _check_label(label)
    # Base64 never makes text shorter, so this refuses oversize data before encoding it.
    if len(data) > MAX_ARMOR_CHARS:
        raise LimitError(
            f"The data is {len(data)} bytes, too large to armor within "
            f"{MAX_ARMOR_CHARS} characters."
        )
    encoded = base64.b64encode(data).decode("ascii")
    lines = [f"-----BEGIN CLOSEDSET {label}-----"]
    lines += [encoded[i : i + LINE_LENGTH] for i in range(0, len(encoded), LINE_LENGTH)]
    lines.append(f"-----END CLOSEDSET {label}-----")
    text = "\r\n".join(lines) + "\r\n"
    if len(text) > MAX_ARMOR_CHARS:
        raise LimitError(
            f"The data is {len(data)} bytes, too large to armor within "
            f"{MAX_ARMOR_CHARS} characters."
        )
    return text


def dearmor(text: str, label: str) -> bytes:
    """Decode the one ``CLOSEDSET <label>`` block in ``text``; anything around it is ignored."""
    _check_label(label)
    _check_size(text)
    found, other_labels = _scan(text, label)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        # Two blocks where one is expected is ambiguous; guessing could act on the wrong one.
        raise ArmorError(
            f"The text holds {len(found)} CLOSEDSET {label} blocks where one was expected; "
            "copy just one block from BEGIN to END."
        )
    if other_labels:
        raise ArmorError(
            f"The text holds a CLOSEDSET {other_labels[0]} block, not the "
            f"CLOSEDSET {label} block expected here."
        )
    raise ArmorError(f"The text has no BEGIN CLOSEDSET {label} line; {_AGAIN}.")


def find_armored(text: str, label: str) -> list[bytes]:
    """Decode every ``CLOSEDSET <label>`` block in ``text`` (an email body, say), in order.

    Text without any block gives ``[]``; blocks with other labels are passed over; a damaged
    block of this label is refused rather than skipped, so nothing is silently lost.
    """
    _check_label(label)
    _check_size(text)
    found, _ = _scan(text, label)
    return found


def _check_label(label: str) -> None:
    if label not in LABELS:
        raise ArmorError(
            f"{label!r} is not a Closed Set armor label; use one of {', '.join(sorted(LABELS))}."
        )


def _check_size(text: str) -> None:
    if len(text) > MAX_ARMOR_CHARS:
        raise LimitError(
            f"The armored text is {len(text)} characters, over the limit of {MAX_ARMOR_CHARS}."
        )


def _scan(text: str, label: str) -> tuple[list[bytes], list[str]]:
    """Return the decoded blocks of ``label`` and the other labels seen outside them."""
    found: list[bytes] = []
    other_labels: list[str] = []
    body: list[tuple[int, str]] | None = None  # None: outside a block of our label
    begin_number = 0
    # CRLF, CR and LF all end a line (str.splitlines would also split at \v, \f and others).
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, raw in enumerate(lines, start=1):
        line = raw.lstrip(_QUOTE_AND_SPACE).rstrip(_SPACE)
        marker = _MARKER_RE.fullmatch(line) if line.startswith("-----") else None
        if body is None:
            if marker is None:
                continue
            kind, seen = marker.groups()
            if seen != label:
                # Outside our block, another label's block is just text to pass over.
                other_labels.append(seen)
                continue
            if kind == "END":
                raise ArmorError(
                    f"Line {number} ends a CLOSEDSET {label} block that never began; {_AGAIN}."
                )
            body = []
            begin_number = number
            continue
        if marker is None:
            body.append((number, line))
            continue
        kind, seen = marker.groups()
        if kind == "BEGIN":
            raise ArmorError(
                f"Line {number} begins a new block before the block begun on line "
                f"{begin_number} has ended; {_AGAIN}."
            )
        if seen != label:
            raise ArmorError(
                f"The block begun on line {begin_number} as CLOSEDSET {label} ends as "
                f"CLOSEDSET {seen}; {_AGAIN}."
            )
        found.append(_decode_body(body))
        body = None
    if body is not None:
        raise ArmorError(
            f"The CLOSEDSET {label} block begun on line {begin_number} has no END line; {_AGAIN}."
        )
    return found, other_labels


_BASE64_TEXT_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _decode_body(body: list[tuple[int, str]]) -> bytes:
    # Fast path for the usual, intact block: all lines at once. Anything unusual goes through
    # the line-by-line reading, which names the line at fault.
    encoded = "".join([line for _, line in body])
    if " " in encoded or "\t" in encoded:
        encoded = _INNER_SPACE_RE.sub("", encoded)
    if _BASE64_TEXT_RE.fullmatch(encoded) is None:
        return _decode_lines(body)
    return _decode_base64(encoded)


def _decode_lines(body: list[tuple[int, str]]) -> bytes:
    pieces: list[str] = []
    for number, line in body:
        if _HEADER_RE.match(line):
            raise ArmorError(
                f"Line {number} is a header line, which Closed Set armor never has; {_AGAIN}."
            )
        piece = _INNER_SPACE_RE.sub("", line)
        bad = _NOT_BASE64_RE.search(piece)
        if bad is not None:
            raise ArmorError(
                f"Line {number} holds {bad.group()!r}, which is not a base64 character; {_AGAIN}."
            )
        pieces.append(piece)
    return _decode_base64("".join(pieces))


def _decode_base64(encoded: str) -> bytes:
    unpadded = encoded.rstrip("=")
    if len(encoded) % 4 or "=" in unpadded or len(encoded) - len(unpadded) > 2:
        raise ArmorError(f"The base64 text is cut short or wrongly padded; {_AGAIN}.")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ArmorError(f"The base64 text cannot be decoded; {_AGAIN}.") from exc
    # One value, one armor: stray bits in the last group would let two texts mean the same bytes.
    if base64.b64encode(data).decode("ascii") != encoded:
        raise ArmorError(f"The base64 text has stray bits in its last characters; {_AGAIN}.")
    return data
