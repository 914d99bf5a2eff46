"""A whole negotiation through SceneSession against a real relay, on both databases:
invite and join, brief, private sheets, rider, acceptance, withdrawal; and what each
person's own profile can decrypt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from client.negotiate import (
    Draft,
    SceneError,
    SceneSession,
    create_invite,
    create_scene,
    draft_of,
    join_scene,
    relay_client,
)
from client.negotiation.errors import SceneRuleError
from client.negotiation.scene_state import Phase
from client.negotiation.statements import Acceptance, BoundarySheet, Withdrawal
from client.profile import Profile
from client.scenes import SceneBook
from keys.invite import Invite
from tests.negotiation.builders import DAY, rider, sheet

PASSPHRASE = b"a passphrase for tests"


def person(tmp_path: Path, name: str, role: str, now: int) -> Profile:
    return Profile.create(tmp_path / name, PASSPHRASE, name=name, role=role, email=None, now=now)  # type: ignore[arg-type]


async def test_scene_from_invite_to_agreement_and_withdrawal(api: Any, tmp_path: Path) -> None:
    now = int(api.clock())
    ic, ana, ben = (
        person(tmp_path, n, r, now)
        for n, r in [("Ines", "ic"), ("Ana", "performer"), ("Ben", "performer")]
    )
    call = now + 10 * DAY
    draft = Draft("The Lighthouse", "42A", "31-33", call, call - 20 * DAY, call + 20 * DAY)
    async with (
        relay_client(ic, api.base, api.clock) as r_ic,
        relay_client(ana, api.base, api.clock) as r_ana,
        relay_client(ben, api.base, api.clock) as r_ben,
    ):
        scene = await create_scene(ic, r_ic, SceneBook(ic.home), "scene-42a", draft)
        joined = {}
        for who, relay in ((ana, r_ana), (ben, r_ben)):
            invite = await create_invite(ic, r_ic, scene, ttl=3600, now=now)
            code = Invite.decode(invite.encode())
            joined[who.history.name], inviter = await join_scene(
                who, relay, SceneBook(who.home), code, "lighthouse"
            )
            assert inviter.identity_key == ic.identity_key

        ines = SceneSession(ic, scene, r_ic, api.clock)
        anna = SceneSession(ana, joined["Ana"], r_ana, api.clock)
        benn = SceneSession(ben, joined["Ben"], r_ben, api.clock)
        with pytest.raises(SceneError):
            await anna.send(Acceptance(1, bytes(32)))  # nothing to accept before a brief

        brief = await ines.send_brief(draft_of(ic, scene))
        assert set(brief.performers) == {ana.identity_key, ben.identity_key}

        await anna.send(sheet(yes=["closed-mouth-kissing-lips"]))
        await benn.send(sheet(yes=["closed-mouth-kissing-lips"], notes="no tongue, ever"))
        await ines.sync()
        assert ines.state().phase == Phase.SHEETS_IN

        a, b = ana.identity_key, ben.identity_key
        first = rider(acts=[("closed-mouth-kissing-lips", a, b)], performers=(a, b), call=call)
        await ines.send(first)
        await anna.send(Acceptance(first.version, first.hash))
        with pytest.raises(SceneRuleError):
            await benn.send(Acceptance(first.version, bytes(32)))  # not the rider's hash
        await benn.send(Acceptance(first.version, first.hash))
        await ines.sync()
        assert ines.state().phase == Phase.AGREED

        await benn.send(Withdrawal(whole=True, reason="changed my mind"))
        await ines.sync()
        state = ines.state()
        assert state.phase == Phase.WITHDRAWN
        assert [w.sent.sender for w in state.withdrawals] == [ben.identity_key]
        assert not state.withdrawals[0].after_filming

        # Privacy by construction: Ana's profile opens no sheet but her own, and no withdrawal.
        await anna.sync()
        seen_by_ana = [item.event for item in anna.opened()]
        sheets = [e for e in seen_by_ana if isinstance(e.statement, BoundarySheet)]
        assert [e.sender for e in sheets] == [ana.identity_key]
        assert not any(isinstance(e.statement, Withdrawal) for e in seen_by_ana)
        assert all(b"no tongue" not in item.opened.plaintext for item in anna.opened())
