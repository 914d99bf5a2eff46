"""One negotiation per test session, told against a real relay on SQLite; every evidence test
then works offline on the bundles it produced."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.evidence.story import Story, tell_story
from tests.relay.api_support import FakeClock
from tests.relay.conftest import drop_target, make_target


@pytest.fixture(scope="session")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    tmp: Path = tmp_path_factory.mktemp("evidence-story")
    target = make_target("sqlite", tmp)
    try:
        return asyncio.run(tell_story(target, tmp, FakeClock()))
    finally:
        drop_target(target)
