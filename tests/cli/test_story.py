"""The whole negotiation driven through the CLI, on SQLite and PostgreSQL, then the privacy
check: everything each performer's profile can decrypt holds no partner's sheet and no
request they had refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from client.demo.act_one import BEN_PRIVATE
from client.negotiation.brief import SceneRequests
from client.negotiation.rider import Rider
from client.negotiation.sheet import BoundarySheet
from client.negotiation.statements import CheckIn, Counter, Withdrawal
from tests.cli.support import everything_decryptable, told_story

# What Ben refused that the director asked for (the demo's requests and Ben's sheet).
REFUSED_BY_BEN = ("open-mouth-kissing", "hand-on-thigh-skin")


async def test_cli_story_then_no_performer_can_decrypt_a_partners_sheet(
    api: Any, tmp_path: Path
) -> None:
    story, cast = await told_story(api.base, tmp_path, api.clock)
    failed = [f"{s.title}: {s.detail}" for s in story.steps if not s.ok]
    assert not failed, failed
    assert len(story.steps) >= 20

    for performer in (cast.ana, cast.ben):
        profile = performer.profile()
        me = profile.identity_key
        opened = everything_decryptable(profile)
        kinds = {type(s).__name__ for _, s, _ in opened}
        assert {"SceneBrief", "Rider", "Acceptance", "FilmedMark"} <= kinds
        mine = [s for sender, s, _ in opened if sender == me]
        assert any(isinstance(s, BoundarySheet) for s in mine)
        for sender, statement, plaintext in opened:
            assert not isinstance(statement, SceneRequests), "a director's request leaked"
            if sender == me:
                continue
            private = (BoundarySheet, Counter, Withdrawal, CheckIn)
            assert not isinstance(statement, private), f"{type(statement).__name__} leaked"
            assert BEN_PRIVATE.encode() not in plaintext
            if performer is cast.ben:
                for act in REFUSED_BY_BEN:
                    assert act.encode() not in plaintext, f"Ben was shown {act}"
            if isinstance(statement, Rider):
                assert all(a.act not in REFUSED_BY_BEN for a in statement.acts)
