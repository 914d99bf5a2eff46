"""Sheet and rider files: templates that assume nothing, and mistakes named by line and fix."""

from __future__ import annotations

import pytest

from client.negotiation.errors import FormError
from client.negotiation.forms import (
    amend_template,
    parse_rider,
    parse_sheet,
    rider_template,
    sheet_template,
)
from client.negotiation.overlap import review
from tests.negotiation.builders import ANA, BEN, V, brief, rider, sheet


def filled(text: str, answer: str = "no") -> str:
    """The template with every empty answer filled the way a careful performer might."""
    by_section = {"zones": '"ok"', "you": '"she/her"', "signals": '"two taps"', "care": '"message"'}
    out, section = [], ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[]").split(".")[0]
        key = line.split(" = ")[0]
        if ' = ""' in line and key not in ("unanswered", "health", "aftercare", "notes"):
            value = f'"{answer}"' if section == "acts" else by_section.get(section, "false")
            line = line.replace('""', value, 1)
        out.append(line)
    return "\n".join(out)


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(needle))


def test_a_filled_template_parses_into_a_complete_sheet() -> None:
    parsed = parse_sheet(filled(sheet_template(V, brief(), ANA)))
    assert {a.answer for a in parsed.acts} == {"no"} and parsed.name == "Ana"
    assert parsed.nudity_shown == () and parsed.signals.stop == "Red"


def test_a_sheet_round_trips_through_its_template() -> None:
    original = sheet(
        yes=["hand-on-back:giving"],
        ask=["holding-hands"],
        nudity=["bare-back"],
        intensity={"hand-on-back:giving": 4},
        zones={"neck": "never"},
    )
    assert parse_sheet(sheet_template(V, brief(), ANA, previous=original)) == original


def test_the_template_assumes_nothing_and_unanswered_items_are_refused() -> None:
    text = sheet_template(V, brief(), ANA)
    with pytest.raises(FormError) as caught:
        parse_sheet(text)
    assert (
        f"sheet.toml line {line_of(text, 'answer')}: acts.holding-hands.answer is unanswered; "
        "use yes, ask-first, maybe or no (nothing is assumed"
    ) in str(caught.value)


def test_unanswered_no_answers_every_empty_item_no() -> None:
    text = sheet_template(V, brief(), ANA).replace('unanswered = ""', 'unanswered = "no"')
    text = text.replace('pronouns = ""', 'pronouns = "she/her"')
    text = text.replace('nonverbal = ""', 'nonverbal = "two taps"')
    text = text.replace('check_in = ""', 'check_in = "call"')
    parsed = parse_sheet(text)
    assert {z.answer for z in parsed.zones} == {"never"} and not parsed.doubles.digital_replica


def test_a_typo_in_an_answer_names_the_line_and_the_fix() -> None:
    text = filled(sheet_template(V, brief(), ANA))
    n = line_of(text, "giving")
    lines = text.splitlines()
    lines[n - 1] = 'giving = "yse"'
    with pytest.raises(FormError) as caught:
        parse_sheet("\n".join(lines))
    assert str(caught.value) == (
        f'sheet.toml line {n}: "yse" is not an answer; use yes, ask-first, maybe or no.'
    )


def test_an_unknown_act_is_named_with_a_suggestion() -> None:
    text = filled(sheet_template(V, brief(), ANA)).replace(
        "[acts.holding-hands]", "[acts.holding-hand]"
    )
    with pytest.raises(FormError) as caught:
        parse_sheet(text)
    message = str(caught.value)
    assert f"line {line_of(text, '[acts.holding-hand]')}" in message
    assert 'did you mean "holding-hands"?' in message


def test_toml_syntax_errors_keep_tomllibs_line_and_column() -> None:
    with pytest.raises(FormError) as caught:
        parse_sheet('vocabulary = 1\nunanswered = "no\n')
    assert str(caught.value).startswith("sheet.toml line 2: column")


def test_the_rider_template_holds_only_agreed_acts_and_parses_back() -> None:
    sheets = {
        ANA: sheet(yes=["closed-mouth-kissing-lips", "hand-on-back:giving"], ask=["holding-hands"]),
        BEN: sheet(yes=["closed-mouth-kissing-lips", "holding-hands"]),
    }
    text = rider_template(review(brief(), sheets))
    assert "hand-on-back" not in text  # Ben never said yes to receiving it
    assert '# act = "holding-hands"' in text  # ask first: commented out
    text = text.replace('description = ""', 'description = "A kiss at the window."')
    parsed = parse_rider(text, brief())
    assert [a.act for a in parsed.acts] == ["closed-mouth-kissing-lips"]
    assert parsed.actual_sex_prohibited and parsed.version == 1


def test_an_amendment_template_chains_to_the_version_it_amends() -> None:
    r1 = rider()
    r2 = parse_rider(amend_template(r1, brief()), brief())
    assert (r2.version, r2.previous, r2.acts) == (2, r1.hash, r1.acts)


def test_rider_mistakes_are_listed_with_their_lines() -> None:
    text = amend_template(rider(), brief())
    text = text.replace('giver = "ana"', 'giver = "anna"').replace(
        "actual_sex_prohibited = true", "actual_sex_prohibited = false"
    )
    with pytest.raises(FormError) as caught:
        parse_rider(text, brief())
    message = str(caught.value)
    assert f'rider.toml line {line_of(text, "giver")}: "anna" is not a performer' in message
    assert f"line {line_of(text, 'actual_sex')}: actual_sex_prohibited must stay true" in message
    assert BEN  # the brief's other performer keeps its label


def test_a_contradictory_sheet_is_refused_at_submit_with_its_lines() -> None:
    lines = filled(sheet_template(V, brief(), ANA)).splitlines()

    def set_line(start: str, value: str, after: int = 0) -> int:
        i = next(i for i, ln in enumerate(lines) if i >= after and ln.startswith(start))
        lines[i] = value
        return i + 1  # the 1-based line number

    kiss = set_line("answer", 'answer = "yes"', lines.index("[acts.closed-mouth-kissing-lips]"))
    zones = lines.index("[zones]")
    set_line("lips = ", 'lips = "never"', zones)
    set_line("back = ", 'back = "never"', zones)
    bare = set_line("bare-back = ", "bare-back = true", lines.index("[nudity]"))
    with pytest.raises(FormError) as caught:
        parse_sheet("\n".join(lines))
    message = str(caught.value)
    assert f"sheet.toml line {kiss}: acts.closed-mouth-kissing-lips.answer is 'yes'" in message
    assert f"sheet.toml line {bare}: nudity.bare-back is true" in message


def test_unanswered_no_does_not_answer_the_required_check_in_and_says_so() -> None:
    text = sheet_template(V, brief(), ANA)
    assert 'check_in = ""  # REQUIRED' in text and 'nonverbal = ""  # REQUIRED' in text
    text = text.replace('unanswered = ""', 'unanswered = "no"')
    text = text.replace('pronouns = ""', 'pronouns = "she/her"')
    text = text.replace('nonverbal = ""', 'nonverbal = "two taps"')
    head, _, rest = text.partition("[zones]")
    zones, _, tail = rest.partition("[zone_notes]")
    text = head + "[zones]" + zones.replace('""', '"ok"') + "[zone_notes]" + tail
    with pytest.raises(FormError) as caught:
        parse_sheet(text)
    message = str(caught.value)
    assert message.startswith(
        f"sheet.toml line {line_of(text, 'check_in')}: care.check_in is required and unanswered"
    )
    assert 'unanswered = "no" answers only yes/no items' in message and "\n" not in message
    parsed = parse_sheet(text.replace('check_in = ""', 'check_in = "none"'))
    assert parsed.check_in == "none" and {a.answer for a in parsed.acts} == {"no"}
