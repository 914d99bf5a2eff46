"""A naive RFC 6962 reference written straight from the RFC's recursive definitions.

MTH, PATH and PROOF of section 2.1, memoized per leaf range; used only to check the relay.
"""

from __future__ import annotations

import hashlib

from keys.merkle import hash_children


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class NaiveTree:
    def __init__(self, leaf_hashes: list[bytes]) -> None:
        self.leaves = leaf_hashes
        self._memo: dict[tuple[int, int], bytes] = {}

    def mth(self, start: int, end: int) -> bytes:
        if (start, end) in self._memo:
            return self._memo[(start, end)]
        n = end - start
        if n == 0:
            value = hashlib.sha256(b"").digest()
        elif n == 1:
            value = self.leaves[start]
        else:
            k = _split(n)
            value = hash_children(self.mth(start, start + k), self.mth(start + k, end))
        self._memo[(start, end)] = value
        return value

    def root(self, size: int) -> bytes:
        return self.mth(0, size)

    def path(self, m: int, size: int) -> list[bytes]:
        return self._path(m, 0, size)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self._path(m, start, start + k), self.mth(start + k, end)]
        return [*self._path(m - k, start + k, end), self.mth(start, start + k)]

    def proof(self, m: int, size: int) -> list[bytes]:
        return self._subproof(m, 0, size, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self.mth(start, end)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, complete), self.mth(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self.mth(start, start + k)]
