"""Fuzzing the evidence bundle reader: whatever the file, only a ``BundleError`` comes out.

Derandomized hypothesis over mutations of a real bundle (the session's story), armored and not.
"""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from client.evidence.bundle import read_bundle
from client.evidence.failures import BundleError
from keys import armor
from tests.evidence.story import Story
from tests.keys.test_fuzz import FUZZ, mutated


def test_bundle_reader_raises_only_bundle_errors(story: Story) -> None:

    @FUZZ
    @given(st.data(), st.booleans())
    def run(data: st.DataObject, armored: bool) -> None:
        document = data.draw(mutated(story.bens_bundle))
        if armored:
            document = armor.armor(document, armor.BUNDLE).encode("ascii")
        with contextlib.suppress(BundleError):
            read_bundle(document)

    run()


def test_deep_nesting_and_huge_numbers_are_bundle_errors() -> None:
    for document in (b"[" * 50_000, b'{"format":' + b"9" * 5000 + b"}", b'{"a":' * 3000):
        with contextlib.suppress(BundleError):
            read_bundle(document)
            raise AssertionError("accepted")
