"""The sheet page checks answers with the CLI's own parser, and every problem it reports lands
on the field it is about (so the error summary's links and the inline errors are right)."""

from __future__ import annotations

import tomllib

import pytest

from client.app.pages_sheet import _flatten, check_values, field_id, fill
from client.negotiation import vocabulary as vocab
from client.negotiation.errors import FormError
from client.negotiation.forms import parse_sheet, sheet_template
from tests.negotiation.builders import ANA, brief


def test_every_unanswered_item_is_reported_on_its_own_field() -> None:
    v = vocab.load()
    template = sheet_template(v, brief(), ANA)
    values = _flatten(tomllib.loads(template))
    sheet, errors = check_values(template, values)
    assert sheet is None
    fields = {e["field"] for e in errors}
    wanted = {
        field_id(f"acts.{a.id}.{'answer' if d == 'mutual' else d}")
        for a in v.acts.values()
        for d in a.directions
    }
    wanted |= {field_id(f"zones.{z}") for z in v.zones}
    wanted |= {field_id(f"nudity.{n}") for n in v.nudity}
    wanted |= {field_id(f"footage.{u}") for u in v.uses}
    wanted |= {field_id("signals.nonverbal"), field_id("you.pronouns")}
    assert wanted <= fields, sorted(wanted - fields)[:5]
    # The same problems, in the same words, as `closedset sheet submit` of the same text.
    text, _ = fill(template, values)
    with pytest.raises(FormError) as cli:
        parse_sheet(text, filename="your sheet")
    assert len(cli.value.problems) == len(errors)
    # Named as the page names the field, not by its TOML path.
    texts = {e["field"]: e["text"] for e in errors}
    assert texts[field_id("zones.genital-area")].startswith("genital area is unanswered")
    assert texts[field_id("acts.hand-on-back.giving")].startswith("hand on back, giving is")


def test_a_complete_form_is_the_sheet_the_cli_would_send() -> None:
    v = vocab.load()
    template = sheet_template(v, brief(), ANA)
    values = _flatten(tomllib.loads(template)) | {
        "unanswered": "no",
        "you.pronouns": "she/her",
        "signals.nonverbal": "two taps",
        "care.check_in": "message",
        "zones.lips": "ok",
        "zone_notes.lips": "closed mouth only",
        "acts.hand-on-back.receiving": "ask-first",
        "acts.hand-on-back.receiving_intensity": 3,
        "zones.back": "ok",  # else the sheet contradicts itself (issue 15: refused at submit)
    }
    sheet, errors = check_values(template, values)
    assert errors == [] and sheet is not None
    assert sheet.zone("lips").note == "closed mouth only"
    assert sheet.answer("hand-on-back", "receiving").intensity == 3
    assert sheet == parse_sheet(fill(template, values)[0])


def test_the_form_groups_acts_by_the_vocabularys_group_in_plain_words() -> None:
    import json
    from importlib import resources

    v = vocab.load()
    groups = v.act_groups()
    assert [g for g, _ in groups] == [
        "Holding and embracing", "Kissing", "Touching with the hands",
        "Undressing, restraint and lifting", "Body positions", "Simulated sex",
    ]  # fmt: skip
    # Every act once, in the catalogue's order, under its own group.
    assert [a.id for _, acts in groups for a in acts] == list(v.acts)
    assert all(a.group == g for g, acts in groups for a in acts)
    # The property is data: a vocabulary without it loads, with every act under one heading;
    # an empty group is refused as every malformed vocabulary is.
    raw = json.loads(
        resources.files("client.negotiation").joinpath("data", "vocabulary-v1.json").read_text()
    )
    for act in raw["acts"]:
        del act["group"]
    plain = vocab.from_json(raw)
    assert [g for g, _ in plain.act_groups()] == [""] and plain.acts == {
        k: a.__class__(**{**a.__dict__, "group": ""}) for k, a in v.acts.items()
    }
    raw["acts"][0]["group"] = " "
    with pytest.raises(vocab.VocabularyError, match="group"):
        vocab.from_json(raw)
