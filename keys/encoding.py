"""Canonical encodings: RFC 8785 JSON and strict unpadded base64url.

Every structure that is signed or hashed is a JSON object encoded with the JSON
Canonicalization Scheme (RFC 8785); binary values inside it are base64url without
padding (RFC 4648 section 5). Decoding is strict: anything that would not re-encode to
the very same bytes is refused, so one value has exactly one encoding.
"""

from __future__ import annotations

import binascii
import functools
import json
import re
from typing import Any

import rfc8785

from keys.errors import EncodingError

_B64U_RE = re.compile(r"\A[A-Za-z0-9_-]*\Z")
# bytes.translate: str.translate is some twenty times slower on these short texts.
_B64U_TO_STD = bytes.maketrans(b"-_", b"+/")
_STD_TO_B64U = bytes.maketrans(b"+/", b"-_")
_PADDING = (b"", b"", b"==", b"=")
_SPARE_BITS = (0, 0, 0x0F, 0x03)
_B64U_VALUE = {
    ch: i for i, ch in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}


def b64u_encode(data: bytes) -> str:
    """Encode bytes as base64url without padding."""
    encoded = binascii.b2a_base64(data, newline=False).translate(_STD_TO_B64U)
    return encoded.rstrip(b"=").decode("ascii")


def _to_std(text: str) -> bytes:
    """Standard padded base64 of an unpadded base64url text already checked for its alphabet."""
    return text.encode("ascii").translate(_B64U_TO_STD) + _PADDING[len(text) % 4]


@functools.cache
def _exact_b64u(length: int) -> re.Pattern[str]:
    """The canonical unpadded base64url texts of exactly ``length`` bytes, as one pattern.

    The last character carries the spare bits (RFC 4648 section 3.5), which must be zero: 4 of
    them when ``length % 3 == 1`` (values 0, 16, 32, 48), 2 when it is 2 (multiples of 4).
    """
    chars, spare = divmod(4 * length, 3)
    last = {0: "", 1: "AQgw", 2: "AEIMQUYcgkosw048"}[length % 3]
    if not last:
        return re.compile(rf"\A[A-Za-z0-9_-]{{{chars}}}\Z")
    return re.compile(rf"\A[A-Za-z0-9_-]{{{chars + (spare > 0) - 1}}}[{last}]\Z")


def b64u_decode(text: str, *, length: int | None = None, what: str = "value") -> bytes:
    """Decode strict unpadded base64url, optionally requiring an exact decoded length."""
    if length is not None and type(text) is str and _exact_b64u(length).match(text):
        # Alphabet, length and zero spare bits are all checked: the C decoder cannot differ.
        return binascii.a2b_base64(_to_std(text))
    # The general path, which also names what is wrong when the fast one refused.
    if type(text) is not str or len(text) % 4 == 1 or not _B64U_RE.match(text):
        raise EncodingError(f"The {what} is not unpadded base64url.")
    # The alphabet is checked above, so the lenient C decoder has nothing to skip.
    data = binascii.a2b_base64(_to_std(text))
    # Canonical means the bits past the last whole byte are zero: 4 of them after two
    # characters, 2 after three (RFC 4648 section 3.5).
    spare = _SPARE_BITS[len(text) % 4]
    if spare and _B64U_VALUE[text[-1]] & spare:
        raise EncodingError(f"The {what} is not in canonical base64url form.")
    if length is not None and len(data) != length:
        raise EncodingError(f"The {what} must be {length} bytes, not {len(data)}.")
    return data


# Within this subset of JSON, RFC 8785 output is exactly what the C-accelerated json.dumps
# writes with sorted keys and no spaces: integers within I-JSON's exact range print the same,
# ASCII keys sort the same by UTF-16 code units as by code points, and both escape only
# '"', '\\' and control characters, with the same short forms and lowercase \\u00xx.
# tests/keys/test_encoding.py checks the two agree on arbitrary values of the subset.
_FAST_INT_LIMIT = 2**53 - 1
_json_encoder = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def _in_fast_subset(value: Any, depth: int = 0) -> bool:
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return bool(-_FAST_INT_LIMIT <= value <= _FAST_INT_LIMIT)
    if depth > 32:
        return False
    if kind is list:
        return all(_in_fast_subset(item, depth + 1) for item in value)
    if kind is dict:
        return all(
            type(key) is str and key.isascii() and _in_fast_subset(item, depth + 1)
            for key, item in value.items()
        )
    return False


def canonical_json(value: Any) -> bytes:
    """Encode a JSON value per RFC 8785 (JCS)."""
    if _in_fast_subset(value):
        encoded = _fast_encode(value)
        if encoded is not None:
            return encoded
        # else a lone surrogate: let the reference encoder refuse it with its reason
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise EncodingError(f"The value cannot be encoded canonically: {exc}.") from exc


def parse_canonical_json(data: bytes, *, what: str = "document") -> Any:
    """Parse JSON that must already be in RFC 8785 form; refuse any other spelling."""
    subset = _ParseSubset()
    # An ASCII document has ASCII member names, and a duplicate name is refused anyway by the
    # comparison below (the parsed value re-encodes shorter), so it needs no per-object hook.
    pairs_hook = None if data.isascii() else subset.object
    try:
        value = json.loads(
            data.decode("utf-8"),
            parse_constant=_refuse_constant,
            parse_float=subset.float,
            parse_int=subset.int,
            object_pairs_hook=pairs_hook,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise EncodingError(f"The {what} is not valid JSON.") from exc
    # The hooks saw every number and key while parsing, so the subset test needs no walk.
    encoded = _fast_encode(value) if subset.fast else canonical_json(value)
    if encoded != data:
        raise EncodingError(f"The {what} is not in canonical JSON (RFC 8785) form.")
    return value


class _ParseSubset:
    """Parser hooks that note whether a document stays inside the fast subset."""

    def __init__(self) -> None:
        self.fast = True

    def float(self, text: str) -> float:
        self.fast = False
        return float(text)

    def int(self, text: str) -> int:
        value = int(text)
        if not -_FAST_INT_LIMIT <= value <= _FAST_INT_LIMIT:
            self.fast = False
        return value

    def object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            raise ValueError("duplicate member names")
        if not all(key.isascii() for key in result):
            self.fast = False
        return result


def _fast_encode(value: Any) -> bytes | None:
    try:
        return _json_encoder.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        return None  # a lone surrogate: never equal to valid UTF-8 input


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
