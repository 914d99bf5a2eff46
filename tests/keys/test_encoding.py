"""Canonical encodings: the fast path agrees with the RFC 8785 reference, and strictness holds."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.encoding import b64u_decode, b64u_encode, canonical_json, parse_canonical_json
from keys.errors import EncodingError

# JSON values of the kind the protocol writes, and some it never writes (floats, huge
# integers, non-ASCII keys, deep nesting), so both paths of canonical_json are exercised.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def _reference(value: object) -> bytes | type[Exception]:
    try:
        return bytes(rfc8785.dumps(value))
    except Exception:
        return EncodingError


@settings(max_examples=1000)
@given(json_values)
def test_canonical_json_matches_the_rfc8785_reference_byte_for_byte(value: object) -> None:
    expected = _reference(value)
    if expected is EncodingError:
        with pytest.raises(EncodingError):
            canonical_json(value)
    else:
        assert canonical_json(value) == expected


def test_control_characters_and_non_ascii_are_escaped_as_jcs_says() -> None:
    value = {"b": '\x00\x08\x09\x0a\x0c\x0d\x1f"\\é\u2028\x7f😀', "a": [2**53 - 1, -1, None]}
    assert canonical_json(value) == bytes(rfc8785.dumps(value))


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(EncodingError):
        canonical_json({"a": "\ud800"})


@pytest.mark.parametrize(
    "text",
    [b'{ "a":1}', b'{"b":1,"a":2}', b'{"a":1.0}', b'{"a":"\\u00e9"}', b'{"a":1,"a":1}', b"[1,]"],
)
def test_non_canonical_json_is_refused(text: bytes) -> None:
    with pytest.raises(EncodingError):
        parse_canonical_json(text)


@given(st.binary(max_size=64))
def test_base64url_round_trips(data: bytes) -> None:
    assert b64u_decode(b64u_encode(data)) == data


@pytest.mark.parametrize("text", ["AA==", "A", "AB", "+/", "AAA=", " AA"])
def test_non_canonical_base64url_is_refused(text: str) -> None:
    with pytest.raises(EncodingError):
        b64u_decode(text)


@settings(max_examples=500)
@given(json_values)
def test_canonical_bytes_parse_back_or_are_refused_never_changed(value: object) -> None:
    try:
        data = canonical_json(value)
    except EncodingError:
        return
    try:
        parsed = parse_canonical_json(data)
    except EncodingError:
        # A float such as 2.0**53 prints as an integer the reference then refuses to
        # re-encode; refusing is the strict answer. Anything else must round-trip.
        return
    assert canonical_json(parsed) == data


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":9007199254740993}',
        b'{"\xc3\xa9":1,"z":2}',
        b'{"a":1e+21}',
        b'{"a":0.5}',
        b'{"a":1.0}',
    ],
)
def test_documents_outside_the_fast_subset_are_judged_by_the_reference(text: bytes) -> None:
    import json

    expected = _reference(json.loads(text))
    if expected == text:
        assert canonical_json(parse_canonical_json(text)) == text
    else:
        with pytest.raises(EncodingError):
            parse_canonical_json(text)


@pytest.mark.parametrize("length", range(0, 70))
def test_fixed_length_fast_path_accepts_exactly_the_canonical_texts(length: int) -> None:
    import base64
    import os

    from keys.encoding import _exact_b64u

    text = b64u_encode(os.urandom(length))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for last in alphabet if text else [""]:
        candidate = text[:-1] + last
        decoded = base64.urlsafe_b64decode(candidate + "=" * (-len(candidate) % 4))
        canonical = b64u_encode(decoded) == candidate
        assert bool(_exact_b64u(length).match(candidate)) is canonical
        if canonical:
            assert b64u_decode(candidate, length=length) == decoded
        else:
            with pytest.raises(EncodingError):
                b64u_decode(candidate, length=length)
