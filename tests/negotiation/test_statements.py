"""Statements: one canonical plaintext each, parsed strictly under its own purpose tag."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from client.negotiation import vocabulary as vocab
from client.negotiation.brief import Request, SceneRequests
from client.negotiation.errors import StatementError, VocabularyError
from client.negotiation.rider import Annex
from client.negotiation.statements import (
    PURPOSES,
    CheckIn,
    Counter,
    FilmedMark,
    Message,
    ReGrant,
    RepairPlan,
    ReplicaConsent,
    SceneClose,
    TransgressionReport,
    Waiver,
    Withdrawal,
    parse,
)
from keys.encoding import canonical_json
from keys.statement import check_purpose
from tests.negotiation.builders import ANA, BEN, CALL, IC, accept, brief, rider, sheet

EXAMPLES = [
    brief(contact=True), SceneRequests((Request("hand-on-back", ANA, BEN),), ((ANA, "bare-back"),)),
    sheet(yes=["holding-hands"]), rider(), accept(rider()), Counter(1, rider().hash, "slower"),
    Withdrawal(whole=False, items=("act:kissing-neck:receiving", "stills"), version=1),
    FilmedMark(1, rider().hash, ("closed-mouth-kissing-lips",), "12A"), CheckIn("ok"),
    TransgressionReport("crossing", "a hand slipped", CALL, (BEN,)), Message((IC,), "hello"),
    SceneClose("wrapped"), Waiver(1, rider().hash, "re-scheduled by the studio, agreed by all"),
    ReplicaConsent("Body scan for the fall in scene 12, this production only, deleted after."),
    ReGrant(("act:kissing-neck:receiving",), "I am fine with it again."),
    Annex(1, BEN, b"\5" * 32, ("trailer",), note="only the wide shot"),
    RepairPlan(b"\6" * 32, "Closed set reduced to the DP; a new blocking.", (ANA,)),
]  # fmt: skip
# Optional fields of rule set 2, present only when set (absent, they leave old bytes as signed).
EXAMPLES_V2 = [
    FilmedMark(1, rider().hash, (), "", ("agreed 30.0 hours before call",)),
    replace(brief(), union_agreement=False),
    replace(brief(union=False), rules=1),
]


@pytest.mark.parametrize("statement", EXAMPLES_V2, ids=lambda s: s.PURPOSE)
def test_rule_set_2_fields_round_trip_and_defaults_stay_absent(statement: object) -> None:
    data = statement.to_bytes()  # type: ignore[attr-defined]
    assert parse(statement.PURPOSE, data) == statement  # type: ignore[attr-defined]
    value = json.loads(data)
    value.update({"union_agreement": True} if "title" in value else {"notice": []})
    with pytest.raises(StatementError):  # a default written out is not the canonical form
        parse(statement.PURPOSE, canonical_json(value))  # type: ignore[attr-defined]


def test_the_vocabulary_is_versioned_clinical_and_complete() -> None:
    v = vocab.load(1)
    assert v.version == 1 and len(v.acts) >= 25 and len(v.zones) == 16
    assert v.act("hand-on-thigh-clothed").directional
    assert not v.act("embrace-clothed").directional
    assert "actual sex is prohibited" in v.nudity["genital-area-garment"].definition
    with pytest.raises(VocabularyError):
        vocab.load(99)
    with pytest.raises(VocabularyError):
        vocab.from_json({"version": 1})


def test_every_statement_type_has_its_own_purpose_tag() -> None:
    assert len(set(PURPOSES)) == len(PURPOSES) == len(EXAMPLES)
    for purpose in PURPOSES:
        check_purpose(purpose)


@pytest.mark.parametrize("statement", EXAMPLES, ids=lambda s: s.PURPOSE)
def test_every_statement_round_trips_through_its_canonical_bytes(statement: object) -> None:
    data = statement.to_bytes()  # type: ignore[attr-defined]
    assert parse(statement.PURPOSE, data) == statement  # type: ignore[attr-defined]
    assert data == canonical_json(json.loads(data))


@pytest.mark.parametrize("statement", EXAMPLES, ids=lambda s: s.PURPOSE)
def test_an_extra_or_missing_field_is_refused(statement: object) -> None:
    value = statement.to_json()  # type: ignore[attr-defined]
    purpose = statement.PURPOSE  # type: ignore[attr-defined]
    with pytest.raises(StatementError):
        parse(purpose, canonical_json({**value, "extra": 1}))
    with pytest.raises(StatementError):
        parse(purpose, canonical_json({k: v for k, v in list(value.items())[1:]}))


def test_a_statement_under_another_purpose_is_refused() -> None:
    with pytest.raises(StatementError):
        parse(Withdrawal.PURPOSE, accept(rider()).to_bytes())
    with pytest.raises(StatementError):
        parse("closedset/unknown/v1", b"{}")


def test_a_rider_hash_is_sha256_of_its_canonical_plaintext() -> None:
    r = rider()
    assert r.hash == hashlib.sha256(r.to_bytes()).digest()
    assert accept(r).rider == r.hash


def test_a_rider_always_prohibits_actual_sex() -> None:
    value = rider().to_json()
    value["actual_sex_prohibited"] = False
    with pytest.raises(StatementError, match="cannot be waived"):
        parse(rider().PURPOSE, canonical_json(value))


def test_unknown_vocabulary_ids_and_wrong_types_are_refused() -> None:
    value = sheet().to_json()
    value["acts"][0]["answer"] = "yse"
    with pytest.raises(StatementError):
        parse(sheet().PURPOSE, canonical_json(value))
    with pytest.raises(StatementError):
        Withdrawal(whole=False, items=("act:teleporting",))
    value = accept(rider()).to_json()
    value["version"] = "1"
    with pytest.raises(StatementError):
        parse(accept(rider()).PURPOSE, canonical_json(value))


def test_a_list_out_of_canonical_order_is_refused() -> None:
    value = Message((IC, ANA), "x").to_json()
    value["to"].reverse()
    with pytest.raises(StatementError, match="canonical"):
        parse(Message.PURPOSE, canonical_json(value))


def test_a_sheet_must_answer_every_act_in_every_direction() -> None:
    full = sheet()
    with pytest.raises(StatementError, match="every act"):
        type(full)(**{**full.__dict__, "acts": full.acts[1:]})


def test_an_anonymous_report_cannot_go_to_the_production_directly() -> None:
    with pytest.raises(StatementError, match="signature names you"):
        TransgressionReport("violation", "x", CALL, send_to_production=True)


def test_every_statement_type_is_known_to_every_table_that_names_kinds() -> None:
    from client.evidence.export import KINDS as EXPORTED
    from client.negotiation.scene import _INPUT_OF
    from client.negotiation.statements import TYPES
    from client.negotiation.words import KIND_WORDS
    from client.views.thread import KINDS

    for cls in TYPES.values():
        assert cls in KINDS and cls in KIND_WORDS and cls in _INPUT_OF and cls in EXPORTED, cls
