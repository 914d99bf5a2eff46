"""Known-answer vectors: every valid vector opens and reproduces, every invalid one is refused.

The files live in tests/vectors/{envelope,identity}/{valid,invalid}/ and are written by
tests/vectors/generate.py; their format is described in docs/protocol.md, "Vectors".
"""

from __future__ import annotations

import hashlib
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nacl.public
import nacl.signing
import pytest

import keys.envelope
import keys.randomness
from keys.encoding import b64u_decode, b64u_encode
from keys.envelope import Envelope, Recipient, open_disclosure, open_envelope, seal
from keys.grant import decode_grant
from keys.identity import Fingerprint, decode_history, safety_number
from keys.invite import Invite, join_proof
from keys.logentry import RecordType

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _files(group: str, kind: str) -> list[Path]:
    return sorted((VECTORS / group / kind).glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.parent.name}/{p.parent.name}/{p.stem}" for p in paths]


VALID_ENVELOPES = [p for p in _files("envelope", "valid") if _load(p)["kind"] == "envelope"]
VALID_DISCLOSURES = [p for p in _files("envelope", "valid") if _load(p)["kind"] == "disclosure"]
INVALID = _files("envelope", "invalid") + _files("identity", "invalid") + _files("grant", "invalid")
VALID_GRANTS = _files("grant", "valid")
VALID_INVITES = _files("invite", "valid")
VALID_IDENTITIES = _files("identity", "valid")
VALID_REQUESTS = _files("request", "valid")
LEGACY_ENVELOPES = _files("envelope", "legacy")


def test_the_vector_sets_are_all_there() -> None:
    assert len(VALID_ENVELOPES) >= 4
    assert VALID_DISCLOSURES
    assert len(VALID_IDENTITIES) >= 2
    assert LEGACY_ENVELOPES
    assert len(INVALID) >= 15
    # Each invalid file is named after what is wrong, so names are unique across the sets.
    stems = [p.stem for p in INVALID]
    assert len(stems) == len(set(stems))


@contextmanager
def _replayed_random(draws: list[bytes]) -> Iterator[None]:
    """Hand ``seal`` the vector's recorded random draws, in order, and check it used them all."""
    remaining = list(draws)

    def replay(size: int) -> bytes:
        out = remaining.pop(0)
        assert len(out) == size
        return out

    original = keys.randomness.random_bytes
    keys.randomness.random_bytes = replay
    try:
        yield
    finally:
        keys.randomness.random_bytes = original
    assert not remaining


def _device(party: dict[str, Any], number: int) -> nacl.public.PrivateKey:
    (device,) = [d for d in party["devices"] if d["number"] == number]
    key = nacl.public.PrivateKey(bytes.fromhex(device["device_seed_hex"]))
    assert b64u_encode(bytes(key.public_key)) == device["device_key"]
    return key


@pytest.mark.parametrize("path", VALID_ENVELOPES, ids=_ids(VALID_ENVELOPES))
def test_valid_envelope_opens_to_its_plaintext_for_every_recipient(path: Path) -> None:
    vector = _load(path)
    expected, inputs = vector["expected"], vector["inputs"]
    data = expected["envelope"].encode("ascii")
    envelope = Envelope.from_bytes(data)
    assert envelope.to_bytes() == data
    assert envelope.hash.hex() == expected["envelope_sha256_hex"]
    assert hashlib.sha256(data).hexdigest() == expected["envelope_sha256_hex"]
    assert envelope.context.to_bytes().decode() == expected["context_jcs"]
    plaintext = bytes.fromhex(inputs["plaintext_hex"])
    assert plaintext.decode("utf-8") == inputs["plaintext_utf8"]
    for entry in inputs["recipients"]:
        device = _device(vector["parties"][entry["name"]], entry["device_number"])
        opened = open_envelope(envelope, device)
        assert opened.plaintext == plaintext
        assert opened.message_key.hex() == expected["message_key_hex"]
        assert b64u_encode(opened.sender) == vector["parties"][inputs["sender"]]["identity_key"]
    disclosed = open_disclosure(expected["disclosure"].encode("ascii"))
    assert disclosed.plaintext == plaintext
    assert disclosed.envelope.hash == envelope.hash


@pytest.mark.parametrize("path", VALID_ENVELOPES, ids=_ids(VALID_ENVELOPES))
def test_sealing_the_vector_inputs_with_its_random_draws_reproduces_it_byte_for_byte(
    path: Path,
) -> None:
    vector = _load(path)
    inputs = vector["inputs"]
    parties = vector["parties"]
    sender = nacl.signing.SigningKey(bytes.fromhex(parties[inputs["sender"]]["identity_seed_hex"]))
    recipients = [
        Recipient(
            identity=b64u_decode(parties[r["name"]]["identity_key"]),
            device=bytes(_device(parties[r["name"]], r["device_number"]).public_key),
        )
        for r in inputs["recipients"]
    ]
    draws = [bytes.fromhex(d["hex"]) for d in inputs["random_draws"]]
    with _replayed_random(draws):
        opened = seal(
            bytes.fromhex(inputs["plaintext_hex"]),
            sender=sender,
            recipients=recipients,
            thread=bytes.fromhex(inputs["thread_hex"]),
            prev=None if inputs["prev_hex"] is None else bytes.fromhex(inputs["prev_hex"]),
            purpose=inputs["purpose"],
        )
    assert opened.envelope.to_bytes().decode("ascii") == vector["expected"]["envelope"]
    assert opened.envelope.signature.hex() == vector["expected"]["outer_signature_hex"]
    if inputs["prev_is_hash_of"] is not None:
        previous = _load(path.parent / Path(inputs["prev_is_hash_of"]).name)
        assert previous["expected"]["envelope_sha256_hex"] == inputs["prev_hex"]


@pytest.mark.parametrize("path", LEGACY_ENVELOPES, ids=_ids(LEGACY_ENVELOPES))
def test_a_version_1_unpadded_envelope_still_opens_for_every_recipient(path: Path) -> None:
    vector = _load(path)
    assert vector["kind"] == "legacy-envelope"
    expected = vector["expected"]
    envelope = Envelope.from_bytes(expected["envelope"].encode("ascii"))
    assert envelope.context.version == 1
    assert envelope.hash.hex() == expected["envelope_sha256_hex"]
    for reader in vector["open_as"]:
        device = nacl.public.PrivateKey(bytes.fromhex(reader["device_seed_hex"]))
        opened = open_envelope(envelope, device)
        assert opened.plaintext.hex() == expected["plaintext_hex"]
        assert opened.message_key.hex() == expected["message_key_hex"]


@pytest.mark.parametrize("path", VALID_DISCLOSURES, ids=_ids(VALID_DISCLOSURES))
def test_valid_disclosure_opens_exactly_its_envelope(path: Path) -> None:
    vector = _load(path)
    opened = open_disclosure(vector["input"].encode("ascii"))
    assert opened.plaintext == bytes.fromhex(vector["expected"]["plaintext_hex"])
    assert opened.envelope.hash.hex() == vector["expected"]["envelope_sha256_hex"]
    assert b64u_encode(opened.sender) == vector["expected"]["sender"]


@pytest.mark.parametrize("path", VALID_IDENTITIES, ids=_ids(VALID_IDENTITIES))
def test_valid_identity_bundle_folds_to_its_devices_fingerprint_and_safety_number(
    path: Path,
) -> None:
    vector = _load(path)
    expected = vector["expected"]
    bundle = expected["bundle"].encode("utf-8")
    assert hashlib.sha256(bundle).hexdigest() == expected["bundle_sha256_hex"]
    history = decode_history(bundle)
    assert history.to_bytes() == bundle
    assert b64u_encode(history.identity_key) == expected["identity_key"]
    assert (history.name, history.role, history.email) == (
        expected["name"],
        expected["role"],
        expected["email"],
    )
    assert (history.created_at, history.revoked_at) == (
        expected["created_at"],
        expected["revoked_at"],
    )
    assert history.fingerprint.digest.hex() == expected["fingerprint_hex"]
    assert str(history.fingerprint) == expected["fingerprint"]
    assert Fingerprint.parse(expected["fingerprint"]) == history.fingerprint
    for at in expected["devices_at"]:
        assert [b64u_encode(d) for d in history.devices_at(at["time"])] == at["devices"]
    assert [b64u_encode(d) for d in history.current_devices()] == expected["current_devices"]
    other = expected["safety_number_with"]
    other_key = b64u_decode(other["identity_key"])
    assert safety_number(history.identity_key, other_key) == other["safety_number"]
    assert safety_number(other_key, history.identity_key) == other["safety_number"]
    statements = [r["statement"] for r in vector["inputs"]["records"]]
    assert [json.loads(s) for s in statements] == json.loads(bundle)["records"]


def _error_class(vector: dict[str, Any]) -> type[BaseException]:
    cls = getattr(importlib.import_module(vector["error_module"]), vector["error"])
    assert isinstance(cls, type) and issubclass(cls, keys.errors.KeysError)
    return cls


def _attempt(vector: dict[str, Any]) -> None:
    data = vector["input"].encode("utf-8")
    if vector["kind"] == "envelope":
        device = nacl.public.PrivateKey(bytes.fromhex(vector["open_as"]["device_seed_hex"]))
        open_envelope(Envelope.from_bytes(data), device)
    elif vector["kind"] == "disclosure":
        open_disclosure(data)
    elif vector["kind"] == "identity":
        decode_history(data)
    elif vector["kind"] == "grant":
        decode_grant(data)
    else:  # pragma: no cover - a malformed vector file
        raise AssertionError(f"unknown vector kind {vector['kind']!r}")


@pytest.mark.parametrize("path", VALID_GRANTS, ids=_ids(VALID_GRANTS))
def test_valid_grant_verifies_and_names_its_granter_thread_and_grantee(path: Path) -> None:
    vector = _load(path)
    data = vector["expected"]["grant"].encode("utf-8")
    grant = decode_grant(data)
    parties = vector["parties"]
    assert b64u_encode(grant.granter) == parties["alice"]["identity_key"]
    assert b64u_encode(grant.grantee) == parties[vector["inputs"]["grantee"]]["identity_key"]
    assert b64u_encode(grant.thread) == vector["inputs"]["thread"]
    assert grant.to_bytes() == data
    assert hashlib.sha256(data).hexdigest() == vector["expected"]["grant_sha256_hex"]
    assert vector["expected"]["log_entry_record_type"] == int(RecordType.THREAD_GRANT)


@pytest.mark.parametrize("path", VALID_INVITES, ids=_ids(VALID_INVITES))
def test_valid_invite_code_decodes_to_its_role_id_and_join_proof(path: Path) -> None:
    vector = _load(path)
    invite = Invite.decode(vector["expected"]["code"])
    assert invite.to_json() == vector["inputs"] and invite.role == vector["inputs"]["role"]
    assert invite.invite_id.hex() == vector["expected"]["invite_id_hex"]
    bob = b64u_decode(vector["parties"]["bob"]["identity_key"])
    proof = join_proof(invite.secret, invite.thread, bob)
    assert proof.hex() == vector["expected"]["join_proof_for_bob_hex"]


@pytest.mark.parametrize("path", INVALID, ids=_ids(INVALID))
def test_invalid_vector_is_refused_with_exactly_its_named_error(path: Path) -> None:
    vector = _load(path)
    expected = _error_class(vector)
    with pytest.raises(expected) as caught:
        _attempt(vector)
    assert type(caught.value) is expected, f"{path.name}: {caught.value!r}"
    assert str(caught.value)  # one sentence a person can act on


@pytest.mark.parametrize("path", VALID_REQUESTS, ids=_ids(VALID_REQUESTS))
def test_signed_request_vector_verifies_only_for_its_authority(path: Path) -> None:
    from keys.httpsig import RequestSignatureError, verify_request

    vector = _load(path)
    inputs, headers = vector["inputs"], vector["expected"]["headers"]
    body = inputs["body"].encode("ascii")
    signed = verify_request(
        inputs["method"], inputs["target"], headers, body, authority=inputs["authority"]
    )
    assert signed.created == inputs["created"] and signed.nonce.hex() == inputs["nonce_hex"]
    assert b64u_encode(signed.identity_key) == vector["parties"][0]["identity_key"]
    for other in ("relay.example.org", inputs["authority"] + "0"):
        with pytest.raises(RequestSignatureError):
            verify_request(inputs["method"], inputs["target"], headers, body, authority=other)


def test_generator_reproduces_every_vector_file_byte_for_byte() -> None:
    result = subprocess.run(
        [sys.executable, str(VECTORS / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


MAIL_SEALS = _files("mail", "valid")


@pytest.mark.parametrize("path", MAIL_SEALS, ids=_ids(MAIL_SEALS))
def test_a_mail_seal_opens_for_each_device_and_reseals_byte_for_byte(path: Path) -> None:
    from keys import armor, mailseal

    vector = _load(path)
    inputs, expected = vector["inputs"], vector["expected"]
    envelope = _load(VECTORS / inputs["plaintext_is_envelope_of"])["expected"]["envelope"]
    sealed = bytes.fromhex(expected["sealed_hex"])
    assert armor.dearmor(expected["armored"], armor.SEALED) == sealed
    for seed_hex in inputs["device_seeds_hex"]:
        device = nacl.public.PrivateKey(bytes.fromhex(seed_hex))
        assert mailseal.open_sealed(sealed, [device]) == envelope.encode("ascii")
    keys_hex = [bytes.fromhex(k) for k in inputs["device_keys_hex"]]
    with _replayed_random([bytes.fromhex(d["hex"]) for d in inputs["random_draws"]]):
        again = mailseal.seal_for(envelope.encode("ascii"), keys_hex)
    assert again == sealed
    assert expected["aead_length"] & (expected["aead_length"] - 1) == 0
