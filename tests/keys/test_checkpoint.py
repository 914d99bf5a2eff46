"""C2SP tlog-checkpoint bodies, and opening signed checkpoints against a log key and witnesses."""

from __future__ import annotations

import base64

import pytest

from keys.checkpoint import (
    Checkpoint,
    CheckpointOriginError,
    MalformedCheckpointError,
    MissingLogSignatureError,
    WitnessPolicyError,
    open_checkpoint,
    sign_checkpoint,
)
from keys.cosignature import CosignatureSigner, cosign_checkpoint_note
from keys.merkle import empty_root
from keys.note import (
    InvalidNoteSignatureError,
    NoteSignature,
    NoteSigner,
    UnverifiedNoteError,
    sign_note,
    split_note,
)

LOG = NoteSigner("log.closedset.example", bytes(range(32)))
OTHER_LOG = NoteSigner("other.example/log", bytes(range(5, 37)))
WITNESSES = [CosignatureSigner(f"witness{i}.example", bytes([0x40 + i]) * 32) for i in range(3)]
ROOT = bytes(range(32))
CP = Checkpoint("log.closedset.example", 20852163, ROOT)


# --- the body ------------------------------------------------------------------------------------


def test_checkpoint_text_is_origin_size_and_base64_root_each_on_its_own_line() -> None:
    root_b64 = base64.b64encode(ROOT).decode()
    assert CP.to_text() == f"log.closedset.example\n20852163\n{root_b64}\n"


def test_spec_example_checkpoint_parses_and_round_trips() -> None:
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = Checkpoint.parse(text)
    assert (cp.origin, cp.size, cp.extensions) == ("example.com/behind-the-sofa", 20852163, ())
    assert cp.to_text() == text


def test_extension_lines_round_trip() -> None:
    cp = Checkpoint("o", 0, empty_root(), ("ext one", "ext two"))
    assert Checkpoint.parse(cp.to_text()) == cp
    assert cp.to_text().endswith("ext one\next two\n")


def test_empty_tree_checkpoint_has_size_zero() -> None:
    cp = Checkpoint("o", 0, empty_root())
    assert cp.to_text().split("\n")[1] == "0"


GOOD_ROOT = base64.b64encode(ROOT).decode()
MALFORMED_BODIES = {
    "no final newline": f"o\n1\n{GOOD_ROOT}",
    "two lines": "o\n1\n",
    "empty origin": f"\n1\n{GOOD_ROOT}\n",
    "leading zero": f"o\n01\n{GOOD_ROOT}\n",
    "plus sign": f"o\n+1\n{GOOD_ROOT}\n",
    "negative": f"o\n-1\n{GOOD_ROOT}\n",
    "unicode digits": f"o\n\u0661\n{GOOD_ROOT}\n",
    "size over 2^64-1": f"o\n{2**64}\n{GOOD_ROOT}\n",
    "short root": f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",
    "unpadded root": f"o\n1\n{GOOD_ROOT.rstrip('=')}\n",
    "url-safe root": "o\n1\n" + base64.urlsafe_b64encode(b"\xfb" * 32).decode() + "\n",
    "empty extension line": f"o\n1\n{GOOD_ROOT}\n\n",
    "carriage return": f"o\r\n1\n{GOOD_ROOT}\n",
}


@pytest.mark.parametrize("text", list(MALFORMED_BODIES.values()), ids=list(MALFORMED_BODIES))
def test_malformed_checkpoint_body_is_refused(text: str) -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint.parse(text)


def test_checkpoint_with_a_wrong_sized_root_cannot_be_built() -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("o", 1, b"\0" * 31)


# --- signed checkpoints -----------------------------------------------------------------------


def test_log_signed_checkpoint_opens_with_the_log_key() -> None:
    signed = open_checkpoint(sign_checkpoint(CP, LOG), LOG.verifier())
    assert signed.checkpoint == CP
    assert len(signed.log_signature) == 64
    assert signed.witness_signatures == ()


def test_log_key_cannot_sign_a_checkpoint_for_another_origin() -> None:
    with pytest.raises(CheckpointOriginError):
        sign_checkpoint(CP, OTHER_LOG)


def test_checkpoint_whose_origin_differs_from_the_log_key_name_is_refused() -> None:
    note = sign_note(Checkpoint("other.example/log", 1, ROOT).to_text(), [LOG])
    with pytest.raises(CheckpointOriginError, match=r"other\.example/log"):
        open_checkpoint(note, LOG.verifier())


def test_checkpoint_from_another_log_is_refused() -> None:
    note = sign_checkpoint(Checkpoint(OTHER_LOG.name, 1, ROOT), OTHER_LOG)
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(note, LOG.verifier())


def test_checkpoint_cosigned_by_witnesses_but_not_signed_by_the_log_is_refused() -> None:
    forged = sign_note(CP.to_text(), [WITNESSES[0].at(1_700_000_000)])
    with pytest.raises(MissingLogSignatureError):
        open_checkpoint(forged, LOG.verifier(), witnesses=[WITNESSES[0].verifier()])


def test_checkpoint_that_is_not_a_checkpoint_is_refused_even_when_signed() -> None:
    note = sign_note("log.closedset.example\nnot a size\n", [LOG])
    with pytest.raises(MalformedCheckpointError):
        open_checkpoint(note, LOG.verifier())


def _cosigned(count: int) -> str:
    note = sign_checkpoint(CP, LOG)
    for witness in WITNESSES[:count]:
        note = cosign_checkpoint_note(note, witness, 1_700_000_000)
    return note


def test_witness_policy_is_met_by_enough_valid_cosignatures() -> None:
    signed = open_checkpoint(
        _cosigned(2),
        LOG.verifier(),
        witnesses=[w.verifier() for w in WITNESSES],
        min_witnesses=2,
    )
    assert signed.witness_names == ("witness0.example", "witness1.example")


def test_too_few_cosignatures_are_refused_with_the_counts() -> None:
    with pytest.raises(WitnessPolicyError, match="cosigned by 1 of the 2 required witnesses"):
        open_checkpoint(
            _cosigned(1),
            LOG.verifier(),
            witnesses=[w.verifier() for w in WITNESSES],
            min_witnesses=2,
        )


def test_cosignatures_from_unconfigured_witnesses_do_not_count() -> None:
    with pytest.raises(WitnessPolicyError, match="cosigned by 0 of the 1"):
        open_checkpoint(
            _cosigned(2), LOG.verifier(), witnesses=[WITNESSES[2].verifier()], min_witnesses=1
        )


def test_log_key_listed_as_a_witness_does_not_count_as_one() -> None:
    with pytest.raises(ValueError, match="cannot be met"):
        open_checkpoint(_cosigned(0), LOG.verifier(), witnesses=[LOG.verifier()], min_witnesses=1)


def test_a_broken_cosignature_from_a_configured_witness_fails_the_checkpoint() -> None:
    text, (log_sig, witness_sig) = split_note(_cosigned(1))
    signature = bytearray(witness_sig.signature)
    signature[-1] ^= 1
    broken = NoteSignature(witness_sig.name, witness_sig.key_id, bytes(signature))
    tampered = text + "\n" + log_sig.to_line() + broken.to_line()
    with pytest.raises(InvalidNoteSignatureError, match=r"witness0\.example"):
        open_checkpoint(tampered, LOG.verifier(), witnesses=[WITNESSES[0].verifier()])


def test_check_extends_states_the_one_rule_witnesses_monitors_and_counsel_share() -> None:
    from keys.checkpoint import ForkedLogError, RolledBackLogError, check_extends
    from keys.merkle import (
        ConsistencyProofError,
        consistency_proof_nodes,
        hash_leaf,
        root_from_leaf_hashes,
    )

    leaves = [hash_leaf(bytes([i])) for i in range(5)]
    small = Checkpoint("log.example/x", 3, root_from_leaf_hashes(leaves[:3]))
    large = Checkpoint("log.example/x", 5, root_from_leaf_hashes(leaves))
    other = Checkpoint("log.example/x", 3, root_from_leaf_hashes(leaves[1:4]))
    proof = [root_from_leaf_hashes(leaves[a:b]) for a, b in consistency_proof_nodes(3, 5)]
    assert check_extends(small, large, proof) is True
    assert check_extends(large, large, []) is False
    with pytest.raises(ForkedLogError):
        check_extends(small, other, [])
    with pytest.raises(RolledBackLogError):
        check_extends(large, small, [])
    with pytest.raises(ConsistencyProofError):
        check_extends(small, large, proof[:-1])
    with pytest.raises(ConsistencyProofError):
        check_extends(large, large, proof)
