"""Strict readers and checks for statement fields: exact keys, exact types, stated limits.

Shared by every statement type so each refusal reads the same way ("The rider's call_time must
be ..."). Binary values are unpadded base64url, times whole Unix seconds, as in ``keys``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from client.negotiation.errors import StatementError
from keys.encoding import b64u_decode, b64u_encode
from keys.errors import EncodingError

KEY_SIZE = 32
HASH_SIZE = 32
MAX_TIME = 2**53 - 1
SHORT_TEXT = 200
LONG_TEXT = 4000
MAX_ITEMS = 256


def check_text(value: object, what: str, limit: int, *, empty: bool = True) -> str:
    """Text up to ``limit`` characters; newlines and tabs only in long text."""
    if not isinstance(value, str) or len(value) > limit or (not empty and not value.strip()):
        need = "text" if empty else "non-empty text"
        raise StatementError(f"The {what} must be {need} of at most {limit} characters.")
    allowed = "\n\t" if limit > SHORT_TEXT else ""
    if any((ord(ch) < 0x20 and ch not in allowed) or ord(ch) == 0x7F for ch in value):
        raise StatementError(f"The {what} must not contain control characters.")
    return value


def check_time(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TIME:
        raise StatementError(f"The {what} must be a whole number of seconds since 1970.")
    return value


def check_int(value: object, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise StatementError(f"The {what} must be a whole number from {low} to {high}.")
    return value


def check_bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise StatementError(f"The {what} must be true or false.")
    return value


def check_key(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != KEY_SIZE:
        raise StatementError(f"The {what} must be a {KEY_SIZE}-byte identity key.")
    return value


def check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise StatementError(f"The {what} must be a {HASH_SIZE}-byte SHA-256 hash.")
    return value


def check_choice(value: object, what: str, options: Iterable[str]) -> str:
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        raise StatementError(f"The {what} {value!r} must be one of: {', '.join(options)}.")
    return value


def check_unique(items: Sequence[object], what: str) -> None:
    if len(items) > MAX_ITEMS:
        raise StatementError(f"A statement may list at most {MAX_ITEMS} {what}.")
    if len(set(items)) != len(items):
        raise StatementError(f"The {what} list names the same item twice.")


def b64(data: bytes) -> str:
    return b64u_encode(data)


class Reader:
    """Reads one JSON object that must have exactly ``fields``; every getter checks its type."""

    def __init__(self, value: Any, what: str, fields: Iterable[str]) -> None:
        wanted = set(fields)
        if not isinstance(value, dict) or set(value) != wanted:
            raise StatementError(f"The {what} must have exactly the fields {sorted(wanted)}.")
        self.value: dict[str, Any] = value
        self.what = what

    def _name(self, key: str) -> str:
        return f"{self.what}'s {key}"

    def raw(self, key: str) -> Any:
        return self.value[key]

    def text(self, key: str, limit: int = SHORT_TEXT, *, empty: bool = True) -> str:
        return check_text(self.value[key], self._name(key), limit, empty=empty)

    def opt_text(self, key: str, limit: int = SHORT_TEXT) -> str | None:
        value = self.value[key]
        return None if value is None else check_text(value, self._name(key), limit, empty=False)

    def time(self, key: str) -> int:
        return check_time(self.value[key], self._name(key))

    def integer(self, key: str, low: int, high: int) -> int:
        return check_int(self.value[key], self._name(key), low, high)

    def opt_integer(self, key: str, low: int, high: int) -> int | None:
        value = self.value[key]
        return None if value is None else check_int(value, self._name(key), low, high)

    def boolean(self, key: str) -> bool:
        return check_bool(self.value[key], self._name(key))

    def choice(self, key: str, options: Iterable[str]) -> str:
        return check_choice(self.value[key], self._name(key), options)

    def key(self, key: str) -> bytes:
        return decode(self.value[key], KEY_SIZE, self._name(key))

    def hash(self, key: str) -> bytes:
        return decode(self.value[key], HASH_SIZE, self._name(key))

    def opt_hash(self, key: str) -> bytes | None:
        value = self.value[key]
        return None if value is None else decode(value, HASH_SIZE, self._name(key))

    def items(self, key: str) -> list[Any]:
        value = self.value[key]
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise StatementError(f"The {self._name(key)} must be a list of at most {MAX_ITEMS}.")
        return value

    def strings(self, key: str, limit: int = SHORT_TEXT) -> tuple[str, ...]:
        return tuple(check_text(v, self._name(key), limit, empty=False) for v in self.items(key))


def decode(value: object, length: int, what: str) -> bytes:
    try:
        return b64u_decode(value, length=length, what=what)  # type: ignore[arg-type]
    except EncodingError as exc:
        raise StatementError(str(exc)) from exc
