"""The witness core without HTTP: each tlog-witness rule, and a state that never moves back."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from client.witness.core import (
    AddCheckpointRequest,
    ConflictError,
    InconsistentProofError,
    MalformedRequestError,
    SplitViewError,
    UnknownLogError,
    UntrustedCheckpointError,
    Witness,
)
from client.witness.state import load_or_create_key, load_state, state_writer
from keys.checkpoint import open_checkpoint
from keys.cosignature import CosignatureSigner, CosignatureVerifier
from keys.note import NoteSigner, std_b64encode
from tests.witness.support import LOG_NAME, NOW, WITNESS_NAME, WITNESS_SEED, MemoryLog

SIGNER = CosignatureSigner(WITNESS_NAME, WITNESS_SEED)


def make_witness(log: MemoryLog, home: Path | None = None) -> Witness:
    persist = state_writer(home) if home is not None else None
    latest = load_state(home) if home is not None else []
    return Witness(SIGNER, {LOG_NAME: [log.signer.verifier()]}, latest, persist)


def grown(size: int) -> MemoryLog:
    return MemoryLog().append(*(b"entry %d" % i for i in range(size)))


def test_first_checkpoint_is_cosigned_and_the_cosignature_verifies() -> None:
    log = grown(5)
    witness = make_witness(log)
    line = witness.add_checkpoint(0, [], log.checkpoint(), NOW)

    assert line.startswith(f"\u2014 {WITNESS_NAME} ") and line.endswith("\n")
    opened = open_checkpoint(
        log.checkpoint() + line,
        log.signer.verifier(),
        witnesses=[SIGNER.verifier()],
        min_witnesses=1,
    )
    assert opened.witness_names == (WITNESS_NAME,)
    assert CosignatureVerifier.timestamp(opened.witness_signatures[0][1]) == NOW
    assert witness.latest(LOG_NAME) is not None and witness.latest(LOG_NAME).checkpoint.size == 5


def test_consistent_growth_is_cosigned() -> None:
    log = grown(5)
    witness = make_witness(log)
    witness.add_checkpoint(0, [], log.checkpoint(), NOW)
    log.append(b"six", b"seven", b"eight")
    witness.add_checkpoint(5, log.proof(5, 8), log.checkpoint(), NOW + 1)
    assert witness.latest(LOG_NAME).checkpoint.size == 8


def test_same_checkpoint_again_is_cosigned_again() -> None:
    log = grown(3)
    witness = make_witness(log)
    witness.add_checkpoint(0, [], log.checkpoint(), NOW)
    witness.add_checkpoint(3, [], log.checkpoint(), NOW + 1)


def test_inconsistent_checkpoint_is_refused_and_the_state_is_unchanged(tmp_path: Path) -> None:
    honest = grown(5)
    witness = make_witness(honest, tmp_path)
    witness.add_checkpoint(0, [], honest.checkpoint(), NOW)
    saved = (tmp_path / "witness-state.json").read_bytes()

    # Same key, a different history of 8 entries: no proof from the honest 5 can reach it.
    forked = MemoryLog().append(*(b"other %d" % i for i in range(8)))
    with pytest.raises(InconsistentProofError) as caught:
        witness.add_checkpoint(5, forked.proof(5, 8), forked.checkpoint(), NOW + 1)
    assert caught.value.status == 422
    assert witness.latest(LOG_NAME).note == honest.checkpoint()
    assert (tmp_path / "witness-state.json").read_bytes() == saved


def test_same_size_different_root_is_a_split_view() -> None:
    honest, forked = grown(4), MemoryLog().append(b"a", b"b", b"c", b"d")
    witness = make_witness(honest)
    witness.add_checkpoint(0, [], honest.checkpoint(), NOW)
    with pytest.raises(SplitViewError) as caught:
        witness.add_checkpoint(4, [], forked.checkpoint(), NOW + 1)
    assert (caught.value.status, caught.value.current_size) == (409, 4)


def test_rollback_is_refused() -> None:
    log = grown(6)
    witness = make_witness(log)
    witness.add_checkpoint(0, [], log.checkpoint(), NOW)
    # Claiming the true old size makes old > size: 400, as the spec orders.
    with pytest.raises(MalformedRequestError):
        witness.add_checkpoint(6, [], log.checkpoint(4), NOW + 1)
    # Claiming a smaller old size: 409 with the witness's size.
    with pytest.raises(ConflictError) as caught:
        witness.add_checkpoint(2, log.proof(2, 4), log.checkpoint(4), NOW + 1)
    assert caught.value.current_size == 6
    assert witness.latest(LOG_NAME).checkpoint.size == 6


def test_wrong_old_size_is_a_conflict_naming_the_current_size() -> None:
    log = grown(5)
    witness = make_witness(log)
    witness.add_checkpoint(0, [], log.checkpoint(), NOW)
    log.append(b"more")
    with pytest.raises(ConflictError) as caught:
        witness.add_checkpoint(0, [], log.checkpoint(), NOW)
    assert (caught.value.status, caught.value.current_size) == (409, 5)
    assert not isinstance(caught.value, SplitViewError)


def test_unknown_log_is_not_found() -> None:
    stranger = MemoryLog(signer=NoteSigner("elsewhere.example/log", bytes(32))).append(b"x")
    with pytest.raises(UnknownLogError) as caught:
        make_witness(grown(1)).add_checkpoint(0, [], stranger.checkpoint(), NOW)
    assert caught.value.status == 404


def test_checkpoint_signed_by_another_key_is_forbidden() -> None:
    impostor = MemoryLog(signer=NoteSigner(LOG_NAME, bytes(32))).append(b"x")
    with pytest.raises(UntrustedCheckpointError) as caught:
        make_witness(grown(1)).add_checkpoint(0, [], impostor.checkpoint(), NOW)
    assert caught.value.status == 403


def test_tampered_log_signature_is_forbidden() -> None:
    log = grown(2)
    note = log.checkpoint()
    text, _, sig = note.rpartition(" ")
    tampered = f"{text} {'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    with pytest.raises(UntrustedCheckpointError):
        make_witness(log).add_checkpoint(0, [], tampered, NOW)


def test_proof_with_old_size_zero_is_a_bad_request() -> None:
    log = grown(4)
    with pytest.raises(MalformedRequestError):
        make_witness(log).add_checkpoint(0, [bytes(32)], log.checkpoint(), NOW)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"old 1\n", "empty line"),
        (b"new 1\n\nx", "'old <size>'"),
        (b"old 01\n\nx", "leading zeroes"),
        (b"old 1\nnot base64!\n\nx", "base64"),
        (b"old 1\nAAAA\n\nx", "bytes"),
        (b"old 1\n" + b"A" * 43 + b"=\n" * 64 + b"\nx", "limit of 63"),
        (b"old 1\n\n\xff", "UTF-8"),
    ],
)
def test_malformed_bodies_are_refused_with_a_sentence(body: bytes, fragment: str) -> None:
    with pytest.raises(MalformedRequestError, match=fragment.replace("(", r"\(")):
        AddCheckpointRequest.parse(body)


def test_request_body_parses_as_the_spec_example_shapes_it() -> None:
    log = grown(7)
    proof = log.proof(3, 7)
    body = "old 3\n" + "".join(std_b64encode(h) + "\n" for h in proof)
    parsed = AddCheckpointRequest.parse((body + "\n" + log.checkpoint()).encode())
    assert (parsed.old_size, list(parsed.proof), parsed.note) == (3, proof, log.checkpoint())


def test_state_survives_a_restart_and_key_file_is_private(tmp_path: Path) -> None:
    signer, created = load_or_create_key(tmp_path, WITNESS_NAME)
    assert created and stat.S_IMODE((tmp_path / "witness.key").stat().st_mode) == 0o600
    again, created = load_or_create_key(tmp_path, None)
    assert not created and again.key_string() == signer.key_string()

    log = grown(5)
    make_witness(log, tmp_path).add_checkpoint(0, [], log.checkpoint(), NOW)
    document = json.loads((tmp_path / "witness-state.json").read_text())
    assert list(document["logs"]) == [LOG_NAME]
    restarted = make_witness(log, tmp_path)
    with pytest.raises(ConflictError) as caught:
        restarted.add_checkpoint(0, [], log.checkpoint(), NOW)
    assert caught.value.current_size == 5
