"""``closedset open`` on hostile envelopes: one sentence, exit 1, never a traceback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from client.cli.main import run
from client.demo.cast import DEMO_PASSPHRASE
from keys import armor
from keys.encoding import canonical_json

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ENVELOPE = json.loads(
    json.loads((VECTORS / "envelope/valid/three-recipients-chained.json").read_text())["expected"][
        "envelope"
    ]
)


def _hostile() -> list[bytes]:
    return [
        canonical_json({**ENVELOPE, "keys": "not a list"}),
        canonical_json({**ENVELOPE, "keys": {"a": 1}}),
        canonical_json({**ENVELOPE, "context": [1, 2]}),
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        b'{"keys":[' + b"9" * 5000 + b"]}",
    ]


@pytest.mark.parametrize("document", _hostile())
def test_open_refuses_in_one_sentence(tmp_path: Path, document: bytes) -> None:
    env = {"CLOSEDSET_HOME": str(tmp_path / "home"), "CLOSEDSET_PASSPHRASE": DEMO_PASSPHRASE}
    out, err = io.StringIO(), io.StringIO()
    assert (
        run(["id", "new", "--name", "Ana", "--role", "performer"], env, stdout=out, stderr=err) == 0
    )
    out, err = io.StringIO(), io.StringIO()
    stdin = io.StringIO(armor.armor(document, armor.ENVELOPE))
    code = run(["open"], env, stdin=stdin, stdout=out, stderr=err)
    message = err.getvalue()
    assert code == 1, message
    assert "Traceback" not in message and message.startswith("closedset: ")
    assert message.count("\n") == 1
