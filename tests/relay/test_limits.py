"""Token buckets are pure: a burst is allowed, the next request waits, refills follow the clock."""

from __future__ import annotations

import pytest

from relay.config import RateLimit
from relay.http.limits import TokenBuckets


def test_a_burst_passes_then_the_wait_is_how_long_one_token_takes() -> None:
    buckets = TokenBuckets(RateLimit(2.0, 3))
    assert [buckets.take("a", 100.0) for _ in range(3)] == [None, None, None]
    assert buckets.take("a", 100.0) == pytest.approx(0.5)
    assert buckets.take("b", 100.0) is None  # each key has its own bucket
    assert buckets.take("a", 100.5) is None
    assert buckets.take("a", 100.5) == pytest.approx(0.5)


def test_an_idle_key_refills_to_its_burst_and_no_further() -> None:
    buckets = TokenBuckets(RateLimit(1.0, 2))
    buckets.take("a", 0.0)
    buckets.take("a", 0.0)
    results = [buckets.take("a", 1000.0) for _ in range(3)]
    assert results[:2] == [None, None] and results[2] is not None


def test_forgotten_keys_keep_memory_bounded() -> None:
    buckets = TokenBuckets(RateLimit(1.0, 1), max_keys=10)
    for n in range(100):
        buckets.take(n, 0.0)
    assert len(buckets._buckets) == 10
