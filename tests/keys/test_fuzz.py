"""Fuzzing the trust core's parsers: whatever the bytes, only a ``KeysError`` comes out.

Hypothesis, derandomized (the same examples on every run), mutates valid vectors byte by byte
and structurally and also feeds hostile shapes (deep nesting, huge numbers, wrong types in
every member). Each parser must either return or raise a ``keys.errors.KeysError`` subclass:
never a RecursionError, ValueError, TypeError, IndexError or anything else.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys import armor
from keys.encoding import canonical_json, parse_canonical_json, parse_json
from keys.envelope import Envelope, open_disclosure
from keys.errors import KeysError
from keys.identity import decode_history
from keys.statement import Statement

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
FUZZ = settings(
    derandomize=True,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def _vector(path: str) -> dict[str, Any]:
    return dict(json.loads((VECTORS / path).read_text("utf-8")))


ENVELOPE = _vector("envelope/valid/three-recipients-chained.json")["expected"]["envelope"].encode()
DISCLOSURE = _vector("envelope/valid/disclosure.json")["input"].encode()
BUNDLE = _vector("identity/valid/history-with-rotation-and-revocation.json")["expected"][
    "bundle"
].encode()
STATEMENT = canonical_json(json.loads(BUNDLE)["records"][0])

# JSON values of every type, nested a little (the structural mutations put them anywhere).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(copy[path[0]], path[1:], new)
    return copy


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """A valid document with one member replaced, bytes flipped, cut, or nested to death."""
    kind = draw(st.sampled_from(["member", "bytes", "cut", "deep", "number", "raw"]))
    if kind == "member":
        value = json.loads(valid)
        path = draw(st.sampled_from(_paths(value)))
        new = draw(json_values)
        return json.dumps(
            _replace(value, path, new), separators=(",", ":"), sort_keys=True
        ).encode()
    if kind == "bytes":
        data = bytearray(valid)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "cut":
        return valid[: draw(st.integers(0, len(valid)))]
    if kind == "deep":
        depth = draw(st.integers(30, 3000))
        opener = draw(st.sampled_from(["[", '{"a":']))
        closer = "]" if opener == "[" else "}"
        return (opener * depth + "1" + closer * depth).encode()
    if kind == "number":
        digits = draw(st.integers(15, 6000))
        return valid.replace(b"[", b"[" + b"9" * digits + b",", 1)
    return draw(st.binary(max_size=300))


def _only_keys_errors(parse: Callable[[bytes], Any], data: bytes) -> None:
    with contextlib.suppress(KeysError):
        parse(data)


@FUZZ
@given(mutated(ENVELOPE))
def test_envelope_from_bytes(data: bytes) -> None:
    _only_keys_errors(Envelope.from_bytes, data)


@FUZZ
@given(mutated(DISCLOSURE))
def test_disclosure(data: bytes) -> None:
    _only_keys_errors(open_disclosure, data)


@FUZZ
@given(mutated(BUNDLE))
def test_identity_bundle(data: bytes) -> None:
    _only_keys_errors(decode_history, data)


@FUZZ
@given(mutated(STATEMENT))
def test_statement(data: bytes) -> None:
    _only_keys_errors(Statement.from_bytes, data)


@FUZZ
@given(mutated(ENVELOPE), st.sampled_from(["cut", "line", "char", "none"]))
def test_armor(data: bytes, damage: str) -> None:
    text = armor.armor(data, armor.ENVELOPE)
    if damage == "cut":
        text = text[: len(text) // 2]
    elif damage == "line":
        text = text.replace("\n", "\n>", 3)
    elif damage == "char":
        text = text[:40] + "\x00\u2603" + text[42:]

    def parse(_: bytes) -> Any:
        for block in armor.find_armored(text, armor.ENVELOPE):
            Envelope.from_bytes(block)
        return armor.dearmor(text, armor.ENVELOPE)

    _only_keys_errors(parse, data)


@FUZZ
@given(st.binary(max_size=400) | mutated(ENVELOPE))
def test_the_json_parsers(data: bytes) -> None:
    _only_keys_errors(parse_json, data)
    _only_keys_errors(parse_canonical_json, data)


@pytest.mark.parametrize(
    "document",
    [
        b"[" * 100_000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b"[" + b"1" * 5000 + b"]",
        b"[" + b"1" * 20 + b"]",
        b"[1e400]",
        b'{"a":1,"a":2}',
        b"[NaN]",
    ],
)
def test_hostile_json_is_refused(document: bytes) -> None:
    with pytest.raises(KeysError):
        parse_json(document)
    with pytest.raises(KeysError):
        Envelope.from_bytes(document)


def test_envelope_whose_keys_is_not_a_list() -> None:
    value = json.loads(ENVELOPE)
    for keys in ("abc", 3, None, {"a": 1}):
        with pytest.raises(KeysError):
            Envelope.from_bytes(canonical_json({**value, "keys": keys}))
