"""Pure Merkle tree bookkeeping for the log: the right-edge frontier and proof assembly.

No I/O: the store and the sequencer feed these functions the stored subtree hashes they
read or just computed. A node is ``(level, index)``: the aligned subtree of 2**level leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from keys.merkle import (
    consistency_proof_nodes,
    empty_root,
    hash_children,
    inclusion_proof_nodes,
    root_of_range,
    split_range_into_aligned_subtrees,
)

NodeKey = tuple[int, int]
Range = tuple[int, int]


@dataclass(slots=True)
class Frontier:
    """The maximal complete subtrees of the tree, left to right: popcount(size) nodes.

    That is all the memory a sequencer needs to append and to sign the new root.
    """

    size: int = 0
    nodes: list[tuple[int, int, bytes]] = field(default_factory=list)

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.nodes))

    def append(self, leaf_hash: bytes, out: list[tuple[int, int, bytes]]) -> None:
        """Append one leaf; add it and every subtree it completes to ``out``."""
        level, index, node = 0, self.size, leaf_hash
        out.append((0, index, node))
        nodes = self.nodes
        while nodes and nodes[-1][0] == level:
            _, left_index, left = nodes.pop()
            level, index, node = level + 1, left_index >> 1, hash_children(left, node)
            out.append((level, index, node))
        nodes.append((level, index, node))
        self.size += 1

    def root(self) -> bytes:
        """The RFC 6962 root of the whole tree."""
        if not self.nodes:
            return empty_root()
        return root_of_range([node for _, _, node in self.nodes])


def frontier_keys(size: int) -> list[NodeKey]:
    """The stored nodes that make up the frontier of a tree of ``size`` leaves."""
    return split_range_into_aligned_subtrees(0, size) if size else []


def keys_for_ranges(ranges: Iterable[Range]) -> set[NodeKey]:
    """Every stored node needed to compose the hashes of ``ranges``."""
    needed: set[NodeKey] = set()
    for start, end in ranges:
        needed.update(split_range_into_aligned_subtrees(start, end))
    return needed


def compose_ranges(
    ranges: Iterable[Range],
    lookup: Callable[[NodeKey], bytes],
    cache: dict[Range, bytes] | None = None,
) -> list[bytes]:
    """The hash of each range, composed from stored nodes (at most log n per range)."""
    hashes: list[bytes] = []
    for rng in ranges:
        if cache is not None and rng in cache:
            hashes.append(cache[rng])
            continue
        value = root_of_range([lookup(key) for key in split_range_into_aligned_subtrees(*rng)])
        if cache is not None:
            cache[rng] = value
        hashes.append(value)
    return hashes


def inclusion_ranges(index: int, size: int) -> list[Range]:
    return inclusion_proof_nodes(index, size)


def consistency_ranges(size1: int, size2: int) -> list[Range]:
    """Ranges of the RFC 6962 consistency proof; empty when the sizes are equal or size1 is 0."""
    if size1 == 0 or size1 == size2:
        return []
    return consistency_proof_nodes(size1, size2)


def root_at(size: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """The root of the tree of ``size`` leaves from its frontier nodes."""
    if size == 0:
        return empty_root()
    return root_of_range([nodes[key] for key in frontier_keys(size)])
