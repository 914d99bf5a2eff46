"""Authority through the CLI, on SQLite and PostgreSQL over real sockets: a performer removed
from the scene still withdraws (to the IC only), and every member sees who coordinates the
scene once the creator grants a co-coordinator."""

from __future__ import annotations

import asyncio
from pathlib import Path

from client.demo.scenario import LIGHTHOUSE, SCENE
from keys.identity import Fingerprint
from tests.cli.support import told_story
from tests.relay.api_support import Api


class _Signer:
    def __init__(self, key: object) -> None:
        self.key = key


async def test_a_removed_performer_still_withdraws_and_members_see_the_coordinators(
    api: Api, tmp_path: Path
) -> None:
    story, cast = await told_story(api.base, tmp_path, api.clock)
    assert all(s.ok for s in story.steps), [s.detail for s in story.steps if not s.ok]
    ines, ana, ben = cast.ic, cast.ana, cast.ben
    thread = next((ana.home / "threads").glob("*.json")).stem

    # The creator makes Ben co-coordinator; Ana sees it, in words.
    granted = await asyncio.to_thread(ines.cli, "scene", "grant", SCENE, "--to", ben.name)
    assert granted["co_coordinator"] == ben.name
    seen = await asyncio.to_thread(ana.cli, "scene", "status", LIGHTHOUSE)
    said = [c["said"] for c in seen["coordinators"]]
    assert f"{ben.name} is now co-coordinator, granted by {ines.name}" in said, said
    # Nobody else can grant: Ana is refused with one sentence.
    refused = await asyncio.to_thread(ana.refused, "scene", "grant", LIGHTHOUSE, "--to", ben.name)
    assert refused.endswith(".")

    # Ines removes Ana from the thread; Ana's withdrawal still reaches the coordinators.
    ana_fp = Fingerprint.of(ana.profile().identity_key).compact
    removed = await api.call(
        _Signer(ines.profile().signing_key()),  # type: ignore[arg-type]
        "DELETE",
        f"/v1/threads/{thread}/members/{ana_fp}",
    )
    assert removed.status == 204, removed.body
    withdrawn = await asyncio.to_thread(
        ana.cli, "withdraw", LIGHTHOUSE, "--reason", "I was removed, and I withdraw"
    )
    assert withdrawn["told_ic"] is True
    told = await asyncio.to_thread(ines.cli, "inbox")
    assert any(i["kind"] == "withdrawal" for i in told["new"]), told

    # A stolen laptop: Ben certifies a new device and revokes the old one, and withdraws.
    replaced = await asyncio.to_thread(ben.cli, "id", "new-device", "--reason", "laptop stolen")
    assert len(replaced["revoked_devices"]) == 1 and replaced["relays"] == [api.base]
    await asyncio.to_thread(ben.cli, "withdraw", LIGHTHOUSE, "--reason", "after the theft")
    told = await asyncio.to_thread(ines.cli, "inbox")
    assert any(i["kind"] == "withdrawal" for i in told["new"]), told
    # Ana revokes her identity (after her withdrawal): nothing she signs counts any more.
    warned = await asyncio.to_thread(ana.refused, "id", "revoke")
    assert "withdraw first" in warned
    await asyncio.to_thread(ana.cli, "id", "revoke", "--yes")
    late = await asyncio.to_thread(ana.refused, "withdraw", LIGHTHOUSE)
    assert "revoked" in late, late
