"""Canonical encodings: RFC 8785 JSON and strict unpadded base64url.

Every structure that is signed or hashed is a JSON object encoded with the JSON
Canonicalization Scheme (RFC 8785); binary values inside it are base64url without
padding (RFC 4648 section 5). Decoding is strict: anything that would not re-encode to
the very same bytes is refused, so one value has exactly one encoding.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import rfc8785

from keys.errors import EncodingError

_B64U_RE = re.compile(r"\A[A-Za-z0-9_-]*\Z")


def b64u_encode(data: bytes) -> str:
    """Encode bytes as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str, *, length: int | None = None, what: str = "value") -> bytes:
    """Decode strict unpadded base64url, optionally requiring an exact decoded length."""
    if not isinstance(text, str) or not _B64U_RE.match(text) or len(text) % 4 == 1:
        raise EncodingError(f"The {what} is not unpadded base64url.")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise EncodingError(f"The {what} is not unpadded base64url.") from exc
    if b64u_encode(data) != text:
        raise EncodingError(f"The {what} is not in canonical base64url form.")
    if length is not None and len(data) != length:
        raise EncodingError(f"The {what} must be {length} bytes, not {len(data)}.")
    return data


def canonical_json(value: Any) -> bytes:
    """Encode a JSON value per RFC 8785 (JCS)."""
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise EncodingError(f"The value cannot be encoded canonically: {exc}.") from exc


def parse_canonical_json(data: bytes, *, what: str = "document") -> Any:
    """Parse JSON that must already be in RFC 8785 form; refuse any other spelling."""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise EncodingError(f"The {what} is not valid JSON.") from exc
    if canonical_json(value) != data:
        raise EncodingError(f"The {what} is not in canonical JSON (RFC 8785) form.")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
