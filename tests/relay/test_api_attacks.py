"""Attacks on the relay's API, each refused with the right status and NOTHING stored.

Every test takes a snapshot of every table's row count (the log's included) before the
attack and compares it after. Runs on SQLite and PostgreSQL over real sockets.
"""

from __future__ import annotations

import copy
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from keys.encoding import b64u_encode, canonical_json
from keys.envelope import Envelope
from keys.identity import DeviceKeyPair, certify_device, make_identity_record, revoke_device
from keys.invite import invite_id, join_proof
from relay.config import RateLimit
from tests.relay.api_support import (
    START,
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


@dataclass
class Scene:
    """Ines (IC) and Ana share a thread with one envelope; Ben is registered but outside."""

    api: Api
    db: DbTarget
    ic: Person
    ana: Person
    ben: Person
    thread: bytes
    first: Envelope

    @property
    def t(self) -> str:
        return b64u_encode(self.thread)

    @property
    def envelopes(self) -> str:
        return f"/v1/threads/{self.t}/envelopes"

    def next_from(self, sender: Person, *others: Person) -> Envelope:
        return seal_to(sender, self.thread, list(others), self.first.hash)

    async def refused(self, status: int, attempt: Any) -> Reply:
        """Run ``attempt``; check its status, its problem+json body, and that nothing changed."""
        before = await snapshot(self.db)
        reply: Reply = await attempt
        assert reply.status == status, reply.body
        assert reply.content_type == "application/problem+json"
        assert reply.body["status"] == status and reply.body["detail"]
        assert await snapshot(self.db) == before
        return reply


@pytest.fixture
async def scene(api: Api, log_db: DbTarget) -> AsyncIterator[Scene]:
    ic, ana = Person.new("Ines", "ic"), Person.new("Ana", "performer")
    ben = Person.new("Ben", "performer")
    await api.register(ic, ana, ben)
    thread = await open_thread(api, ic, ana)
    first = seal_to(ic, thread, [ana], None)
    await post(api, ic, first)
    yield Scene(api, log_db, ic, ana, ben, thread, first)


# --- authentication ---------------------------------------------------------------------------


async def test_unsigned_post_is_refused(scene: Scene) -> None:
    envelope = scene.next_from(scene.ana, scene.ic)
    reply = await scene.refused(
        401, scene.api.call(None, "POST", scene.envelopes, envelope.to_bytes())
    )
    assert "Signature" in reply.headers["WWW-Authenticate"]


async def test_body_swapped_under_a_signature_is_refused(scene: Scene) -> None:
    api = scene.api
    signed_body = scene.next_from(scene.ana, scene.ic).to_bytes()
    other_body = scene.next_from(scene.ana, scene.ic).to_bytes()
    headers = api.sign(scene.ana, "POST", scene.envelopes, signed_body)
    await scene.refused(401, api.send("POST", scene.envelopes, other_body, headers))


async def test_signature_by_another_key_is_refused(scene: Scene) -> None:
    api = scene.api
    body = scene.next_from(scene.ana, scene.ic).to_bytes()
    headers = api.sign(scene.ana, "POST", scene.envelopes, body)
    forged = api.sign(scene.ben, "POST", scene.envelopes, body)
    # Ben's signature, under a Signature-Input that names Ana's key.
    headers["Signature"] = forged["Signature"]
    await scene.refused(401, api.send("POST", scene.envelopes, body, headers))


async def test_replayed_request_is_refused(scene: Scene) -> None:
    api = scene.api
    await post(api, scene.ana, scene.next_from(scene.ana, scene.ic))
    method, target, body, headers = api.sent[-1]
    reply = await scene.refused(401, api.send(method, target, body, headers))
    assert "already received" in reply.body["detail"]


async def test_request_signed_long_ago_is_refused(scene: Scene) -> None:
    api = scene.api
    body = scene.next_from(scene.ana, scene.ic).to_bytes()
    headers = api.sign(scene.ana, "POST", scene.envelopes, body)
    api.clock.advance(301)
    await scene.refused(401, api.send("POST", scene.envelopes, body, headers))


# --- membership ---------------------------------------------------------------------------------


async def test_outsider_can_neither_post_nor_read(scene: Scene) -> None:
    api, ben = scene.api, scene.ben
    envelope = seal_to(ben, scene.thread, [scene.ic], scene.first.hash)
    await scene.refused(403, api.call(ben, "POST", scene.envelopes, envelope.to_bytes()))
    await scene.refused(403, api.call(ben, "GET", scene.envelopes))
    await scene.refused(403, api.call(ben, "GET", f"/v1/threads/{scene.t}"))
    await scene.refused(404, api.call(ben, "GET", f"/v1/receipts/{scene.first.hash.hex()}"))


async def test_envelope_signed_by_someone_else_is_refused(scene: Scene) -> None:
    # Ana relays an envelope Ines signed: the sender must be the caller.
    envelope = scene.next_from(scene.ic, scene.ana)
    attempt = scene.api.call(scene.ana, "POST", scene.envelopes, envelope.to_bytes())
    await scene.refused(403, attempt)


async def test_envelope_of_thread_a_posted_to_thread_b_is_refused(scene: Scene) -> None:
    api = scene.api
    other = await open_thread(api, scene.ic, scene.ana)
    envelope = scene.next_from(scene.ana, scene.ic)  # sealed for the scene's thread
    target = f"/v1/threads/{b64u_encode(other)}/envelopes"
    reply = await scene.refused(422, api.call(scene.ana, "POST", target, envelope.to_bytes()))
    assert "another thread" in reply.body["detail"]


async def test_recipient_outside_the_thread_is_refused(scene: Scene) -> None:
    envelope = scene.next_from(scene.ana, scene.ic, scene.ben)
    reply = await scene.refused(
        422, scene.api.call(scene.ana, "POST", scene.envelopes, envelope.to_bytes())
    )
    assert "recipients do not match" in reply.body["detail"]


async def test_uncertified_device_of_a_member_is_refused(scene: Scene) -> None:
    # A device key Ana never certified (say, an eavesdropper's) listed as hers.
    impostor = Person(**{**scene.ana.__dict__, "device": DeviceKeyPair.generate()})
    envelope = seal_to(scene.ic, scene.thread, [impostor], scene.first.hash)
    await scene.refused(422, scene.api.call(scene.ic, "POST", scene.envelopes, envelope.to_bytes()))


async def test_revoked_device_is_no_longer_a_recipient(scene: Scene) -> None:
    api, ana = scene.api, scene.ana
    old = seal_to(scene.ic, scene.thread, [ana], scene.first.hash)
    now = int(api.clock())
    ana.records.append(revoke_device(ana.key, ana.device.public, issued_at=now, reason="lost"))
    reply = await api.call(ana, "POST", "/v1/identities", ana.bundle())
    assert reply.status == 200 and len(reply.body["receipts"]) == 1
    await scene.refused(422, api.call(scene.ic, "POST", scene.envelopes, old.to_bytes()))


async def test_unknown_previous_hash_is_refused(scene: Scene) -> None:
    envelope = seal_to(scene.ana, scene.thread, [scene.ic], os.urandom(32))
    reply = await scene.refused(
        409, scene.api.call(scene.ana, "POST", scene.envelopes, envelope.to_bytes())
    )
    assert "previous" in reply.body["detail"]


async def test_second_first_envelope_is_refused(scene: Scene) -> None:
    envelope = seal_to(scene.ana, scene.thread, [scene.ic], None)
    attempt = scene.api.call(scene.ana, "POST", scene.envelopes, envelope.to_bytes())
    await scene.refused(409, attempt)


async def test_removed_member_cannot_read_what_follows(scene: Scene) -> None:
    api, ic, ana = scene.api, scene.ic, scene.ana
    other = await open_thread(api, ic, ana)  # Ana stays in this one
    before_removal = await post(api, ana, scene.next_from(ana, ic))
    async with api.stream(ana) as ws:
        removed = await api.call(ic, "DELETE", f"/v1/threads/{scene.t}/members/{ana.fingerprint}")
        assert removed.status == 204
        after_removal = seal_to(ic, scene.thread, [], scene.first.hash)
        hidden = await post(api, ic, after_removal)

        # She may still write to the IC (a withdrawal lands: tests/relay/test_authority.py).
        to_ic = await post(api, ana, scene.next_from(ana, ic))
        assert to_ic["sequence"] is None  # the thread's count is not hers to know
        page = await api.call(ana, "GET", scene.envelopes)
        assert [e["sequence"] for e in page.body["envelopes"]] == [1, before_removal["sequence"]]
        await scene.refused(404, api.call(ana, "GET", f"/v1/receipts/{hidden['hash']}"))

        # Her stream skips the thread she left: the next push is from the thread she is still in.
        visible = await post(api, ic, seal_to(ic, other, [ana], None))
        pushed = await ws.receive_json(timeout=5)
        assert pushed["hash"] == visible["hash"]

    # She cannot come back with a fresh invite either.
    secret = os.urandom(32)
    await invite(api, ic, scene.thread, secret)
    body = {
        "invite_id": b64u_encode(invite_id(secret)),
        "proof": b64u_encode(join_proof(secret, scene.thread, ana.identity)),
    }
    await scene.refused(403, api.call(ana, "POST", f"/v1/threads/{scene.t}/join", body))


async def test_only_an_ic_removes_others_and_the_last_ic_stays(scene: Scene) -> None:
    api, ic, ana = scene.api, scene.ic, scene.ana
    members = f"/v1/threads/{scene.t}/members"
    await scene.refused(403, api.call(ana, "DELETE", f"{members}/{ic.fingerprint}"))
    await scene.refused(409, api.call(ic, "DELETE", f"{members}/{ic.fingerprint}"))
    assert (await api.call(ana, "DELETE", f"{members}/{ana.fingerprint}")).status == 204


# --- invites ------------------------------------------------------------------------------------


def _join_body(secret: bytes, thread: bytes, joiner: Person) -> dict[str, str]:
    return {
        "invite_id": b64u_encode(invite_id(secret)),
        "proof": b64u_encode(join_proof(secret, thread, joiner.identity)),
    }


async def test_reused_invite_is_refused(scene: Scene) -> None:
    api = scene.api
    secret = os.urandom(32)
    await invite(api, scene.ic, scene.thread, secret)
    eve = Person.new("Eve", "performer")
    await api.register(eve)
    join = f"/v1/threads/{scene.t}/join"
    joined = await api.call(scene.ben, "POST", join, _join_body(secret, scene.thread, scene.ben))
    assert joined.status == 201
    again = api.call(eve, "POST", join, _join_body(secret, scene.thread, eve))
    reply = await scene.refused(409, again)
    assert "already used" in reply.body["detail"]


async def test_expired_invite_is_refused(scene: Scene) -> None:
    api = scene.api
    secret = os.urandom(32)
    await invite(api, scene.ic, scene.thread, secret, ttl=60)
    api.clock.advance(61)
    join = f"/v1/threads/{scene.t}/join"
    late = api.call(scene.ben, "POST", join, _join_body(secret, scene.thread, scene.ben))
    await scene.refused(410, late)


async def test_unknown_invite_and_bad_invites_are_refused(scene: Scene) -> None:
    api = scene.api
    join = f"/v1/threads/{scene.t}/join"
    body = _join_body(os.urandom(32), scene.thread, scene.ben)
    await scene.refused(404, api.call(scene.ben, "POST", join, body))
    invites = f"/v1/threads/{scene.t}/invites"
    secret_id = b64u_encode(invite_id(os.urandom(32)))
    now = int(api.clock())
    past = {"invite_id": secret_id, "expires_at": now - 1, "role": "performer"}
    await scene.refused(400, api.call(scene.ic, "POST", invites, past))
    too_long = {"invite_id": secret_id, "expires_at": now + 365 * 86400, "role": "performer"}
    await scene.refused(400, api.call(scene.ic, "POST", invites, too_long))
    by_performer = {"invite_id": secret_id, "expires_at": now + 60, "role": "performer"}
    await scene.refused(403, api.call(scene.ana, "POST", invites, by_performer))


# --- identities and threads -----------------------------------------------------------------


async def test_identity_rewrite_and_foreign_registration_are_refused(scene: Scene) -> None:
    api, ana = scene.api, scene.ana
    # Someone else's bundle, even unchanged, can only be sent by its owner.
    await scene.refused(403, api.call(scene.ben, "POST", "/v1/identities", ana.bundle()))
    # Ana's own key, but a new identity record: a rewrite of her stored history.
    forked = copy.copy(ana)
    forked.records = [
        make_identity_record(ana.key, name="Ana", role="ic", issued_at=START),
        certify_device(ana.key, ana.device.public, issued_at=START),
    ]
    await scene.refused(409, api.call(ana, "POST", "/v1/identities", forked.bundle()))
    await scene.refused(400, api.call(ana, "POST", "/v1/identities", b"{not json"))


async def test_thread_ids_are_unique(scene: Scene) -> None:
    api = scene.api
    await scene.refused(409, api.call(scene.ic, "POST", "/v1/threads", {"thread": scene.t}))
    await scene.refused(400, api.call(scene.ic, "POST", "/v1/threads", {"thread": "short"}))


# --- limits -------------------------------------------------------------------------------------


async def test_oversized_body_is_refused_before_anything_else(scene: Scene) -> None:
    body = b"x" * (1024 * 1024 + 1)
    await scene.refused(413, scene.api.call(None, "POST", scene.envelopes, body))
    await scene.refused(413, scene.api.call(scene.ana, "POST", scene.envelopes, body))


async def test_more_recipients_than_the_format_allows_is_refused(scene: Scene) -> None:
    value = scene.next_from(scene.ana, scene.ic).to_json()
    fake = sorted(
        (
            {"identity": b64u_encode(os.urandom(32)), "device": b64u_encode(os.urandom(32))}
            for _ in range(65)
        ),
        key=lambda r: (r["identity"], r["device"]),
    )
    value["context"]["recipients"] = fake
    value["keys"] = value["keys"][:1] * 65
    body = canonical_json(value)
    reply = await scene.refused(413, scene.api.call(scene.ana, "POST", scene.envelopes, body))
    assert "64" in reply.body["detail"]


async def test_malformed_envelope_is_refused(scene: Scene) -> None:
    body = scene.next_from(scene.ana, scene.ic).to_bytes().replace(b'"v":2', b'"v":3')
    await scene.refused(400, scene.api.call(scene.ana, "POST", scene.envelopes, body))
    value = scene.next_from(scene.ana, scene.ic).to_json()
    value["ciphertext"] = value["ciphertext"][:-4] + "AAAA"
    body = canonical_json(value)
    await scene.refused(422, scene.api.call(scene.ana, "POST", scene.envelopes, body))


async def test_unknown_route_and_method_are_problems(scene: Scene) -> None:
    await scene.refused(404, scene.api.call(None, "GET", "/v1/nothing"))
    await scene.refused(405, scene.api.call(scene.ana, "PUT", "/v1/threads"))


# --- with small limits, each on its own relay ----------------------------------------------


async def test_more_recipients_than_the_relay_allows_is_refused(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    async with running_relay(log_db, tmp_path, clock, max_recipients=2) as api:
        ic, ana = Person.new("I", "ic"), Person.new("A", "performer")
        ben = Person.new("B", "performer")
        await api.register(ic, ana, ben)
        thread = await open_thread(api, ic, ana, ben)
        scene = Scene(api, log_db, ic, ana, ben, thread, seal_to(ic, thread, [ana], None))
        envelope = seal_to(ic, thread, [ana, ben], None)
        reply = await scene.refused(413, api.call(ic, "POST", scene.envelopes, envelope.to_bytes()))
        assert "at most 2" in reply.body["detail"]


async def test_burst_over_the_rate_limits_gets_429_with_retry_after(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    async with running_relay(log_db, tmp_path, clock, per_identity=RateLimit(0.5, 4)) as api:
        ic = Person.new("I", "ic")
        await api.register(ic)  # 1 request
        thread = os.urandom(16)
        await api.call(ic, "POST", "/v1/threads", {"thread": b64u_encode(thread)})
        first = seal_to(ic, thread, [], None)
        await post(api, ic, first)
        await api.call(ic, "GET", "/v1/threads")  # 4: the bucket is empty now
        scene = Scene(api, log_db, ic, ic, ic, thread, first)
        reply = await scene.refused(
            429, api.call(ic, "POST", scene.envelopes, scene.next_from(ic).to_bytes())
        )
        assert reply.headers["Retry-After"] == "2"
        clock.advance(2)
        await post(api, ic, scene.next_from(ic))

    async with running_relay(log_db, tmp_path, clock, per_address=RateLimit(1, 2)) as api:
        assert (await api.call(None, "GET", "/healthz")).status == 200
        assert (await api.call(None, "GET", "/healthz")).status == 200
        limited = await api.call(None, "GET", "/healthz")
        assert limited.status == 429 and limited.headers["Retry-After"] == "1"
