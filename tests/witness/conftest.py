"""The relay's database fixtures, reused: every relay-side witness test runs on both backends;
``other_db`` is a second, separate SQLite log, for a relay that keeps two histories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.relay.conftest import DbTarget, drop_target, log_db, log_signer, make_target, store

__all__ = ["log_db", "log_signer", "other_db", "store"]


@pytest.fixture
def other_db(tmp_path: Path) -> Iterator[DbTarget]:
    (tmp_path / "other").mkdir()
    target = make_target("sqlite", tmp_path / "other")
    try:
        yield target
    finally:
        drop_target(target)
