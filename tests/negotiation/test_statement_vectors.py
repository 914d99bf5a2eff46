"""The rule set 2 statement vectors (tests/vectors/statement/, written by
tests/vectors/generate.py) parse under their purpose and re-encode to the very same bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from client.negotiation.statements import parse

FILES = sorted((Path(__file__).parents[1] / "vectors" / "statement" / "valid").glob("*.json"))


def test_there_are_statement_vectors() -> None:
    assert len(FILES) >= 6


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_statement_vector_parses_and_reencodes_byte_for_byte(path: Path) -> None:
    vector = json.loads(path.read_text("utf-8"))
    plaintext = vector["plaintext"].encode("utf-8")
    statement = parse(vector["purpose"], plaintext)
    assert statement.to_bytes() == plaintext
    assert hashlib.sha256(plaintext).hexdigest() == vector["sha256_hex"]
