"""Signed statements: the signing input, purpose separation and strict decoding."""

from __future__ import annotations

import hashlib

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import statement as sig
from keys.encoding import b64u_encode, canonical_json
from keys.errors import EncodingError, LimitError, SignatureError
from keys.statement import Statement, check_purpose, sign_statement, signing_input

ALL_PURPOSES = [
    sig.ENVELOPE_INNER,
    sig.ENVELOPE_OUTER,
    sig.IDENTITY_RECORD,
    sig.DEVICE_CERTIFICATE,
    sig.DEVICE_ROTATION,
    sig.DEVICE_REVOCATION,
    sig.IDENTITY_REVOCATION,
]
KEY = nacl.signing.SigningKey(hashlib.sha256(b"test/statement/alice").digest())
OTHER = nacl.signing.SigningKey(hashlib.sha256(b"test/statement/bob").digest())


def test_signing_input_is_purpose_then_a_zero_byte_then_the_message() -> None:
    assert signing_input(sig.ENVELOPE_OUTER, b"abc") == b"closedset/envelope/outer/v1\x00abc"


def test_every_purpose_tag_is_distinct_and_well_formed() -> None:
    assert len(set(ALL_PURPOSES)) == len(ALL_PURPOSES)
    for purpose in ALL_PURPOSES:
        assert check_purpose(purpose) == purpose


@pytest.mark.parametrize(
    "tag",
    [
        "",
        "closedset/envelope",
        "closedset/Envelope/v1",
        "closedset/envelope/v0",
        "closedset//v1",
        "other/envelope/v1",
        "closedset/envelope/v1\x00",
        "closedset/" + "a" * 60 + "/v1",
        None,
        7,
    ],
)
def test_a_malformed_purpose_tag_is_refused(tag: object) -> None:
    with pytest.raises(EncodingError):
        check_purpose(tag)  # type: ignore[arg-type]


@pytest.mark.parametrize("signed_for", ALL_PURPOSES)
@pytest.mark.parametrize("checked_for", ALL_PURPOSES)
def test_a_signature_made_for_one_purpose_never_verifies_for_another(
    signed_for: str, checked_for: str
) -> None:
    message = b"the same message bytes"
    signature = sig.sign(KEY, signed_for, message)
    if signed_for == checked_for:
        sig.verify(bytes(KEY.verify_key), checked_for, message, signature)
    else:
        with pytest.raises(SignatureError):
            sig.verify(bytes(KEY.verify_key), checked_for, message, signature)


@settings(max_examples=50, deadline=None)
@given(message=st.binary(max_size=64), cut=st.integers(min_value=0, max_value=64))
def test_moving_bytes_between_purpose_and_message_does_not_keep_a_signature_valid(
    message: bytes, cut: int
) -> None:
    # The zero byte ends the tag, so "purpose/x" + "y" can never collide with "purpose" + "/xy".
    signature = sig.sign(KEY, sig.DEVICE_ROTATION, message)
    with pytest.raises(SignatureError):
        sig.verify(bytes(KEY.verify_key), sig.DEVICE_REVOCATION, message, signature)
    with pytest.raises(SignatureError):
        sig.verify(bytes(KEY.verify_key), sig.DEVICE_ROTATION, message + b"\x00", signature)


def test_a_signature_by_another_key_is_refused_with_one_sentence() -> None:
    signature = sig.sign(OTHER, sig.IDENTITY_RECORD, b"x")
    with pytest.raises(SignatureError, match="does not verify"):
        sig.verify(bytes(KEY.verify_key), sig.IDENTITY_RECORD, b"x", signature)


def test_a_signature_or_key_of_the_wrong_length_is_refused_before_verifying() -> None:
    signature = sig.sign(KEY, sig.IDENTITY_RECORD, b"x")
    with pytest.raises(SignatureError, match="wrong length"):
        sig.verify(bytes(KEY.verify_key), sig.IDENTITY_RECORD, b"x", signature[:-1])
    with pytest.raises(SignatureError, match="wrong length"):
        sig.verify(bytes(KEY.verify_key)[:-1], sig.IDENTITY_RECORD, b"x", signature)


def test_a_statement_carries_its_signer_and_round_trips_through_canonical_bytes() -> None:
    statement = sign_statement(KEY, {"purpose": sig.IDENTITY_RECORD, "name": "Ann"})
    assert statement.body["signer"] == b64u_encode(bytes(KEY.verify_key))
    assert statement.signer == bytes(KEY.verify_key)
    data = statement.to_bytes()
    assert data == canonical_json(statement.to_json())
    again = Statement.from_bytes(data).verify(sig.IDENTITY_RECORD)
    assert again == Statement(body=statement.body, signature=statement.signature)


def test_a_statement_signature_covers_the_canonical_body_under_its_own_purpose() -> None:
    statement = sign_statement(KEY, {"purpose": sig.DEVICE_CERTIFICATE, "issued_at": 5})
    sig.verify(
        bytes(KEY.verify_key),
        sig.DEVICE_CERTIFICATE,
        canonical_json(dict(statement.body)),
        statement.signature,
    )


def test_a_statement_checked_for_another_purpose_is_refused() -> None:
    statement = sign_statement(KEY, {"purpose": sig.DEVICE_CERTIFICATE})
    with pytest.raises(SignatureError, match="Expected a closedset/device-revocation/v1"):
        statement.verify(sig.DEVICE_REVOCATION)


def test_a_statement_whose_body_was_changed_after_signing_is_refused() -> None:
    statement = sign_statement(KEY, {"purpose": sig.IDENTITY_RECORD, "name": "Ann"})
    altered = Statement(body={**statement.body, "name": "Anne"}, signature=statement.signature)
    with pytest.raises(SignatureError):
        altered.verify()


def test_a_statement_whose_purpose_was_relabelled_is_refused() -> None:
    statement = sign_statement(KEY, {"purpose": sig.DEVICE_ROTATION, "issued_at": 1})
    relabelled = Statement(
        body={**statement.body, "purpose": sig.DEVICE_REVOCATION}, signature=statement.signature
    )
    with pytest.raises(SignatureError):
        relabelled.verify()


def test_sign_statement_refuses_a_body_without_a_purpose_tag() -> None:
    with pytest.raises(EncodingError):
        sign_statement(KEY, {"name": "Ann"})


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"body": {}},
        {"body": {"purpose": sig.IDENTITY_RECORD}, "signature": "AA"},
        {"body": {"signer": "AA"}, "signature": "AA"},
        {"body": "x", "signature": "AA"},
        {"body": {"purpose": sig.IDENTITY_RECORD, "signer": "AA"}, "signature": "AA", "x": 1},
    ],
)
def test_a_statement_of_the_wrong_shape_is_refused(value: object) -> None:
    with pytest.raises(EncodingError):
        Statement.from_json(value)


def test_a_statement_with_a_short_signer_key_or_signature_is_refused() -> None:
    good = sign_statement(KEY, {"purpose": sig.IDENTITY_RECORD}).to_json()
    short_signer = {**good, "body": {**good["body"], "signer": b64u_encode(b"\x01" * 31)}}
    with pytest.raises(EncodingError, match="32 bytes"):
        Statement.from_json(short_signer)
    with pytest.raises(EncodingError, match="64 bytes"):
        Statement.from_json({**good, "signature": b64u_encode(b"\x01" * 63)})


def test_statement_bytes_not_in_canonical_form_are_refused() -> None:
    data = sign_statement(KEY, {"purpose": sig.IDENTITY_RECORD}).to_bytes()
    with pytest.raises(EncodingError, match="canonical"):
        Statement.from_bytes(data + b" ")
    with pytest.raises(EncodingError, match="canonical"):
        Statement.from_bytes(data.replace(b":", b": ", 1))


def test_a_statement_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(LimitError):
        Statement.from_bytes(b" " * (sig.MAX_STATEMENT_BYTES + 1))
