"""C2SP tlog-cosignature v1: timestamped Ed25519 witness cosignatures on checkpoints."""

from __future__ import annotations

import base64
import hashlib

import nacl.signing
import pytest

from keys.checkpoint import Checkpoint, MalformedCheckpointError, sign_checkpoint
from keys.cosignature import (
    COSIGNATURE_SIZE,
    MAX_TIMESTAMP,
    CosignatureSigner,
    CosignatureVerifier,
    MalformedCosignatureError,
    cosign_checkpoint_note,
    cosignature_timestamp,
    cosigned_message,
)
from keys.note import (
    InvalidNoteSignatureError,
    MalformedNoteKeyError,
    NoteSigner,
    NoteVerifier,
    open_note,
    split_note,
)

SEED = bytes(range(100, 132))
WITNESS = CosignatureSigner("witness.example.com/w1", SEED)
LOG = NoteSigner("example.com/log", bytes(range(32)))
CP1 = Checkpoint("example.com/log", 5, hashlib.sha256(b"one").digest())
CP2 = Checkpoint("example.com/log", 6, hashlib.sha256(b"two").digest())
WHEN = 1679315147


def test_cosigned_message_is_header_time_line_then_checkpoint_text() -> None:
    body = CP1.to_text().encode()
    assert cosigned_message(body, WHEN) == b"cosignature/v1\ntime 1679315147\n" + body


def test_cosignature_is_big_endian_time_then_a_plain_ed25519_signature() -> None:
    signature = WITNESS.cosign(CP1.to_text(), WHEN)
    assert len(signature) == COSIGNATURE_SIZE == 72
    assert signature[:8] == WHEN.to_bytes(8, "big")
    # Check against PyNaCl directly, independent of the verifier class.
    verify_key = nacl.signing.SigningKey(SEED).verify_key
    expected = b"cosignature/v1\ntime 1679315147\n" + CP1.to_text().encode()
    verify_key.verify(expected, signature[8:])


def test_cosigner_key_id_uses_signature_type_0x04() -> None:
    public_key = bytes(nacl.signing.SigningKey(SEED).verify_key)
    digest = hashlib.sha256(b"witness.example.com/w1\n\x04" + public_key).digest()
    assert WITNESS.key_id == digest[:4]
    assert WITNESS.verifier().key_id == digest[:4]
    # The same key as a plain note signer has another id, so the two never get confused.
    assert NoteSigner(WITNESS.name, SEED).key_id != WITNESS.key_id


def test_cosignature_verifies_for_its_checkpoint() -> None:
    signature = WITNESS.cosign(CP1.to_text(), WHEN)
    assert WITNESS.verifier().verify(CP1.to_text().encode(), signature)
    assert CosignatureVerifier.timestamp(signature) == WHEN


def test_cosignature_for_one_checkpoint_does_not_verify_another() -> None:
    signature = WITNESS.cosign(CP1.to_text(), WHEN)
    assert not WITNESS.verifier().verify(CP2.to_text().encode(), signature)


def test_cosignature_with_an_altered_timestamp_does_not_verify() -> None:
    signature = WITNESS.cosign(CP1.to_text(), WHEN)
    moved = (WHEN + 1).to_bytes(8, "big") + signature[8:]
    assert not WITNESS.verifier().verify(CP1.to_text().encode(), moved)


def test_plain_ed25519_signature_is_not_a_cosignature() -> None:
    plain = NoteSigner(WITNESS.name, SEED).sign(CP1.to_text().encode())
    assert not WITNESS.verifier().verify(CP1.to_text().encode(), plain)


def test_timestamp_over_2_pow_63_minus_1_is_refused() -> None:
    signature = WITNESS.cosign(CP1.to_text(), WHEN)
    too_late = (2**63).to_bytes(8, "big") + signature[8:]
    assert not WITNESS.verifier().verify(CP1.to_text().encode(), too_late)
    with pytest.raises(MalformedCosignatureError):
        cosignature_timestamp(too_late)
    with pytest.raises(ValueError):
        WITNESS.cosign(CP1.to_text(), MAX_TIMESTAMP + 1)
    with pytest.raises(ValueError):
        WITNESS.cosign(CP1.to_text(), -1)


def test_cosignature_of_the_wrong_length_has_no_timestamp() -> None:
    with pytest.raises(MalformedCosignatureError, match="72"):
        cosignature_timestamp(bytes(71))


def test_witness_refuses_to_cosign_text_that_is_not_a_checkpoint() -> None:
    with pytest.raises(MalformedCheckpointError):
        WITNESS.cosign("hello\n", WHEN)


def test_cosignature_line_attached_to_a_signed_checkpoint_opens_with_both_keys() -> None:
    note = cosign_checkpoint_note(sign_checkpoint(CP1, LOG), WITNESS, WHEN)
    opened = open_note(note, [LOG.verifier(), WITNESS.verifier()])
    assert [v.name for v, _ in opened.verified] == [LOG.name, WITNESS.name]
    witness_signature = opened.verified[1][1]
    assert CosignatureVerifier.timestamp(witness_signature) == WHEN


def test_cosignature_moved_onto_another_checkpoint_is_refused() -> None:
    cosigned = cosign_checkpoint_note(sign_checkpoint(CP1, LOG), WITNESS, WHEN)
    _, (_, cosignature) = split_note(cosigned)
    moved = sign_checkpoint(CP2, LOG) + cosignature.to_line()
    with pytest.raises(InvalidNoteSignatureError, match=r"witness\.example\.com/w1"):
        open_note(moved, [LOG.verifier(), WITNESS.verifier()])


def test_cosigner_key_strings_round_trip_with_type_0x04() -> None:
    again = CosignatureSigner.from_key_string(WITNESS.key_string())
    assert again.key_id == WITNESS.key_id
    vkey = WITNESS.verifier().key_string()
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    assert CosignatureVerifier.from_key_string(vkey) == WITNESS.verifier()


def test_cosigner_verifier_key_is_not_accepted_as_a_plain_note_key_or_back() -> None:
    with pytest.raises(MalformedNoteKeyError, match="0x04"):
        NoteVerifier.from_key_string(WITNESS.verifier().key_string())
    with pytest.raises(MalformedNoteKeyError, match="0x01"):
        CosignatureVerifier.from_key_string(LOG.verifier().key_string())


def test_spec_example_cosignature_carries_the_spec_example_time() -> None:
    # The tlog-cosignature spec's example line; its key is not published, so only the layout
    # (key id, 8-byte time matching "time 1679315147", 64-byte signature) is checked.
    line = (
        "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0"
        "xUe+mbIUBkBIfZ+qnA=="
    )
    raw = base64.b64decode(line)
    assert cosignature_timestamp(raw[4:]) == 1679315147
