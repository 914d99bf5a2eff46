"""Thread mail addresses survive what mail systems do to local parts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys.errors import EncodingError
from keys.mailparts import parse_thread_local_part, thread_local_part


@given(st.binary(min_size=16, max_size=16))
def test_a_thread_address_is_26_lower_case_letters_and_digits_read_in_any_case(
    thread: bytes,
) -> None:
    local = thread_local_part(thread)
    assert len(local) == 26 and local.isalnum() and local == local.lower()
    assert not local.startswith("-")
    assert parse_thread_local_part(local) == thread
    assert parse_thread_local_part(local.upper()) == thread


@pytest.mark.parametrize(
    "local",
    [
        "",
        "aaaaaaaaaaaaaaaaaaaaaaaaab",  # stray bits in the last letter
        "aaaaaaaaaaaaaaaaaaaaaaaaa",  # one short
        "-aaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaa1a",  # 1 is not base32
        "AAECAwQFBgcICQoLDA0ODw",  # the base64url spelling of a thread id
    ],
)
def test_anything_else_is_not_a_thread_address(local: str) -> None:
    with pytest.raises(EncodingError):
        parse_thread_local_part(local)
