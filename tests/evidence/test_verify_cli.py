"""Counsel's side, through the command line, with the network switched off: the emailed
bundle verifies, the report reads as English, checkpoints are kept, and a later bundle from
another history under the same key is caught as a split view."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from client.cli.main import run
from keys import armor
from tests.evidence import forge
from tests.evidence.story import Story


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the network fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the verifier tried to use the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def counsel(home: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run([*argv, "--home", str(home)], environ={}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def emailed(tmp_path: Path, data: bytes, name: str = "lighthouse-evidence.asc") -> Path:
    path = tmp_path / name
    # As a mail client saves it: CRLF lines inside a quoted reply.
    text = armor.armor(data, armor.BUNDLE).replace("\r\n", "\n")
    path.write_text(
        "Dear counsel, please find the evidence below.\n\n> " + text.replace("\n", "\n> ")
    )
    return path


def test_counsel_verifies_an_emailed_bundle_with_the_network_off(
    story: Story, tmp_path: Path, offline: None
) -> None:
    key = story.log_signer.verifier().key_string()
    code, out, err = counsel(
        tmp_path, "verify", str(emailed(tmp_path, story.bens_bundle)), "--log-key", key
    )
    assert (code, err) == (0, "")
    assert "RESULT: VERIFIED" in out
    assert "The Lighthouse, scene 42A, script pages 31-33" in out
    assert "Ben Okafor accepted version 2" in out
    assert "withdrew consent to the whole rider" in out and "(AFTER filming)" in out
    # Ben holds only what was addressed to him: his own sheet is the one he did not disclose
    # (Ana's sheet was never served to him, so he cannot even list it).
    assert "1 further entry of this scene that the party holds is in the log" in out
    assert "taken from the bundle" not in out
    # No hashes for a lawyer unless asked for.
    assert not any(
        len(word) >= 40 and all(c in "0123456789abcdef" for c in word) for word in out.split()
    )
    assert list((tmp_path / "kept-checkpoints").iterdir())


def test_without_the_published_key_the_report_says_so_loudly(
    story: Story, tmp_path: Path, offline: None
) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(story.bens_bundle)
    code, out, _ = counsel(tmp_path, "verify", str(path), "--verbose")
    assert code == 0
    assert "!! The log key was taken from the bundle itself" in out
    assert "STEP-BY-STEP TRACE" in out and "computed root" in out


def test_a_later_bundle_from_another_history_is_a_split_view(
    story: Story, tmp_path: Path, offline: None
) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_bytes(story.bens_bundle)
    value = forge.load(story.bens_bundle)
    old = forge.entry_of(value["entries"][forge.withheld(value)[0]])

    def rewrite(leaves: list[bytes]) -> dict[bytes, bytes]:
        new = old[:-1] + bytes([old[-1] ^ 1])
        leaves[leaves.index(old)] = new
        return {old: new}

    forged = forge.resign(forge.reforge(value, story.leaves, story.log_signer, rewrite), story.ben)
    second.write_bytes(forge.dump(forged))
    key = story.log_signer.verifier().key_string()
    assert counsel(tmp_path, "verify", str(first), "--log-key", key)[0] == 0
    code, out, _ = counsel(tmp_path, "verify", str(second), "--log-key", key, "--json")
    assert code == 1
    report = json.loads(out)
    assert [f["code"] for f in report["failures"]] == ["split-view"]
    assert report["failures"][0]["sentence"].startswith("SPLIT VIEW")


def test_a_witness_policy_is_met_by_a_cosigned_checkpoint(
    story: Story, tmp_path: Path, offline: None
) -> None:
    from tests.evidence.test_tampering import W1, cosigned

    value = forge.load(story.bens_bundle)
    cosigned(value, W1)
    path = tmp_path / "cosigned.json"
    path.write_bytes(forge.dump(forge.resign(value, story.ben)))
    key = story.log_signer.verifier().key_string()
    code, out, _ = counsel(
        tmp_path, "verify", str(path), "--log-key", key,
        "--witness", W1.verifier().key_string(), "--witnesses-required", "1",
    )  # fmt: skip
    assert code == 0, out
    assert "Independently cosigned by: witness.example.test/w1." in out
