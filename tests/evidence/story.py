"""The story every evidence test starts from: a real negotiation against a real relay.

Ines (IC) invites Ana and Ben to scene 42A; both send sheets; rider version 1 is accepted by
both, version 2 narrows it and is accepted by both; Ines marks it filmed; Ben then withdraws.
Ines also opens a second scene with Ana, so a disclosure from another thread exists. Ben and
Ana each export a bundle. The story also keeps the relay's log key and every log entry, so a
test can forge a second history under the same key, as a dishonest relay would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.evidence.bundle import Bundle, parse_bundle
from client.evidence.export import Selection, export_bundle
from client.negotiate import (
    Draft,
    SceneSession,
    create_invite,
    create_scene,
    draft_of,
    join_scene,
    relay_client,
)
from client.negotiation.statements import Acceptance, FilmedMark, Withdrawal
from client.profile import Profile
from client.scenes import SceneBook
from keys.note import NoteSigner
from relay.keyfile import load_or_create_log_key
from relay.log.store import LogStore
from tests.negotiation.builders import DAY, rider, sheet
from tests.relay.api_support import running_relay, small_config
from tests.relay.conftest import DbTarget

PASSPHRASE = b"a passphrase for tests"
HOUR = 3600


@dataclass
class Story:
    ines: Profile
    ana: Profile
    ben: Profile
    bens_bundle: bytes  # canonical JSON: what Ben hands to counsel
    anas_bundle: bytes
    other_thread: dict[str, Any]  # a disclosure from Ines's second scene, and its entry
    log_signer: NoteSigner
    leaves: list[bytes]  # every log entry, in order
    now: int

    def bundle(self) -> Bundle:
        return parse_bundle(self.bens_bundle)


def person(home: Path, name: str, role: str, now: int) -> Profile:
    return Profile.create(home / name, PASSPHRASE, name=name, role=role, email=None, now=now)  # type: ignore[arg-type]


async def tell_story(target: DbTarget, tmp: Path, clock: Any) -> Story:
    now = int(clock())
    ines, ana, ben = (
        person(tmp, n, r, now)
        for n, r in [("Ines Duarte", "ic"), ("Ana Ruiz", "performer"), ("Ben Okafor", "performer")]
    )
    call = now + 10 * DAY
    draft = Draft("The Lighthouse", "42A", "31-33", call, call - 20 * DAY, call + 20 * DAY)
    async with (
        running_relay(target, tmp, clock) as api,
        relay_client(ines, api.base, clock) as r_ines,
        relay_client(ana, api.base, clock) as r_ana,
        relay_client(ben, api.base, clock) as r_ben,
    ):
        scene = await create_scene(ines, r_ines, SceneBook(ines.home), "scene-42a", draft)
        joined = {}
        for who, relay in ((ana, r_ana), (ben, r_ben)):
            invite = await create_invite(ines, r_ines, scene, ttl=3600, now=now)
            joined[who.history.name], _ = await join_scene(
                who, relay, SceneBook(who.home), invite, "lighthouse"
            )
        i = SceneSession(ines, scene, r_ines, clock)
        a = SceneSession(ana, joined["Ana Ruiz"], r_ana, clock)
        b = SceneSession(ben, joined["Ben Okafor"], r_ben, clock)
        await i.send_brief(draft_of(ines, scene))
        await a.send(sheet(yes=["closed-mouth-kissing-lips"]))
        await b.send(sheet(yes=["closed-mouth-kissing-lips"], notes="no tongue, ever"))
        A, B = ana.identity_key, ben.identity_key
        first = rider(acts=[("closed-mouth-kissing-lips", A, B)], performers=(A, B), call=call)
        clock.advance(HOUR)
        await i.send(first)
        for s in (a, b):
            clock.advance(HOUR)
            await s.send(Acceptance(first.version, first.hash))
        second = rider(
            2, first, acts=[("closed-mouth-kissing-lips", A, B)], intensity=3,
            performers=(A, B), call=call,
        )  # fmt: skip
        clock.advance(DAY)
        await i.send(second)
        for s in (a, b):
            clock.advance(HOUR)
            await s.send(Acceptance(second.version, second.hash))
        clock.advance(10 * DAY)
        await i.send(FilmedMark(2, second.hash))
        clock.advance(DAY)
        await b.send(Withdrawal(whole=True, reason="I no longer consent to any use"))

        other = await create_scene(ines, r_ines, SceneBook(ines.home), "scene-7", draft)
        invite = await create_invite(ines, r_ines, other, ttl=3600, now=int(clock()))
        joined_other, _ = await join_scene(ana, r_ana, SceneBook(ana.home), invite, "seven")
        await SceneSession(ines, other, r_ines, clock).send_brief(draft_of(ines, other))
        a7 = SceneSession(ana, joined_other, r_ana, clock)
        await a7.sync()
        other_brief = a7.opened()[0]

        clock.advance(60)
        bens, _ = await export_bundle(b, Selection(), now=int(clock()))
        anas, _ = await export_bundle(a, Selection(), now=int(clock()))
    engine = target.make_engine()
    try:
        store = LogStore(engine)
        size = await store.tree_size()
        leaves = [e for n in range(size) if (e := await store.entry(n)) is not None]
    finally:
        await engine.dispose()
    config = small_config(tmp)
    signer, _ = load_or_create_log_key(config.log_key_path, config.log_origin)
    return Story(
        ines=ines,
        ana=ana,
        ben=ben,
        bens_bundle=bens.to_bytes(),
        anas_bundle=anas.to_bytes(),
        other_thread={"opened": other_brief.opened, "index": other_brief.cached.index},
        log_signer=signer,
        leaves=leaves,
        now=int(clock()),
    )
