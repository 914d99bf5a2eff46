"""ASCII armor survives what mail clients do to it and refuses everything else."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from keys.armor import (
    BUNDLE,
    DISCLOSURE,
    ENVELOPE,
    IDENTITY,
    KEY_BACKUP,
    LABELS,
    MAX_ARMOR_CHARS,
    SEALED,
    armor,
    dearmor,
    find_armored,
)
from keys.errors import ArmorError, EncodingError, LimitError

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
QUOTES = ["", ">", "> ", ">> ", "> > ", " > ", ">\t"]

data_st = st.binary(max_size=1500)
label_st = st.sampled_from(sorted(LABELS))


def _base64_of(text: str) -> str:
    return "".join(text.splitlines()[1:-1])


def _block(encoded_lines: list[str], label: str = ENVELOPE, newline: str = "\r\n") -> str:
    lines = [f"-----BEGIN CLOSEDSET {label}-----", *encoded_lines]
    lines.append(f"-----END CLOSEDSET {label}-----")
    return newline.join(lines) + newline


# -- the exact output ------------------------------------------------------------------------


def test_labels_are_the_closed_set_of_fixed_words() -> None:
    assert (ENVELOPE, IDENTITY, KEY_BACKUP, DISCLOSURE, BUNDLE, SEALED) == (
        "ENVELOPE",
        "IDENTITY",
        "KEY BACKUP",
        "DISCLOSURE",
        "EVIDENCE",
        "SEALED MAIL",
    )
    assert frozenset({ENVELOPE, IDENTITY, KEY_BACKUP, DISCLOSURE, BUNDLE, SEALED}) == LABELS


def test_armor_writes_64_character_crlf_lines_between_fixed_markers() -> None:
    data = bytes(range(72))
    text = armor(data, KEY_BACKUP)
    encoded = base64.b64encode(data).decode()
    assert text == (
        "-----BEGIN CLOSEDSET KEY BACKUP-----\r\n"
        f"{encoded[:64]}\r\n"
        f"{encoded[64:]}\r\n"
        "-----END CLOSEDSET KEY BACKUP-----\r\n"
    )


def test_armor_of_known_bytes_matches_vector() -> None:
    assert armor(b"Closed Set", ENVELOPE) == (
        "-----BEGIN CLOSEDSET ENVELOPE-----\r\n"
        "Q2xvc2VkIFNldA==\r\n"
        "-----END CLOSEDSET ENVELOPE-----\r\n"
    )


@given(data_st, label_st)
def test_every_line_is_at_most_64_characters_and_ends_in_crlf(data: bytes, label: str) -> None:
    text = armor(data, label)
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    body = text.split("\r\n")[1:-2]
    assert all(len(line) == 64 for line in body[:-1])
    assert all(0 < len(line) <= 64 for line in body)


def test_empty_data_armors_to_markers_only() -> None:
    text = armor(b"", IDENTITY)
    assert text == "-----BEGIN CLOSEDSET IDENTITY-----\r\n-----END CLOSEDSET IDENTITY-----\r\n"
    assert dearmor(text, IDENTITY) == b""


# -- what mail clients do is forgiven ----------------------------------------------------------


@given(data_st, label_st)
def test_round_trip_of_arbitrary_bytes(data: bytes, label: str) -> None:
    assert dearmor(armor(data, label), label) == data


@given(data_st, st.integers(min_value=1, max_value=200), st.sampled_from(["\r\n", "\n", "\r"]))
def test_round_trip_after_rewrapping_at_any_width(data: bytes, width: int, newline: str) -> None:
    encoded = base64.b64encode(data).decode()
    lines = [encoded[i : i + width] for i in range(0, len(encoded), width)]
    assert dearmor(_block(lines, newline=newline), ENVELOPE) == data


@given(data_st, st.data())
def test_round_trip_after_quoting_at_random_depths(data: bytes, draw: st.DataObject) -> None:
    lines = armor(data, ENVELOPE).split("\r\n")[:-1]
    quoted = [draw.draw(st.lists(st.sampled_from(QUOTES), max_size=4)) for _ in lines]
    text = "\r\n".join("".join(q) + line for q, line in zip(quoted, lines, strict=True))
    assert dearmor(text, ENVELOPE) == data


@given(data_st, st.data())
def test_round_trip_after_lf_conversion_and_trailing_spaces(
    data: bytes, draw: st.DataObject
) -> None:
    lines = armor(data, ENVELOPE).split("\r\n")[:-1]
    padded = [line + draw.draw(st.sampled_from(["", " ", "  ", "\t", " \t "])) for line in lines]
    assert dearmor("\n".join(padded) + "\n", ENVELOPE) == data


@given(data_st, st.data())
def test_round_trip_after_everything_a_mail_client_does_at_once(
    data: bytes, draw: st.DataObject
) -> None:
    encoded = base64.b64encode(data).decode()
    width = draw.draw(st.integers(min_value=1, max_value=120))
    body = [encoded[i : i + width] for i in range(0, len(encoded), width)]
    lines = [f"-----BEGIN CLOSEDSET {BUNDLE}-----", *body, f"-----END CLOSEDSET {BUNDLE}-----"]
    out = []
    for line in lines:
        prefix = "".join(draw.draw(st.lists(st.sampled_from(QUOTES), max_size=3)))
        blank = draw.draw(st.sampled_from(["", "", "", ">", ">   "]))
        out.append(f"{prefix} \t{line}  ")
        if blank:
            out.append(blank)
    newline = draw.draw(st.sampled_from(["\r\n", "\n"]))
    text = "Hi,\nhere it is:\n\n" + newline.join(out) + newline + "-- \nsent from my phone\n"
    assert dearmor(text, BUNDLE) == data


def test_spaces_and_tabs_inside_base64_lines_are_ignored() -> None:
    text = _block(["Q2xv c2Vk\tIFNl", "", "   dA= =  "])
    assert dearmor(text, ENVELOPE) == b"Closed Set"


def test_text_before_begin_and_after_end_is_ignored() -> None:
    text = "Dear counsel,\r\nsee below.\r\n" + armor(b"x", DISCLOSURE) + "Regards,\r\nAda\r\n"
    assert dearmor(text, DISCLOSURE) == b"x"


# -- everything else is refused ------------------------------------------------------------------


@given(st.binary(min_size=1, max_size=600), st.data())
def test_any_base64_character_changed_to_a_non_alphabet_character_is_refused(
    data: bytes, draw: st.DataObject
) -> None:
    text = armor(data, ENVELOPE)
    begin_end = len("-----BEGIN CLOSEDSET ENVELOPE-----\r\n")
    positions = [i for i, ch in enumerate(text) if ch in ALPHABET and i >= begin_end]
    positions = [
        i for i in positions if i < len(text) - len("-----END CLOSEDSET ENVELOPE-----\r\n")
    ]
    index = draw.draw(st.sampled_from(positions))
    # '=' is base64's own pad character: swapping it in is a data change for the envelope to catch.
    replacement = draw.draw(st.characters().filter(lambda c: c not in ALPHABET + "="))
    with pytest.raises(ArmorError):
        dearmor(text[:index] + replacement + text[index + 1 :], ENVELOPE)


def test_missing_end_line_is_refused() -> None:
    text = armor(bytes(200), ENVELOPE)
    truncated = text[: text.index("-----END")]
    with pytest.raises(ArmorError, match=r"has no END line; copy the whole block"):
        dearmor(truncated, ENVELOPE)


def test_a_line_cut_short_in_the_middle_is_refused() -> None:
    lines = armor(bytes(range(200)), ENVELOPE).split("\r\n")
    lines[2] = lines[2][:50]
    with pytest.raises(ArmorError, match="cut short or wrongly padded"):
        dearmor("\r\n".join(lines), ENVELOPE)


@pytest.mark.parametrize("extra", ["A", "=", "AA", "Q==="])
def test_an_extra_character_that_breaks_padding_is_refused(extra: str) -> None:
    with pytest.raises(ArmorError, match="cut short or wrongly padded"):
        dearmor(_block(["Q2xvc2VkIFNldA==" + extra]), ENVELOPE)


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param("Q2xvc2VkIFNldA", id="missing padding"),
        pytest.param("Q2xvc2VkIFNldA=", id="half padding"),
        pytest.param("Q2xv=c2VkIFNldA=", id="padding in the middle"),
        pytest.param("QQ==QUJD", id="padding before more data"),
        pytest.param("A", id="one stray character"),
    ],
)
def test_wrong_or_missing_padding_is_refused(encoded: str) -> None:
    with pytest.raises(ArmorError, match="cut short or wrongly padded"):
        dearmor(_block([encoded]), ENVELOPE)


@pytest.mark.parametrize("encoded", ["QR==", "QUJ=", "Q2xvc2VkIFNldB=="])
def test_non_canonical_trailing_bits_are_refused(encoded: str) -> None:
    with pytest.raises(ArmorError, match="stray bits"):
        dearmor(_block([encoded]), ENVELOPE)


@pytest.mark.parametrize(
    "encoded", ["Q2xvc2VkIFNl_A==", "Q2xvc2VkIFNl-A==", "Q2xvc2Vk\u00a0IFNldA=="]
)
def test_characters_outside_the_standard_alphabet_are_refused(encoded: str) -> None:
    with pytest.raises(ArmorError, match=r"Line 2 holds .*not a base64 character"):
        dearmor(_block([encoded]), ENVELOPE)


def test_a_header_line_is_refused() -> None:
    with pytest.raises(ArmorError, match="Line 2 is a header line"):
        dearmor(_block(["Version: 1", "", "Q2xvc2VkIFNldA=="]), ENVELOPE)


def test_a_second_begin_before_end_is_refused() -> None:
    outer = armor(b"first", ENVELOPE).split("\r\n")
    inner = armor(b"second", ENVELOPE)
    text = "\r\n".join(outer[:2]) + "\r\n" + inner
    with pytest.raises(ArmorError, match="Line 3 begins a new block before the block begun on"):
        dearmor(text, ENVELOPE)


def test_a_second_begin_of_another_label_before_end_is_refused() -> None:
    text = _block(["Q2xvc2VkIFNldA==", "-----BEGIN CLOSEDSET IDENTITY-----"])
    with pytest.raises(ArmorError, match="begins a new block"):
        dearmor(text, ENVELOPE)


def test_mismatched_end_label_is_refused() -> None:
    text = armor(b"x", ENVELOPE).replace("END CLOSEDSET ENVELOPE", "END CLOSEDSET IDENTITY")
    with pytest.raises(ArmorError, match="as CLOSEDSET ENVELOPE ends as CLOSEDSET IDENTITY"):
        dearmor(text, ENVELOPE)


def test_a_block_of_another_label_is_refused_by_name() -> None:
    with pytest.raises(ArmorError, match="holds a CLOSEDSET IDENTITY block, not the CLOSEDSET"):
        dearmor(armor(b"x", IDENTITY), ENVELOPE)


def test_an_end_line_without_begin_is_refused() -> None:
    text = armor(b"x" * 100, ENVELOPE)
    with pytest.raises(ArmorError, match="ends a CLOSEDSET ENVELOPE block that never began"):
        dearmor(text.split("\r\n", 1)[1], ENVELOPE)


def test_text_without_any_block_is_refused_by_dearmor() -> None:
    with pytest.raises(ArmorError, match="no BEGIN CLOSEDSET ENVELOPE line; copy the whole"):
        dearmor("just a note\r\n", ENVELOPE)


def test_two_blocks_are_refused_by_dearmor_as_ambiguous() -> None:
    text = armor(b"one", ENVELOPE) + armor(b"two", ENVELOPE)
    with pytest.raises(ArmorError, match="2 CLOSEDSET ENVELOPE blocks where one was expected"):
        dearmor(text, ENVELOPE)


@pytest.mark.parametrize(
    "marker", ["-----BEGIN CLOSEDSET  ENVELOPE-----", "-----BEGIN CLOSEDSET envelope-----"]
)
def test_marker_lines_must_be_spelled_exactly(marker: str) -> None:
    text = armor(b"x", ENVELOPE).replace("-----BEGIN CLOSEDSET ENVELOPE-----", marker)
    with pytest.raises(ArmorError):
        dearmor(text, ENVELOPE)


@pytest.mark.parametrize("label", ["FOO", "envelope", "KEY-BACKUP", ""])
def test_unknown_labels_are_refused_everywhere(label: str) -> None:
    with pytest.raises(ArmorError, match="is not a Closed Set armor label"):
        armor(b"x", label)
    with pytest.raises(ArmorError, match="is not a Closed Set armor label"):
        dearmor("", label)
    with pytest.raises(ArmorError, match="is not a Closed Set armor label"):
        find_armored("", label)


def test_armor_errors_are_encoding_errors_and_one_sentence() -> None:
    with pytest.raises(EncodingError) as info:
        dearmor(_block(["Q2xvc2VkIFNldA"]), ENVELOPE)
    message = str(info.value)
    assert message.endswith(".") and message.count(". ") == 0 and "\n" not in message


# -- size limit -----------------------------------------------------------------------------------


def test_oversize_input_is_refused_before_decoding() -> None:
    # Garbage that would be an ArmorError if it were decoded: the limit must come first.
    text = "-----BEGIN CLOSEDSET ENVELOPE-----\r\n" + "!" * MAX_ARMOR_CHARS
    with pytest.raises(LimitError, match="over the limit"):
        dearmor(text, ENVELOPE)
    with pytest.raises(LimitError, match="over the limit"):
        find_armored(text, ENVELOPE)


def test_data_too_large_to_armor_is_refused() -> None:
    with pytest.raises(LimitError, match="too large to armor"):
        armor(bytes(MAX_ARMOR_CHARS * 3 // 4), ENVELOPE)


def test_the_largest_armorable_data_round_trips() -> None:
    size = MAX_ARMOR_CHARS * 3 // 4 - 120_000
    text = armor(bytes(size), ENVELOPE)
    assert len(text) <= MAX_ARMOR_CHARS
    assert dearmor(text, ENVELOPE) == bytes(size)


# -- finding blocks in an email ------------------------------------------------------------


def test_an_email_body_with_no_blocks_gives_an_empty_list() -> None:
    assert find_armored("Hi all,\r\n\r\nsee you on set.\r\n", ENVELOPE) == []
    assert find_armored("", ENVELOPE) == []


def test_find_armored_returns_every_block_of_its_label_in_order() -> None:
    body = (
        "Two envelopes and an identity:\r\n"
        + armor(b"first", ENVELOPE)
        + "\r\nand\r\n"
        + armor(b"who", IDENTITY)
        + "> "
        + armor(b"second", ENVELOPE).replace("\r\n", "\r\n> ")
        + "\r\nthanks\r\n"
    )
    assert find_armored(body, ENVELOPE) == [b"first", b"second"]
    assert find_armored(body, IDENTITY) == [b"who"]
    assert find_armored(body, DISCLOSURE) == []


def test_find_armored_refuses_a_damaged_block_rather_than_skipping_it() -> None:
    body = armor(b"first", ENVELOPE) + armor(b"second", ENVELOPE).replace("c2Vjb25k", "c2Vj!25k")
    with pytest.raises(ArmorError, match="not a base64 character"):
        find_armored(body, ENVELOPE)


def test_a_marker_mentioned_inside_a_sentence_is_not_a_block() -> None:
    body = "Paste the -----BEGIN CLOSEDSET ENVELOPE----- block here.\r\n"
    assert find_armored(body, ENVELOPE) == []


def test_error_messages_name_the_line() -> None:
    text = "intro\n" + _block(["Q2xvc2Vk", "IF?ldA=="], newline="\n")
    with pytest.raises(ArmorError) as info:
        dearmor(text, ENVELOPE)
    assert re.fullmatch(
        r"Line 4 holds '\?', which is not a base64 character; .*\.", str(info.value)
    )


@given(data_st)
def test_armored_text_decodes_as_standard_base64(data: bytes) -> None:
    assume(data)
    assert base64.b64decode(_base64_of(armor(data, ENVELOPE)), validate=True) == data
