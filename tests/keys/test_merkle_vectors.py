"""RFC 6962 Merkle proofs: the transparency-dev/merkle vectors, and generated proofs checked
against a naive reference tree built here from first principles."""

from __future__ import annotations

import base64
import json
from functools import cache
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.errors import ProofError
from keys.merkle import (
    HASH_SIZE,
    ConsistencyProofError,
    InclusionProofError,
    InvalidProofRequestError,
    consistency_proof_nodes,
    empty_root,
    hash_children,
    hash_leaf,
    inclusion_proof_nodes,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    root_of_range,
    split_range_into_aligned_subtrees,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent.parent / "vectors"
TESTDATA = VECTORS / "rfc6962" / "testdata"


def _vector_files(kind: str) -> list[Any]:
    files = sorted((TESTDATA / kind).rglob("*.json"))
    assert files, f"no {kind} vectors found under {TESTDATA}"
    return [pytest.param(path, id=str(path.relative_to(TESTDATA / kind))) for path in files]


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


# --- transparency-dev/merkle vectors ---------------------------------------------------------


@pytest.mark.parametrize("path", _vector_files("inclusion"))
def test_inclusion_vector_is_accepted_exactly_when_it_should_be(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (
        _b64(case["leafHash"]),
        case["leafIdx"],
        case["treeSize"],
        [_b64(node) for node in case["proof"] or []],
        _b64(case["root"]),
    )
    if case["wantErr"]:
        with pytest.raises(InclusionProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _vector_files("consistency"))
def test_consistency_vector_is_accepted_exactly_when_it_should_be(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (
        case["size1"],
        case["size2"],
        [_b64(node) for node in case["proof"] or []],
        _b64(case["root1"]),
        _b64(case["root2"]),
    )
    if case["wantErr"]:
        with pytest.raises(ConsistencyProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_rfc6962_roots_for_sizes_zero_to_eight_match_the_known_answers() -> None:
    known = json.loads((VECTORS / "signed-note.json").read_text())["rfc6962_roots"]
    leaves = [hash_leaf(bytes.fromhex(h)) for h in known["leaves_hex"]]
    for size, root_hex in enumerate(known["roots_hex"]):
        assert root_from_leaf_hashes(leaves[:size]).hex() == root_hex, f"size {size}"


def test_empty_root_is_sha256_of_nothing() -> None:
    assert empty_root() == sha256(b"").digest()
    assert root_from_leaf_hashes([]) == empty_root()


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert hash_leaf(b"ab") == sha256(b"\x00ab").digest()
    assert hash_children(b"a", b"b") == sha256(b"\x01ab").digest()
    assert hash_leaf(b"a" * 64) != hash_children(b"a" * 32, b"a" * 32)


# --- a naive reference tree ------------------------------------------------------------------


def _leaves(n: int) -> list[bytes]:
    return [hash_leaf(b"entry %d" % i) for i in range(n)]


def _naive_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1 MTH, written as the RFC writes it."""
    if not leaves:
        return sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hash_children(_naive_mth(leaves[:k]), _naive_mth(leaves[k:]))


@cache
def _tree(n: int) -> tuple[list[bytes], bytes]:
    leaves = _leaves(n)
    return leaves, _naive_mth(leaves)


def _stored_node(leaves: list[bytes], level: int, index: int) -> bytes:
    """What a storage layer would have stored for the full subtree (level, index)."""
    return _naive_mth(leaves[index << level : (index + 1) << level])


def _fetch(leaves: list[bytes], start: int, end: int) -> bytes:
    """Hash a proof range the way storage must: from aligned stored nodes only."""
    nodes = split_range_into_aligned_subtrees(start, end)
    return root_of_range([_stored_node(leaves, level, index) for level, index in nodes])


def _inclusion_proof(n: int, index: int) -> list[bytes]:
    leaves, _ = _tree(n)
    return [_fetch(leaves, a, b) for a, b in inclusion_proof_nodes(index, n)]


def _consistency_proof(size1: int, size2: int) -> list[bytes]:
    leaves, _ = _tree(size2)
    return [_fetch(leaves, a, b) for a, b in consistency_proof_nodes(size1, size2)]


def _flip_bit(value: bytes, bit: int) -> bytes:
    flipped = bytearray(value)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


# --- generated proofs, exhaustively for small trees --------------------------------------------


def test_reference_root_agrees_with_the_naive_tree_for_sizes_up_to_300() -> None:
    for n in range(301):
        assert root_from_leaf_hashes(_leaves(n)) == _naive_mth(_leaves(n)), f"size {n}"


def test_every_generated_inclusion_proof_verifies_for_sizes_1_to_64() -> None:
    for n in range(1, 65):
        leaves, root = _tree(n)
        for index in range(n):
            verify_inclusion(leaves[index], index, n, _inclusion_proof(n, index), root)


def test_every_generated_consistency_proof_verifies_for_sizes_1_to_64() -> None:
    for size2 in range(1, 65):
        _, root2 = _tree(size2)
        for size1 in range(1, size2 + 1):
            _, root1 = _tree(size1)
            verify_consistency(size1, size2, _consistency_proof(size1, size2), root1, root2)


def test_every_proof_range_hash_equals_the_naive_subtree_hash() -> None:
    # Storage composes right-edge ranges from aligned nodes; that must be the RFC's MTH.
    for n in range(1, 65):
        leaves, _ = _tree(n)
        ranges = {r for i in range(n) for r in inclusion_proof_nodes(i, n)}
        ranges |= {r for m in range(1, n + 1) for r in consistency_proof_nodes(m, n)}
        for start, end in ranges:
            assert _fetch(leaves, start, end) == _naive_mth(leaves[start:end]), (start, end)


def test_aligned_range_is_exactly_one_stored_node() -> None:
    assert split_range_into_aligned_subtrees(8, 16) == [(3, 1)]
    assert split_range_into_aligned_subtrees(5, 6) == [(0, 5)]
    assert split_range_into_aligned_subtrees(0, 64) == [(6, 0)]


def test_right_edge_range_splits_into_decreasing_aligned_subtrees() -> None:
    assert split_range_into_aligned_subtrees(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert split_range_into_aligned_subtrees(16, 27) == [(3, 2), (1, 12), (0, 26)]


def test_range_that_is_no_subtree_is_refused() -> None:
    with pytest.raises(InvalidProofRequestError):
        split_range_into_aligned_subtrees(1, 4)
    with pytest.raises(InvalidProofRequestError):
        split_range_into_aligned_subtrees(3, 3)


def test_proof_shapes_match_rfc6962_examples() -> None:
    # RFC 6962 section 2.1.3: the tree of seven leaves d0..d6.
    assert inclusion_proof_nodes(0, 7) == [(1, 2), (2, 4), (4, 7)]  # PATH(0) = [b, h, l]
    assert inclusion_proof_nodes(3, 7) == [(2, 3), (0, 2), (4, 7)]  # PATH(3) = [c, g, l]
    assert inclusion_proof_nodes(4, 7) == [(5, 6), (6, 7), (0, 4)]  # PATH(4) = [f, j, k]
    assert inclusion_proof_nodes(6, 7) == [(4, 6), (0, 4)]  # PATH(6) = [i, k]
    assert consistency_proof_nodes(3, 7) == [(2, 3), (3, 4), (0, 2), (4, 7)]  # [c, d, g, l]
    assert consistency_proof_nodes(4, 7) == [(4, 7)]  # [l]
    assert consistency_proof_nodes(6, 7) == [(4, 6), (6, 7), (0, 4)]  # [i, j, k]


def test_proof_request_outside_the_tree_is_refused() -> None:
    for args in [(0, 0), (5, 5), (-1, 3)]:
        with pytest.raises(InvalidProofRequestError):
            inclusion_proof_nodes(*args)
    for args in [(0, 4), (5, 4), (-1, 4)]:
        with pytest.raises(InvalidProofRequestError):
            consistency_proof_nodes(*args)


def test_equal_sizes_need_an_empty_consistency_proof() -> None:
    assert consistency_proof_nodes(9, 9) == []


# --- hand-picked refusals ----------------------------------------------------------------------


def test_consistency_proof_with_truncated_path_is_refused() -> None:
    proof = _consistency_proof(6, 13)
    with pytest.raises(ConsistencyProofError, match="hashes, not the"):
        verify_consistency(6, 13, proof[:-1], _tree(6)[1], _tree(13)[1])


def test_inclusion_proof_with_an_extra_hash_is_refused() -> None:
    leaves, root = _tree(10)
    proof = _inclusion_proof(10, 3)
    with pytest.raises(InclusionProofError, match="hashes, not the"):
        verify_inclusion(leaves[3], 3, 10, [*proof, proof[0]], root)


def test_inclusion_failure_names_both_roots_in_hex() -> None:
    leaves, root = _tree(10)
    wrong_root = _flip_bit(root, 0)
    with pytest.raises(InclusionProofError) as caught:
        verify_inclusion(leaves[3], 3, 10, _inclusion_proof(10, 3), wrong_root)
    assert root.hex() in str(caught.value)
    assert wrong_root.hex() in str(caught.value)


def test_consistency_failure_names_both_roots_in_hex() -> None:
    root1, root2 = _tree(5)[1], _tree(11)[1]
    wrong = _flip_bit(root2, 7)
    with pytest.raises(ConsistencyProofError) as caught:
        verify_consistency(5, 11, _consistency_proof(5, 11), root1, wrong)
    assert root2.hex() in str(caught.value) and wrong.hex() in str(caught.value)


def test_proof_hash_of_the_wrong_length_is_refused() -> None:
    leaves, root = _tree(4)
    proof = _inclusion_proof(4, 1)
    with pytest.raises(InclusionProofError, match="32"):
        verify_inclusion(leaves[1], 1, 4, [proof[0][:31], proof[1]], root)


def test_consistency_proof_from_the_empty_tree_is_refused() -> None:
    with pytest.raises(ConsistencyProofError, match="empty tree"):
        verify_consistency(0, 5, [], empty_root(), _tree(5)[1])


def test_root_from_inclusion_proof_of_a_single_leaf_tree_is_the_leaf() -> None:
    leaf = hash_leaf(b"only")
    assert root_from_inclusion_proof(leaf, 0, 1, []) == leaf


# --- property tests ------------------------------------------------------------------------------

_inclusion_cases = st.integers(min_value=1, max_value=300).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n - 1))
)
_consistency_cases = st.integers(min_value=1, max_value=300).flatmap(
    lambda n: st.tuples(st.integers(min_value=1, max_value=n), st.just(n))
)


@settings(max_examples=200, deadline=None)
@given(case=_inclusion_cases, data=st.data())
def test_generated_inclusion_proof_verifies_and_any_flipped_bit_is_refused(
    case: tuple[int, int], data: st.DataObject
) -> None:
    n, index = case
    leaves, root = _tree(n)
    proof = _inclusion_proof(n, index)
    verify_inclusion(leaves[index], index, n, proof, root)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        bit = data.draw(st.integers(0, HASH_SIZE * 8 - 1), label="bit")
        tampered = list(proof)
        tampered[position] = _flip_bit(proof[position], bit)
        with pytest.raises(InclusionProofError):
            verify_inclusion(leaves[index], index, n, tampered, root)


@settings(max_examples=200, deadline=None)
@given(case=_inclusion_cases, data=st.data())
def test_inclusion_proof_for_another_index_or_size_is_refused(
    case: tuple[int, int], data: st.DataObject
) -> None:
    n, index = case
    leaves, root = _tree(n)
    proof = _inclusion_proof(n, index)
    other_index = data.draw(st.integers(0, 301).filter(lambda i: i != index), label="index")
    with pytest.raises(InclusionProofError):
        verify_inclusion(leaves[index], other_index, n, proof, root)
    # Another size means another tree: the same leaves grown or cut, with its own root.
    other_size = data.draw(st.integers(index + 1, 301).filter(lambda s: s != n), label="size")
    with pytest.raises(InclusionProofError):
        verify_inclusion(leaves[index], index, other_size, proof, _tree(other_size)[1])


@settings(max_examples=200, deadline=None)
@given(case=_consistency_cases, data=st.data())
def test_generated_consistency_proof_verifies_and_any_flipped_bit_is_refused(
    case: tuple[int, int], data: st.DataObject
) -> None:
    size1, size2 = case
    root1, root2 = _tree(size1)[1], _tree(size2)[1]
    proof = _consistency_proof(size1, size2)
    verify_consistency(size1, size2, proof, root1, root2)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        bit = data.draw(st.integers(0, HASH_SIZE * 8 - 1), label="bit")
        tampered = list(proof)
        tampered[position] = _flip_bit(proof[position], bit)
        with pytest.raises(ConsistencyProofError):
            verify_consistency(size1, size2, tampered, root1, root2)


@settings(max_examples=200, deadline=None)
@given(case=_consistency_cases, data=st.data())
def test_consistency_proof_for_other_sizes_is_refused(
    case: tuple[int, int], data: st.DataObject
) -> None:
    size1, size2 = case
    proof = _consistency_proof(size1, size2)
    other1 = data.draw(st.integers(1, 301).filter(lambda s: s != size1), label="size1")
    with pytest.raises(ProofError):
        verify_consistency(other1, size2, proof, _tree(other1)[1], _tree(size2)[1])
    other2 = data.draw(st.integers(size1, 301).filter(lambda s: s != size2), label="size2")
    with pytest.raises(ProofError):
        verify_consistency(size1, other2, proof, _tree(size1)[1], _tree(other2)[1])
