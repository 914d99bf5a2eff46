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


# --- the one bounded JSON parser ----------------------------------------------------------------
#
# Every document from outside (a request body, a mailed envelope, a file someone sent) is parsed
# here, so that no input can make the parser itself fail: nesting is bounded before parsing
# starts (CPython's parser would otherwise recurse until RecursionError), integers are bounded by
# their digit count before int() sees them (int() of 4300+ digits raises ValueError, and is
# quadratic below that) and then to I-JSON's exact range (RFC 7493 section 2.2), and floats,
# which no Closed Set format uses, are bounded in length.

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects any Closed Set document has, with room to spare."""
MAX_JSON_INT = 2**53 - 1
"""I-JSON's exact integers: every implementation reads them alike (RFC 7493 section 2.2)."""
_MAX_NUMBER_CHARS = 32
# A string (unrolled, so the engine loops on one character class) or a bracket.
_DEPTH_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class JsonLimitError(EncodingError):
    """A JSON document nests too deep or holds a number too large for any Closed Set format."""


def _check_depth(data: bytes, limit: int, what: str) -> None:
    # Fast path: a document with few brackets cannot nest deeper than their count.
    if data.count(b"[") + data.count(b"{") <= limit:
        return
    depth = 0
    for match in _DEPTH_TOKEN.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise JsonLimitError(f"The {what} nests deeper than {limit} levels.")
        elif token in (b"]", b"}"):
            depth -= 1


def _bounded_int(text: str) -> int:
    if len(text) > _MAX_NUMBER_CHARS:
        raise JsonLimitError("a number is too long")
    value = int(text)
    if not -MAX_JSON_INT <= value <= MAX_JSON_INT:
        raise JsonLimitError("an integer is outside -(2^53-1) .. 2^53-1")
    return value


def _bounded_float(text: str) -> float:
    if len(text) > _MAX_NUMBER_CHARS:
        raise JsonLimitError("a number is too long")
    return float(text)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member names")
    return result


def _loads(data: bytes, what: str, max_depth: int, **hooks: Any) -> Any:
    if type(data) is not bytes:
        data = bytes(data)
    _check_depth(data, max_depth, what)
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_refuse_constant, **hooks)
    except JsonLimitError as exc:
        raise JsonLimitError(f"The {what} holds a number out of range: {exc}.") from exc
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, RecursionError) as exc:
        # (RecursionError cannot happen after the depth check; kept as a last guard.)
        raise EncodingError(f"The {what} is not valid JSON.") from exc


def parse_json(
    data: bytes, *, what: str = "document", max_depth: int = MAX_JSON_DEPTH, floats: bool = False
) -> Any:
    """Parse untrusted JSON with bounded nesting and numbers, refusing duplicate member names.

    Integers must lie within I-JSON's exact range; floats are refused unless ``floats``. Every
    refusal is an :class:`EncodingError` (:class:`JsonLimitError` for the bounds).
    """
    return _loads(
        data,
        what,
        max_depth,
        parse_int=_bounded_int,
        parse_float=_bounded_float if floats else _refuse_float,
        object_pairs_hook=_unique_object,
    )


def parse_json_object(
    data: bytes, fields: frozenset[str], *, what: str = "request body"
) -> dict[str, Any]:
    """Parse untrusted JSON that must be an object with exactly ``fields``."""
    value = parse_json(data, what=what)
    if type(value) is not dict or value.keys() != fields:
        raise EncodingError(
            f"The {what} must be a JSON object with exactly {', '.join(sorted(fields))}."
        )
    return value


def json_int(value: Any, what: str, *, minimum: int = 0, maximum: int = MAX_JSON_INT) -> int:
    """A parsed JSON value that must be an integer (not a bool, float or string) in range."""
    if type(value) is not int or not minimum <= value <= maximum:
        raise EncodingError(f"The {what} must be a whole number from {minimum} to {maximum}.")
    return value


def _refuse_float(text: str) -> float:
    raise JsonLimitError("a number with a fraction or exponent is not accepted")


def parse_canonical_json(
    data: bytes, *, what: str = "document", max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse JSON that must already be in RFC 8785 form; refuse any other spelling.

    Bounded like :func:`parse_json` (nesting, number length and integer range).
    """
    subset = _ParseSubset()
    # An ASCII document has ASCII member names, and a duplicate name is refused anyway by the
    # comparison below (the parsed value re-encodes shorter), so it needs no per-object hook.
    pairs_hook = None if data.isascii() else subset.object
    value = _loads(
        data,
        what,
        max_depth,
        parse_float=subset.float,
        parse_int=subset.int,
        object_pairs_hook=pairs_hook,
    )
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
        return _bounded_float(text)

    def int(self, text: str) -> int:
        # The fast subset's range is I-JSON's: an integer outside it is refused outright.
        return _bounded_int(text)

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
