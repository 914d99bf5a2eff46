"""Envelope admission with the in-process cache: it speeds checks up and decides nothing alone.

Two relays (two applications, two caches, two sequencers) over one database stand for several
relay processes: what one changes, the other's cache does not know, yet every answer is the
database's. Runs on SQLite and PostgreSQL over real sockets.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from keys.encoding import b64u_encode
from keys.identity import revoke_device
from keys.invite import invite_id, join_proof
from tests.relay.api_support import (
    Api,
    FakeClock,
    Person,
    Reply,
    invite,
    open_thread,
    post,
    running_relay,
    seal_to,
    snapshot,
)
from tests.relay.conftest import DbTarget


async def _refused(db: DbTarget, status: int, attempt: Any) -> Reply:
    before = await snapshot(db)
    reply: Reply = await attempt
    assert reply.status == status, reply.body
    assert reply.body["status"] == status and reply.body["detail"]
    assert await snapshot(db) == before
    return reply


async def test_the_same_envelope_posted_at_once_is_stored_once_and_answered_to_all(
    api: Api, log_db: DbTarget
) -> None:
    ic, ana = Person.new("Ines", "ic"), Person.new("Ana", "performer")
    await api.register(ic, ana)
    thread = await open_thread(api, ic, ana)
    first = seal_to(ic, thread, [ana], None)
    await post(api, ic, first)
    before = await snapshot(log_db)
    envelope = seal_to(ana, thread, [ic], first.hash)
    path = f"/v1/threads/{b64u_encode(thread)}/envelopes"
    # Most of these land in one round: one is stored, the rest are withdrawn as duplicates.
    replies = await asyncio.gather(
        *(api.call(ana, "POST", path, envelope.to_bytes()) for _ in range(6))
    )
    assert sorted(r.status for r in replies) == [200] * 5 + [201]
    assert len({(r.body["hash"], r.body["sequence"], r.body["index"]) for r in replies}) == 1
    after = await snapshot(log_db)
    assert after["envelopes"] == before["envelopes"] + 1
    assert after["log_entries"] == before["log_entries"] + 1
    # And again later: the stored receipt, no new entry.
    again = await api.call(ana, "POST", path, envelope.to_bytes())
    assert again.status == 200 and again.body["index"] == replies[0].body["index"]
    assert await snapshot(log_db) == after


async def test_a_round_chains_envelopes_and_refuses_a_second_first(api: Api) -> None:
    ic, ana = Person.new("Ines", "ic"), Person.new("Ana", "performer")
    await api.register(ic, ana)
    thread = await open_thread(api, ic, ana)
    path = f"/v1/threads/{b64u_encode(thread)}/envelopes"
    firsts = [seal_to(ic, thread, [ana], None, b"%d" % n) for n in range(3)]
    replies = await asyncio.gather(*(api.call(ic, "POST", path, e.to_bytes()) for e in firsts))
    # Exactly one first envelope, whichever came first; the others are told to name it.
    assert sorted(r.status for r in replies) == [201, 409, 409]
    (stored,) = [r for r in replies if r.status == 201]
    assert stored.body["sequence"] == 1


async def test_a_second_relay_decides_from_the_database_not_from_its_cache(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    async with running_relay(log_db, tmp_path, clock) as a:
        ic, ana = Person.new("Ines", "ic"), Person.new("Ana", "performer")
        ben = Person.new("Ben", "performer")
        await a.register(ic, ana, ben)
        thread = await open_thread(a, ic, ana)
        t = b64u_encode(thread)
        path = f"/v1/threads/{t}/envelopes"
        first = seal_to(ic, thread, [ana], None)
        await post(a, ic, first)  # relay A now has the thread in its cache
        async with running_relay(log_db, tmp_path, clock) as b:
            # Ben joins through B: A's cache does not know him, A's answer still does.
            secret = os.urandom(32)
            await invite(b, ic, thread, secret)
            joined = await b.call(
                ben,
                "POST",
                f"/v1/threads/{t}/join",
                {
                    "invite_id": b64u_encode(invite_id(secret)),
                    "proof": b64u_encode(join_proof(secret, thread, ben.identity)),
                },
            )
            assert joined.status == 201, joined.body
            from_ben = await post(a, ben, seal_to(ben, thread, [ic, ana], first.hash))
            to_ben = await post(a, ic, seal_to(ic, thread, [ana, ben], first.hash))
            # Each sender's own reader numbers: Ben's first, the IC's third.
            assert (from_ben["sequence"], to_ben["sequence"]) == (1, 3)

            # B sequences an envelope: A's cached count is stale, Ana's numbers stay gapless.
            via_b = await post(b, ana, seal_to(ana, thread, [ic], first.hash))
            via_a = await post(a, ana, seal_to(ana, thread, [ic], bytes.fromhex(via_b["hash"])))
            assert (via_b["sequence"], via_a["sequence"]) == (4, 5)
            second_first = seal_to(ic, thread, [], None).to_bytes()
            await _refused(log_db, 409, a.call(ic, "POST", path, second_first))

            # Ana's device is revoked through B: A still caches it, its round refuses it.
            ana.records.append(
                revoke_device(ana.key, ana.device.public, issued_at=int(clock()), reason="lost")
            )
            revoked = await b.call(ana, "POST", "/v1/identities", ana.bundle())
            assert revoked.status == 200, revoked.body
            stale = seal_to(ic, thread, [ana], first.hash)
            await _refused(log_db, 422, a.call(ic, "POST", path, stale.to_bytes()))

            # Ben is removed through B: A still caches him as a member, its round refuses him.
            ben_fp = ben.fingerprint
            removed = await b.call(ic, "DELETE", f"/v1/threads/{t}/members/{ben_fp}")
            assert removed.status == 204
            # (A removed member may still write to the coordinators alone, not to others.)
            late = seal_to(ben, thread, [ic, ana], first.hash)
            reply = await _refused(log_db, 422, a.call(ben, "POST", path, late.to_bytes()))
            assert "removed" in reply.body["detail"]
            page = await a.call(ben, "GET", path)
            # Served only what is addressed to him: his own and the IC's to him, numbered 1, 2.
            served = [(e["sequence"], e["reader_sequence"]) for e in page.body["envelopes"]]
            assert served == [(1, 1), (2, 2)]
