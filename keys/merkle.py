"""RFC 6962 / RFC 9162 Merkle tree hashing over SHA-256: proof checking and proof shapes.

Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step; the proof *shape*
helpers tell a storage layer which subtree hashes a proof needs, without touching storage.

Subtree ranges and stored nodes
-------------------------------
Every proof element is the hash of a subtree, described here as a half-open leaf range
``(start, end)``. A range whose size is a power of two and whose start is a multiple of that
size is one stored node: ``level = log2(end - start)``, ``index = start >> level``. Any other
range a proof asks for lies on the right edge of a non-full tree; its hash is composed from
the aligned subtrees returned by :func:`split_range_into_aligned_subtrees` (left to right,
strictly decreasing in size) by folding from the right::

    MTH(range) = H(s0, H(s1, ... H(s[k-2], s[k-1])))     with H = hash_children

which :func:`root_of_range` does. That costs at most log2(n) node reads per range.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from keys.errors import KeysError, ProofError

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32

# A C2SP checkpoint carries the tree size as an unsigned 64-bit number; nothing larger exists.
MAX_TREE_SIZE = 2**64 - 1


class InclusionProofError(ProofError):
    """An inclusion proof does not show the leaf at that index in the tree with that root."""


class ConsistencyProofError(ProofError):
    """A consistency proof does not show that the larger tree extends the smaller one."""


class InvalidProofRequestError(KeysError, ValueError):
    """The index, sizes or range asked for do not describe any proof or subtree."""


def hash_leaf(entry: bytes) -> bytes:
    """Return the RFC 6962 leaf hash ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def empty_root() -> bytes:
    """Return the root of the empty tree, the SHA-256 of the empty string."""
    return hashlib.sha256(b"").digest()


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Compute MTH over the given leaf hashes; the O(n) reference, not for large logs."""
    if not leaf_hashes:
        return empty_root()
    # Pairing level by level and carrying an odd last node up unchanged is exactly RFC 6962's
    # "split at the largest power of two below n" recursion, without the recursion.
    level = list(leaf_hashes)
    while len(level) > 1:
        paired = [hash_children(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


# --- verification (RFC 9162 section 2.1.3.2 and 2.1.4.2) -------------------------------------


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root that an inclusion proof leads to, or raise if its shape is wrong."""
    if not 0 <= index < tree_size:
        raise InclusionProofError(f"Leaf index {index} is not inside a tree of size {tree_size}.")
    _check_hash(leaf_hash, "leaf hash", InclusionProofError)
    for position, node in enumerate(proof):
        _check_hash(node, f"proof hash {position}", InclusionProofError)
    expected = _inclusion_proof_length(index, tree_size)
    if len(proof) != expected:
        raise InclusionProofError(
            f"The inclusion proof for leaf {index} in a tree of size {tree_size} has "
            f"{len(proof)} hashes, not the {expected} it needs."
        )

    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:  # Unreachable after the length check; kept because the RFC says so.
            raise InclusionProofError("The inclusion proof is longer than the tree is tall.")
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InclusionProofError("The inclusion proof stops before reaching the root.")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` with ``root``."""
    computed = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)
    if computed != root:
        raise InclusionProofError(
            f"The inclusion proof for leaf {index} leads to root {computed.hex()}, "
            f"but the tree of size {tree_size} has root {root.hex()}."
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the tree of ``size1`` with ``root1``.

    Edge cases follow the transparency-dev/merkle vectors kept in tests/vectors: a proof
    from size 0 proves nothing and is refused; equal sizes need an empty proof and equal roots.
    """
    if size1 < 0 or size2 > MAX_TREE_SIZE:
        raise ConsistencyProofError(f"Tree sizes {size1} and {size2} are out of range.")
    if size2 < size1:
        raise ConsistencyProofError(
            f"A tree of size {size2} cannot extend a larger tree of size {size1}."
        )
    if size1 == 0:
        raise ConsistencyProofError(
            "A consistency proof from the empty tree proves nothing and is not accepted."
        )
    if size1 == size2:
        if proof:
            raise ConsistencyProofError(
                f"The consistency proof between equal sizes {size1} must be empty, "
                f"not {len(proof)} hashes."
            )
        if root1 != root2:
            raise ConsistencyProofError(
                f"The two trees of size {size1} have different roots, "
                f"{root1.hex()} and {root2.hex()}."
            )
        return
    for position, node in enumerate(proof):
        _check_hash(node, f"proof hash {position}", ConsistencyProofError)
    expected = _consistency_proof_length(size1, size2)
    if len(proof) != expected:
        raise ConsistencyProofError(
            f"The consistency proof from size {size1} to {size2} has {len(proof)} hashes, "
            f"not the {expected} it needs."
        )

    # RFC 9162 section 2.1.4.2, steps 1 to 7.
    path = list(proof)
    if _is_power_of_two(size1):
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:  # Unreachable after the length check; kept because the RFC says so.
            raise ConsistencyProofError("The consistency proof is longer than the tree is tall.")
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ConsistencyProofError("The consistency proof stops before reaching the root.")
    if fr != root1:
        raise ConsistencyProofError(
            f"The consistency proof leads to root {fr.hex()} for size {size1}, "
            f"but that tree has root {root1.hex()}."
        )
    if sr != root2:
        raise ConsistencyProofError(
            f"The consistency proof leads to root {sr.hex()} for size {size2}, "
            f"but that tree has root {root2.hex()}."
        )


# --- proof shapes for a storage layer (RFC 6962 section 2.1.1 PATH and 2.1.2 SUBPROOF) -------


def inclusion_proof_nodes(index: int, tree_size: int) -> list[tuple[int, int]]:
    """List the leaf ranges whose hashes form the inclusion proof, from the leaf's sibling up."""
    if not 0 <= index < tree_size <= MAX_TREE_SIZE:
        raise InvalidProofRequestError(
            f"Leaf index {index} is not inside a tree of size {tree_size}."
        )
    nodes: list[tuple[int, int]] = []
    start, end = 0, tree_size
    # Walk down from the root; each split contributes the sibling of the half holding the leaf.
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            nodes.append((start + k, end))
            end = start + k
        else:
            nodes.append((start, start + k))
            start = start + k
    nodes.reverse()
    return nodes


def consistency_proof_nodes(size1: int, size2: int) -> list[tuple[int, int]]:
    """List the leaf ranges whose hashes form the consistency proof from size1 to size2."""
    if not 0 < size1 <= size2 <= MAX_TREE_SIZE:
        raise InvalidProofRequestError(
            f"There is no consistency proof from size {size1} to size {size2}."
        )
    nodes: list[tuple[int, int]] = []
    start, end, m = 0, size2, size1
    # SUBPROOF(m, D[start:end], b): b stays true only while we follow the left edge, because
    # the verifier already knows the old root when it is itself a node of the new tree.
    complete = True
    while m != end - start:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            nodes.append((start + k, end))
            end = start + k
        else:
            nodes.append((start, start + k))
            start, m = start + k, m - k
            complete = False
    if not complete:
        nodes.append((start, end))
    nodes.reverse()
    return nodes


def split_range_into_aligned_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Split a proof range into stored nodes ``(level, index)``, left to right.

    Only ranges whose hash is the right fold of their pieces are accepted: those are the
    ranges the proof helpers above return, and the subtrees of any RFC 6962 tree.
    """
    if not 0 <= start < end <= MAX_TREE_SIZE:
        raise InvalidProofRequestError(f"The leaf range [{start}, {end}) is empty or invalid.")
    if start % _largest_power_of_two_at_most(end - start):
        raise InvalidProofRequestError(
            f"The leaf range [{start}, {end}) is not a subtree of any Merkle tree."
        )
    nodes: list[tuple[int, int]] = []
    while start < end:
        # Because start is aligned to the largest piece, the pieces are the set bits of the
        # range size from the highest down, each aligned in turn.
        level = _largest_power_of_two_at_most(end - start).bit_length() - 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def root_of_range(subtree_hashes: Sequence[bytes]) -> bytes:
    """Compose the hashes of ``split_range_into_aligned_subtrees`` into the range's hash."""
    if not subtree_hashes:
        raise InvalidProofRequestError("A range hash needs at least one subtree hash.")
    composed = subtree_hashes[-1]
    for left in reversed(subtree_hashes[:-1]):
        composed = hash_children(left, composed)
    return composed


# --- small helpers ---------------------------------------------------------------------------


def _check_hash(value: bytes, what: str, error: type[ProofError]) -> None:
    if not isinstance(value, bytes):
        raise error(f"The {what} is not a byte string.")
    if len(value) != HASH_SIZE:
        raise error(f"The {what} is {len(value)} bytes long; every hash must be {HASH_SIZE}.")


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _largest_power_of_two_below(n: int) -> int:
    """The RFC 6962 split point k: the largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _largest_power_of_two_at_most(n: int) -> int:
    return 1 << (n.bit_length() - 1)


def _inclusion_proof_length(index: int, tree_size: int) -> int:
    # Below the point where the paths to `index` and to the last leaf part, every level has a
    # sibling; above it, only the levels where the path turns right have one.
    inner = (index ^ (tree_size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner + border


def _consistency_proof_length(size1: int, size2: int) -> int:
    # The inclusion proof of the last old leaf, minus the levels inside the largest complete
    # subtree ending at size1, plus that subtree's hash unless it is the old root itself.
    shift = (size1 & -size1).bit_length() - 1
    length = _inclusion_proof_length(size1 - 1, size2) - shift
    return length if _is_power_of_two(size1) else length + 1
