"""Identities: the history fold, fingerprints and safety numbers."""

from __future__ import annotations

import hashlib

import nacl.public
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.encoding import b64u_encode
from keys.errors import EncodingError, LimitError
from keys.identity import (
    MAX_HISTORY_RECORDS,
    Fingerprint,
    KeyHistory,
    KeyHistoryError,
    certify_device,
    decode_history,
    encode_history,
    make_identity_record,
    revoke_device,
    revoke_identity,
    rotate_device,
    safety_number,
)
from keys.statement import Statement

T0 = 1_767_225_600
DAY = 86_400


def _identity(label: str) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(hashlib.sha256(b"test/identity/" + label.encode()).digest())


def _device(label: str) -> bytes:
    seed = hashlib.sha256(b"test/device/" + label.encode()).digest()
    return bytes(nacl.public.PrivateKey(seed).public_key)


ANN = _identity("ann")
BEN = _identity("ben")
D1, D2, D3 = _device("ann/1"), _device("ann/2"), _device("ann/3")


def _record(key: nacl.signing.SigningKey = ANN, at: int = T0) -> Statement:
    return make_identity_record(key, name="Ann Lee", role="performer", issued_at=at)


def test_a_new_identity_has_no_devices_until_it_certifies_one() -> None:
    history = KeyHistory.from_records([_record()])
    assert history.devices_at(T0) == []
    assert history.current_devices() == []
    assert history.identity_key == bytes(ANN.verify_key)
    assert (history.name, history.role, history.email) == ("Ann Lee", "performer", None)


def test_a_certified_device_is_valid_from_its_certificate_on() -> None:
    history = KeyHistory.from_records([_record(), certify_device(ANN, D1, issued_at=T0 + 10)])
    assert history.devices_at(T0 + 9) == []
    assert history.devices_at(T0 + 10) == [D1]
    assert history.current_devices() == [D1]


def test_a_rotation_retires_the_old_device_and_starts_the_new_one_at_the_same_moment() -> None:
    history = KeyHistory.from_records(
        [
            _record(),
            certify_device(ANN, D1, issued_at=T0 + 10),
            rotate_device(ANN, D1, D2, issued_at=T0 + DAY),
        ]
    )
    assert history.devices_at(T0 + DAY - 1) == [D1]
    assert history.devices_at(T0 + DAY) == [D2]
    assert history.current_devices() == [D2]


def test_a_revoked_device_stays_valid_for_what_came_before_its_revocation() -> None:
    history = KeyHistory.from_records(
        [
            _record(),
            certify_device(ANN, D1, issued_at=T0 + 10),
            certify_device(ANN, D2, issued_at=T0 + 20),
            revoke_device(ANN, D1, issued_at=T0 + DAY, reason="phone stolen"),
        ]
    )
    assert history.devices_at(T0 + 20) == [D1, D2]
    assert history.devices_at(T0 + DAY) == [D2]
    assert history.current_devices() == [D2]


def test_after_identity_revocation_no_device_is_valid_and_the_identity_is_retired() -> None:
    history = KeyHistory.from_records(
        [
            _record(),
            certify_device(ANN, D1, issued_at=T0 + 10),
            revoke_identity(ANN, issued_at=T0 + DAY, reason="left the production"),
        ]
    )
    assert history.revoked_at == T0 + DAY
    assert history.devices_at(T0 + DAY - 1) == [D1]
    assert history.devices_at(T0 + DAY) == []
    assert history.current_devices() == []
    assert history.identity_valid_at(T0)
    assert not history.identity_valid_at(T0 - 1)
    assert not history.identity_valid_at(T0 + DAY)


def test_records_at_the_same_second_are_in_order() -> None:
    KeyHistory.from_records([_record(), certify_device(ANN, D1, issued_at=T0)])


@pytest.mark.parametrize(
    ("story", "records"),
    [
        ("empty", []),
        ("no identity record first", [certify_device(ANN, D1, issued_at=T0)]),
        ("out of order", [_record(), certify_device(ANN, D1, issued_at=T0 - 1)]),
        ("signed by another key", [_record(), certify_device(BEN, D1, issued_at=T0 + 1)]),
        (
            "certified twice",
            [
                _record(),
                certify_device(ANN, D1, issued_at=T0 + 1),
                certify_device(ANN, D1, issued_at=T0 + 2),
            ],
        ),
        ("rotates a stranger", [_record(), rotate_device(ANN, D1, D2, issued_at=T0 + 1)]),
        (
            "revokes a retired device",
            [
                _record(),
                certify_device(ANN, D1, issued_at=T0 + 1),
                rotate_device(ANN, D1, D2, issued_at=T0 + 2),
                revoke_device(ANN, D1, issued_at=T0 + 3, reason="again"),
            ],
        ),
        (
            "rotates into a device used before",
            [
                _record(),
                certify_device(ANN, D1, issued_at=T0 + 1),
                certify_device(ANN, D2, issued_at=T0 + 1),
                rotate_device(ANN, D1, D2, issued_at=T0 + 2),
            ],
        ),
        (
            "continues after revocation",
            [
                _record(),
                revoke_identity(ANN, issued_at=T0 + 1, reason="retired"),
                certify_device(ANN, D3, issued_at=T0 + 2),
            ],
        ),
        ("two identity records", [_record(), _record(at=T0 + 1)]),
    ],
)
def test_an_inconsistent_history_is_refused(story: str, records: list) -> None:
    with pytest.raises(KeyHistoryError):
        KeyHistory.from_records(records)


def test_a_history_longer_than_the_limit_is_refused_with_a_limit_error() -> None:
    records = [_record()] + [certify_device(ANN, D1, issued_at=T0)] * MAX_HISTORY_RECORDS
    with pytest.raises(LimitError):
        KeyHistory.from_records(records)


def test_the_bundle_round_trips_and_a_bad_signature_in_it_reads_as_a_history_error() -> None:
    records = [_record(), certify_device(ANN, D1, issued_at=T0 + 1)]
    data = encode_history(records)
    assert decode_history(data).to_bytes() == data
    tampered = data.replace(b"Ann Lee", b"Ann Lea")
    with pytest.raises(KeyHistoryError, match="does not verify"):
        decode_history(tampered)


@pytest.mark.parametrize(
    "data",
    [b"[]", b'{"records":{}}', b'{"other":[],"records":[]}', b'{"records": []}', b"\xff"],
)
def test_a_bundle_that_is_not_an_object_with_one_records_list_is_refused(data: bytes) -> None:
    with pytest.raises(EncodingError):
        decode_history(data)


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("name", "a\nb"), ("name", "x" * 129), ("email", "not-an-address")],
)
def test_an_identity_record_with_bad_text_is_refused_at_creation(field: str, value: str) -> None:
    kwargs = {"name": "Ann", "role": "ic", "issued_at": T0, field: value}
    with pytest.raises(EncodingError):
        make_identity_record(ANN, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("when", [-1, 2**53, True, 1.5])
def test_times_are_whole_seconds_within_json_precision(when: object) -> None:
    with pytest.raises(EncodingError):
        certify_device(ANN, D1, issued_at=when)  # type: ignore[arg-type]


def test_a_rotation_to_the_same_key_and_an_unknown_role_are_refused() -> None:
    with pytest.raises(EncodingError):
        rotate_device(ANN, D1, D1, issued_at=T0)
    with pytest.raises(EncodingError):
        make_identity_record(ANN, name="Ann", role="director", issued_at=T0)  # type: ignore[arg-type]


# --- fingerprints --------------------------------------------------------------------------------


def test_a_fingerprint_is_sha256_of_the_domain_tag_and_key_cut_to_20_bytes() -> None:
    key = bytes(ANN.verify_key)
    expected = hashlib.sha256(b"closedset/fingerprint/v1\x00" + key).digest()[:20]
    fingerprint = Fingerprint.of(key)
    assert fingerprint.digest == expected
    assert len(fingerprint.compact) == 32
    groups = fingerprint.grouped().split(" ")
    assert len(groups) == 8 and all(len(g) == 4 for g in groups)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    group=st.integers(min_value=1, max_value=32),
    separator=st.sampled_from([" ", "-", ":", "  ", "\t", "\n", ""]),
    lower=st.booleans(),
)
def test_a_fingerprint_reads_back_in_any_grouping_and_case(
    seed: bytes, group: int, separator: str, lower: bool
) -> None:
    fingerprint = Fingerprint.of(bytes(nacl.signing.SigningKey(seed).verify_key))
    compact = fingerprint.compact.lower() if lower else fingerprint.compact
    typed = separator.join(compact[i : i + group] for i in range(0, 32, group))
    assert Fingerprint.parse(f" {typed} ") == fingerprint


@pytest.mark.parametrize(
    "text",
    ["", "ABCD", "A" * 31, "A" * 33, "A" * 31 + "1", "A" * 31 + "8", "A" * 31 + "=", "Ä" * 32],
)
def test_garbage_is_not_a_fingerprint(text: str) -> None:
    with pytest.raises(EncodingError, match="not a fingerprint"):
        Fingerprint.parse(text)


def test_a_fingerprint_needs_a_32_byte_key() -> None:
    with pytest.raises(EncodingError):
        Fingerprint.of(b"\x00" * 31)


# --- safety numbers ------------------------------------------------------------------------------


def test_a_safety_number_is_the_same_whoever_computes_it() -> None:
    a, b = bytes(ANN.verify_key), bytes(BEN.verify_key)
    number = safety_number(a, b)
    assert number == safety_number(b, a)
    groups = number.split(" ")
    assert len(groups) == 12 and all(len(g) == 5 and g.isdigit() for g in groups)


def test_a_safety_number_differs_for_every_pair() -> None:
    keys = [bytes(_identity(n).verify_key) for n in ("ann", "ben", "cal", "dee")]
    numbers = {
        frozenset((i, j)): safety_number(keys[i], keys[j])
        for i in range(len(keys))
        for j in range(i + 1, len(keys))
    }
    assert len(set(numbers.values())) == len(numbers)


def test_a_safety_number_changes_when_one_side_changes_key() -> None:
    a, b = bytes(ANN.verify_key), bytes(BEN.verify_key)
    assert safety_number(a, b) != safety_number(a, bytes(_identity("ben-new").verify_key))


def test_each_half_of_a_safety_number_is_that_persons_iterated_sha512_digits() -> None:
    # Half = six 5-byte big-endian chunks mod 100000 of SHA-512 iterated 5200 times.
    key = bytes(ANN.verify_key)
    digest = b"closedset/safety-number/v1\x00" + key
    for _ in range(5200):
        digest = hashlib.sha512(digest + key).digest()
    half = "".join(
        f"{int.from_bytes(digest[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5)
    )
    number = safety_number(key, bytes(BEN.verify_key)).replace(" ", "")
    assert half in (number[:30], number[30:])


def test_device_keys_are_written_as_base64url_in_certificates() -> None:
    certificate = certify_device(ANN, D1, issued_at=T0)
    assert certificate.body["device"] == b64u_encode(D1)
