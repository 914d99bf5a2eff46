"""C2SP signed notes: the Go reference known answers, and every parsing rule of the spec."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from keys.errors import EncodingError, SignatureError
from keys.note import (
    MAX_SIGNATURES,
    AmbiguousNoteKeyError,
    InvalidNoteSignatureError,
    MalformedNoteError,
    MalformedNoteKeyError,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    UnverifiedNoteError,
    add_signatures,
    compute_key_id,
    open_note,
    sign_note,
    split_note,
)

KNOWN: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "signed-note.json").read_text()
)
GO = KNOWN["go_note_test"]
C2SP = KNOWN["c2sp_example"]

ALICE = NoteSigner("example.com/alice", bytes(range(32)))
BOB = NoteSigner("example.com/bob", bytes(range(1, 33)))
TEXT = "hello\nworld\n"


# --- known answers ---------------------------------------------------------------------------


def test_go_signer_key_round_trips_and_yields_the_known_verifier_key() -> None:
    signer = NoteSigner.from_key_string(GO["signer_key"])
    assert signer.key_string() == GO["signer_key"]
    assert signer.verifier().key_string() == GO["verifier_key"]
    assert signer.name == "PeterNeumann"
    assert signer.key_id.hex() == "c74f20a3"


def test_signing_the_go_text_produces_the_known_signed_note_byte_for_byte() -> None:
    signer = NoteSigner.from_key_string(GO["signer_key"])
    assert sign_note(GO["text"], [signer]) == GO["signed_note"]


def test_known_signed_note_opens_with_the_known_verifier_key() -> None:
    verifier = NoteVerifier.from_key_string(GO["verifier_key"])
    note = open_note(GO["signed_note"], [verifier])
    assert note.text == GO["text"]
    assert [v for v, _ in note.verified] == [verifier]
    assert note.unverified == []


@pytest.mark.parametrize("bad_key", GO["bad_verifier_keys"])
def test_bad_go_verifier_key_is_refused(bad_key: str) -> None:
    with pytest.raises(MalformedNoteKeyError):
        NoteVerifier.from_key_string(bad_key)


def test_c2sp_example_verifier_key_parses_and_its_key_id_matches() -> None:
    verifier = NoteVerifier.from_key_string(C2SP["verifier_key"])
    assert verifier.name == "example.com/foo"
    assert verifier.key_id.hex() == "530d903a"
    assert verifier.key_id == compute_key_id(verifier.name, 0x01, verifier.public_key)
    assert verifier.key_string() == C2SP["verifier_key"]


def test_c2sp_example_text_signs_and_opens_under_a_fresh_key() -> None:
    signer = NoteSigner.generate("example.com/foo")
    note = sign_note(C2SP["text"], [signer])
    assert open_note(note, [signer.verifier()]).text == C2SP["text"]


# --- key strings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key_string",
    [
        "PeterNeumann+c74f20a3",  # no key
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not lowercase
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key id
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # truncated
    ],
)
def test_malformed_verifier_key_string_is_refused(key_string: str) -> None:
    with pytest.raises(MalformedNoteKeyError):
        NoteVerifier.from_key_string(key_string)


def test_signer_key_string_with_a_wrong_key_id_is_refused() -> None:
    forged = GO["signer_key"].replace("c74f20a3", "c74f20a4")
    with pytest.raises(MalformedNoteKeyError, match="key id"):
        NoteSigner.from_key_string(forged)


def test_verifier_key_string_is_not_accepted_as_a_signer_key() -> None:
    with pytest.raises(MalformedNoteKeyError, match="PRIVATE"):
        NoteSigner.from_key_string(GO["verifier_key"])


def test_key_names_with_plus_or_whitespace_are_refused() -> None:
    for name in ["a+b", "a b", "a\u00a0b", "a\tb", ""]:
        with pytest.raises(MalformedNoteKeyError):
            NoteSigner(name, bytes(32))


def test_signer_repr_does_not_show_the_seed() -> None:
    assert bytes(range(32)).hex() not in repr(ALICE)
    assert "PRIVATE" not in repr(ALICE)


# --- opening notes ---------------------------------------------------------------------------


def test_note_signed_by_two_keys_opens_with_either() -> None:
    note = sign_note(TEXT, [ALICE, BOB])
    assert [v.name for v, _ in open_note(note, [BOB.verifier()]).verified] == ["example.com/bob"]
    opened = open_note(note, [ALICE.verifier()])
    assert [s.name for s in opened.unverified] == ["example.com/bob"]


def test_note_from_an_unknown_key_only_is_refused() -> None:
    note = sign_note(TEXT, [ALICE])
    with pytest.raises(UnverifiedNoteError, match=r"example\.com/alice"):
        open_note(note, [BOB.verifier()])


def test_unknown_key_sharing_only_the_name_of_a_trusted_key_is_ignored() -> None:
    impostor = NoteSigner("example.com/alice", bytes(range(2, 34)))
    note = sign_note(TEXT, [impostor, BOB])
    opened = open_note(note, [ALICE.verifier(), BOB.verifier()])
    assert [v.name for v, _ in opened.verified] == ["example.com/bob"]
    assert [s.key_id for s in opened.unverified] == [impostor.key_id]


def test_altered_text_under_a_known_key_is_refused() -> None:
    note = sign_note(TEXT, [ALICE]).replace("world", "World")
    with pytest.raises(InvalidNoteSignatureError, match=r"example\.com/alice"):
        open_note(note, [ALICE.verifier()])


def test_bad_signature_from_a_known_key_fails_the_whole_note_even_if_another_verifies() -> None:
    good = sign_note(TEXT, [ALICE])
    forged = NoteSignature(BOB.name, BOB.key_id, bytes(64))
    note = good + forged.to_line()
    with pytest.raises(InvalidNoteSignatureError):
        open_note(note, [ALICE.verifier(), BOB.verifier()])


def test_repeated_signature_lines_are_counted_once() -> None:
    note = sign_note(TEXT, [ALICE])
    line = note.split("\n\n", 1)[1]
    opened = open_note(note + line + line, [ALICE.verifier()])
    assert len(opened.verified) == 1


def test_note_text_may_contain_blank_lines_and_is_split_at_the_last_one() -> None:
    text = "first\n\nsecond\n\n"
    note = sign_note(text, [ALICE])
    assert open_note(note, [ALICE.verifier()]).text == text


def test_note_may_be_given_as_utf8_bytes() -> None:
    text = "caf\u00e9 \u2014 ok\n"
    note = sign_note(text, [ALICE])
    assert open_note(note.encode("utf-8"), [ALICE.verifier()]).text == text


def test_two_trusted_keys_with_the_same_name_and_key_id_are_ambiguous() -> None:
    class Twin(NoteVerifier):
        pass

    twin = Twin(ALICE.name, ALICE.public_key)
    with pytest.raises(AmbiguousNoteKeyError):
        open_note(sign_note(TEXT, [ALICE]), [ALICE.verifier(), twin])


def _signed(text: str = TEXT) -> str:
    return sign_note(text, [ALICE])


MALFORMED_NOTES = {
    "no blank line": TEXT + _signed().split("\n\n", 1)[1],
    "no signatures": TEXT + "\n",
    "no final newline": _signed()[:-1],
    "non-utf8 bytes": b"hello\n\n\xe2\x80\x94 a " + b"\xff" * 3 + b"\n",
    "carriage return": _signed().replace("hello", "hel\rlo"),
    "tab": _signed().replace("hello", "hel\tlo"),
    "hyphen instead of em dash": _signed().replace("\u2014", "-"),
    "en dash instead of em dash": _signed().replace("\u2014", "\u2013"),
    "no space after dash": _signed().replace("\u2014 ", "\u2014"),
    "name with plus": _signed().replace("example.com/alice", "example.com+alice"),
    "empty name": _signed().replace("\u2014 example.com/alice ", "\u2014  "),
    "no signature after name": TEXT + "\n\u2014 example.com/alice\n",
    "signature not base64": TEXT + "\n\u2014 example.com/alice not*base64\n",
    "unpadded base64": _signed().rstrip("=\n") + "\n",
    "signature of only a key id": TEXT + "\n\u2014 example.com/alice AAAAAA==\n",
}


@pytest.mark.parametrize("note", list(MALFORMED_NOTES.values()), ids=list(MALFORMED_NOTES))
def test_malformed_note_is_refused(note: str | bytes) -> None:
    with pytest.raises(MalformedNoteError):
        open_note(note, [ALICE.verifier()])


def test_blank_line_among_signatures_moves_the_text_boundary_so_nothing_verifies() -> None:
    # The text ends at the *last* blank line, so the first signature line becomes text.
    note = _signed() + "\n" + _signed().split("\n\n", 1)[1]
    with pytest.raises(InvalidNoteSignatureError):
        open_note(note, [ALICE.verifier()])


def test_note_with_too_many_signatures_is_refused() -> None:
    line = NoteSignature("example.com/other", b"\0\0\0\1", bytes(64)).to_line()
    note = _signed() + line * MAX_SIGNATURES
    with pytest.raises(MalformedNoteError, match="limit"):
        open_note(note, [ALICE.verifier()])


def test_sixteen_signatures_are_always_accepted() -> None:
    signers = [NoteSigner(f"example.com/w{i}", bytes([i]) * 32) for i in range(16)]
    note = sign_note(TEXT, signers)
    opened = open_note(note, [s.verifier() for s in signers])
    assert len(opened.verified) == 16


def test_malformed_note_errors_are_encoding_errors_and_bad_signatures_signature_errors() -> None:
    assert issubclass(MalformedNoteError, EncodingError)
    assert issubclass(UnverifiedNoteError, SignatureError)
    assert issubclass(InvalidNoteSignatureError, SignatureError)


# --- signing ---------------------------------------------------------------------------------


def test_text_without_final_newline_cannot_be_signed() -> None:
    with pytest.raises(MalformedNoteError, match="newline"):
        sign_note("hello", [ALICE])


def test_text_with_control_characters_cannot_be_signed() -> None:
    with pytest.raises(MalformedNoteError, match="control"):
        sign_note("bell\x07\n", [ALICE])


def test_signature_line_carries_key_id_then_signature_in_standard_base64() -> None:
    note = sign_note(TEXT, [ALICE])
    name, b64 = note.split("\n\n", 1)[1].removeprefix("\u2014 ").rstrip("\n").split(" ")
    raw = base64.b64decode(b64)
    assert name == ALICE.name
    assert raw[:4] == ALICE.key_id
    assert ALICE.verifier().verify(TEXT.encode(), raw[4:])


def test_add_signatures_keeps_existing_lines_and_appends_new_ones() -> None:
    note = sign_note(TEXT, [ALICE])
    both = add_signatures(note, [BOB])
    assert both.startswith(note)
    text, sigs = split_note(both)
    assert text == TEXT
    assert [s.name for s in sigs] == [ALICE.name, BOB.name]
    opened = open_note(both, [ALICE.verifier(), BOB.verifier()])
    assert len(opened.verified) == 2


def test_resigning_with_the_same_key_replaces_its_line() -> None:
    note = sign_note(TEXT, [ALICE, BOB])
    again = add_signatures(note, [ALICE])
    assert [s.name for s in split_note(again)[1]] == [BOB.name, ALICE.name]
