"""C2SP tlog-proof files: the exact layout, round trips, refusals, and offline verification."""

from __future__ import annotations

import base64

import pytest

from keys.checkpoint import Checkpoint, WitnessPolicyError, sign_checkpoint
from keys.cosignature import CosignatureSigner, cosign_checkpoint_note
from keys.merkle import (
    InclusionProofError,
    hash_leaf,
    inclusion_proof_nodes,
    root_from_leaf_hashes,
)
from keys.note import NoteSigner, UnverifiedNoteError
from keys.tlogproof import (
    TLOG_PROOF_HEADER,
    MalformedTlogProofError,
    TlogProof,
    verify_tlog_proof,
    verify_tlog_proof_of_entry,
)

LOG = NoteSigner("log.closedset.example", bytes(range(32)))
WITNESS = CosignatureSigner("witness.example", bytes(range(64, 96)))
ENTRIES = [b"entry %d" % i for i in range(11)]
LEAVES = [hash_leaf(e) for e in ENTRIES]


def _proof_for(index: int, *, extra: bytes | None = None, cosigned: bool = False) -> TlogProof:
    checkpoint = Checkpoint(LOG.name, len(LEAVES), root_from_leaf_hashes(LEAVES))
    note = sign_checkpoint(checkpoint, LOG)
    if cosigned:
        note = cosign_checkpoint_note(note, WITNESS, 1_700_000_000)
    hashes = tuple(
        root_from_leaf_hashes(LEAVES[a:b]) for a, b in inclusion_proof_nodes(index, len(LEAVES))
    )
    return TlogProof(index=index, hashes=hashes, checkpoint_note=note, extra=extra)


def test_proof_file_is_laid_out_exactly_as_the_spec_says() -> None:
    proof = _proof_for(7, extra=b"context")
    lines = proof.to_text().split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1" == TLOG_PROOF_HEADER
    assert lines[1] == "extra " + base64.b64encode(b"context").decode()
    assert lines[2] == "index 7"
    hash_lines = lines[3 : 3 + len(proof.hashes)]
    assert [base64.b64decode(h) for h in hash_lines] == list(proof.hashes)
    assert lines[3 + len(proof.hashes)] == ""
    assert proof.to_text().endswith("\n\n" + proof.checkpoint_note)


def test_proof_without_extra_data_omits_the_extra_line() -> None:
    text = _proof_for(0).to_text()
    assert text.startswith("c2sp.org/tlog-proof@v1\nindex 0\n")


@pytest.mark.parametrize("extra", [None, b"", b"\x00\xff opaque"])
@pytest.mark.parametrize("index", [0, 5, 10])
def test_proof_round_trips_through_its_text(index: int, extra: bytes | None) -> None:
    proof = _proof_for(index, extra=extra, cosigned=True)
    assert TlogProof.parse(proof.to_text()) == proof
    assert TlogProof.parse(proof.to_text().encode()) == proof


def test_proof_of_the_only_entry_has_no_hashes_and_still_round_trips() -> None:
    leaf = hash_leaf(b"only")
    note = sign_checkpoint(Checkpoint(LOG.name, 1, leaf), LOG)
    proof = TlogProof(index=0, hashes=(), checkpoint_note=note)
    assert proof.to_text() == f"c2sp.org/tlog-proof@v1\nindex 0\n\n{note}"
    assert TlogProof.parse(proof.to_text()) == proof
    verify_tlog_proof(proof, leaf, LOG.verifier())


def test_valid_proof_verifies_offline_with_only_the_log_key() -> None:
    for index in range(len(ENTRIES)):
        signed = verify_tlog_proof_of_entry(_proof_for(index), ENTRIES[index], LOG.verifier())
        assert signed.checkpoint.size == len(ENTRIES)


def test_valid_proof_meets_a_witness_policy_when_cosigned() -> None:
    proof = TlogProof.parse(_proof_for(3, cosigned=True).to_text())
    signed = verify_tlog_proof(
        proof, LEAVES[3], LOG.verifier(), witnesses=[WITNESS.verifier()], min_witnesses=1
    )
    assert signed.witness_names == ("witness.example",)


def test_proof_without_the_required_cosignature_is_refused() -> None:
    with pytest.raises(WitnessPolicyError, match="0 of the 1"):
        verify_tlog_proof(
            _proof_for(3),
            LEAVES[3],
            LOG.verifier(),
            witnesses=[WITNESS.verifier()],
            min_witnesses=1,
        )


def test_proof_for_another_entry_is_refused() -> None:
    with pytest.raises(InclusionProofError):
        verify_tlog_proof_of_entry(_proof_for(3), ENTRIES[4], LOG.verifier())


def test_proof_with_a_changed_index_is_refused() -> None:
    proof = _proof_for(3)
    moved = TlogProof(4, proof.hashes, proof.checkpoint_note)
    with pytest.raises(InclusionProofError):
        verify_tlog_proof(moved, LEAVES[3], LOG.verifier())


def test_proof_under_a_checkpoint_from_an_unknown_log_is_refused() -> None:
    with pytest.raises(UnverifiedNoteError):
        verify_tlog_proof(_proof_for(3), LEAVES[3], NoteSigner(LOG.name, bytes(32)).verifier())


def _replace_line(text: str, number: int, line: str) -> str:
    lines = text.split("\n")
    lines[number] = line
    return "\n".join(lines)


GOOD = _proof_for(5).to_text()
GOOD_HASH = GOOD.split("\n")[2]
MALFORMED_PROOFS = {
    "wrong header": GOOD.replace("tlog-proof@v1", "tlog-proof@v2"),
    "header with trailing space": GOOD.replace("@v1\n", "@v1 \n"),
    "no index line": _replace_line(GOOD, 1, GOOD_HASH),
    "index with leading zero": GOOD.replace("index 5", "index 05"),
    "index not decimal": GOOD.replace("index 5", "index 0x5"),
    "index negative": GOOD.replace("index 5", "index -5"),
    "index too large": GOOD.replace("index 5", f"index {2**64}"),
    "index without space": GOOD.replace("index 5", "index5"),
    "extra after index": GOOD.replace("index 5\n", "index 5\nextra AA==\n"),
    "extra not base64": GOOD.replace("index 5\n", "extra !!\nindex 5\n"),
    "short hash": _replace_line(GOOD, 2, base64.b64encode(bytes(31)).decode()),
    "unpadded hash": _replace_line(GOOD, 2, GOOD_HASH.rstrip("=")),
    "no blank line": "c2sp.org/tlog-proof@v1\nindex 5\n",
    "empty checkpoint": "c2sp.org/tlog-proof@v1\nindex 5\n\n",
    "checkpoint unsigned": "c2sp.org/tlog-proof@v1\nindex 5\n\n" + GOOD.split("\n\n")[1] + "\n",
    "checkpoint body malformed": GOOD.replace("\n11\n", "\n011\n"),
    "too many hashes": GOOD.replace(f"{GOOD_HASH}\n", f"{GOOD_HASH}\n" * 65, 1),
    "not utf-8": GOOD.encode() + b"\xff",
}


@pytest.mark.parametrize("text", list(MALFORMED_PROOFS.values()), ids=list(MALFORMED_PROOFS))
def test_malformed_proof_file_is_refused(text: str | bytes) -> None:
    with pytest.raises(MalformedTlogProofError):
        TlogProof.parse(text)


def test_proof_with_a_wrong_sized_hash_cannot_be_built() -> None:
    proof = _proof_for(5)
    with pytest.raises(MalformedTlogProofError):
        TlogProof(5, (*proof.hashes[:-1], b"\0" * 33), proof.checkpoint_note)
