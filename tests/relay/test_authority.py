"""Nobody can block a withdrawal or take over a scene (issue 10), over real sockets on SQLite
and PostgreSQL. Every refusal is checked with its status, its problem+json body and unchanged
row counts in every table, the log's included.

- a self-declared IC (identity role ``ic``) invited as a performer has no powers;
- a revoked identity is refused on every signed route, route by route;
- a removed member still withdraws, to the coordinators only, within a budget of their own
  that nobody else's traffic (not even from the same network address) can spend;
- a removed member sees nothing of the thread past the removal;
- a device key certified by another identity is refused, naming that identity;
- co-coordinators exist only by the creator's signed, logged grant.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from keys.encoding import b64u_decode, b64u_encode, canonical_json
from keys.envelope import Envelope
from keys.grant import decode_grant, make_grant
from keys.identity import certify_device, revoke_identity
from keys.invite import invite_id, join_proof
from keys.logentry import RecordType, decode_entry
from relay.config import RateLimit
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


@dataclass
class Set:
    """Ines created the thread (its IC); Ana and Mal joined as performers. Mal registered his
    identity with role ``ic``. Ben is registered and outside."""

    api: Api
    db: DbTarget
    ines: Person
    ana: Person
    mal: Person
    ben: Person
    thread: bytes
    first: Envelope

    @property
    def t(self) -> str:
        return b64u_encode(self.thread)

    @property
    def envelopes(self) -> str:
        return f"/v1/threads/{self.t}/envelopes"

    def member(self, who: Person) -> str:
        return f"/v1/threads/{self.t}/members/{who.fingerprint}"

    async def refused(self, status: int, attempt: Any) -> Reply:
        before = await snapshot(self.db)
        reply: Reply = await attempt
        assert reply.status == status, reply.body
        assert reply.content_type == "application/problem+json"
        assert reply.body["status"] == status and reply.body["detail"].endswith(".")
        assert await snapshot(self.db) == before
        return reply

    async def head(self) -> bytes:
        reply = await self.api.call(self.ines, "GET", f"/v1/threads/{self.t}")
        return bytes.fromhex(reply.body["heads"][0])


async def _set(api: Api, db: DbTarget) -> Set:
    ines, ana = Person.new("Ines", "ic"), Person.new("Ana", "performer")
    mal, ben = Person.new("Mal", "ic"), Person.new("Ben", "performer")
    await api.register(ines, ana, mal, ben)
    thread = await open_thread(api, ines, ana, mal)
    first = seal_to(ines, thread, [ana, mal], None)
    await post(api, ines, first)
    return Set(api, db, ines, ana, mal, ben, thread, first)


@pytest.fixture
async def cast(api: Api, log_db: DbTarget) -> AsyncIterator[Set]:
    yield await _set(api, log_db)


def _join_body(secret: bytes, thread: bytes, joiner: Person) -> dict[str, str]:
    return {
        "invite_id": b64u_encode(invite_id(secret)),
        "proof": b64u_encode(join_proof(secret, thread, joiner.identity)),
    }


def _invite_body(api: Api, role: str = "performer") -> dict[str, Any]:
    secret = os.urandom(32)
    return {
        "invite_id": b64u_encode(invite_id(secret)),
        "expires_at": int(api.clock()) + 600,
        "role": role,
    }


def _grant(s: Set, granter: Person, grantee: Person) -> bytes:
    return make_grant(
        granter.key,
        thread=s.thread,
        grantee=grantee.identity,
        role="ic",
        issued_at=int(s.api.clock()),
    ).to_bytes()


# --- a self-declared IC ------------------------------------------------------------------------


async def test_a_self_declared_ic_invited_as_performer_has_no_powers(cast: Set) -> None:
    s, api, mal = cast, cast.api, cast.mal
    assert mal.role == "ic"  # what his identity says about itself
    described = (await api.call(mal, "GET", f"/v1/threads/{s.t}")).body
    roles = {m["fingerprint"]: m["role"] for m in described["members"]}
    assert roles[mal.fingerprint] == "performer" and roles[s.ines.fingerprint] == "ic"
    assert described["coordinators"] == [b64u_encode(s.ines.identity)]

    for target in (s.ines, s.ana):
        reply = await s.refused(403, api.call(mal, "DELETE", s.member(target)))
        assert "coordinators" in reply.body["detail"] or "creator" in reply.body["detail"]
    invites = f"/v1/threads/{s.t}/invites"
    await s.refused(403, api.call(mal, "POST", invites, _invite_body(api)))
    grants = f"/v1/threads/{s.t}/grants"
    await s.refused(403, api.call(mal, "POST", grants, _grant(s, mal, mal)))
    await s.refused(403, api.call(mal, "POST", grants, _grant(s, mal, s.ana)))

    # The IC and Ana are still members; Ana withdraws to Ines as before.
    await post(api, s.ana, seal_to(s.ana, s.thread, [s.ines], await s.head()))
    # Mal is the IC of a thread he creates himself, and of nothing else.
    own = await open_thread(api, mal, s.ben)
    mine = (await api.call(mal, "GET", f"/v1/threads/{b64u_encode(own)}")).body
    assert mine["coordinators"] == [b64u_encode(mal.identity)]


async def test_an_invite_names_the_role_it_admits_and_never_a_coordinator(cast: Set) -> None:
    s, api = cast, cast.api
    invites = f"/v1/threads/{s.t}/invites"
    reply = await s.refused(400, api.call(s.ines, "POST", invites, _invite_body(api, "ic")))
    assert "grant" in reply.body["detail"]
    await s.refused(400, api.call(s.ines, "POST", invites, _invite_body(api, "director")))
    no_role = {k: v for k, v in _invite_body(api).items() if k != "role"}
    await s.refused(400, api.call(s.ines, "POST", invites, no_role))

    secret = os.urandom(32)
    await invite(api, s.ines, s.thread, secret, role="performer")
    join = f"/v1/threads/{s.t}/join"
    assert (await api.call(s.ben, "POST", join, _join_body(secret, s.thread, s.ben))).status == 201
    described = (await api.call(s.ben, "GET", f"/v1/threads/{s.t}")).body
    ben = next(m for m in described["members"] if m["fingerprint"] == s.ben.fingerprint)
    assert ben["role"] == "performer" and not ben["creator"]


# --- co-coordinators by the creator's grant ---------------------------------------------------


async def test_only_the_creators_signed_grant_makes_a_co_coordinator(cast: Set) -> None:
    s, api = cast, cast.api
    grants = f"/v1/threads/{s.t}/grants"
    # Refused grants: not a member, for another thread, signed by someone else, garbage.
    await s.refused(422, api.call(s.ines, "POST", grants, _grant(s, s.ines, s.ben)))
    other = make_grant(
        s.ines.key, thread=os.urandom(16), grantee=s.ana.identity, role="ic", issued_at=0
    )
    await s.refused(422, api.call(s.ines, "POST", grants, other.to_bytes()))
    await s.refused(403, api.call(s.ines, "POST", grants, _grant(s, s.mal, s.ana)))
    await s.refused(400, api.call(s.ines, "POST", grants, b'{"body":{}}'))

    granted = await api.call(s.ines, "POST", grants, _grant(s, s.ines, s.ana))
    assert granted.status == 201, granted.body
    entry = decode_entry(b64u_decode(granted.body["entry"]))
    assert entry.record_type is RecordType.THREAD_GRANT
    await s.refused(409, api.call(s.ines, "POST", grants, _grant(s, s.ines, s.ana)))

    # Every member sees who the coordinators are and verifies the grant itself.
    described = (await api.call(s.mal, "GET", f"/v1/threads/{s.t}")).body
    assert set(described["coordinators"]) == {b64u_encode(s.ines.identity), s_ana(s)}
    (shown,) = described["grants"]
    verified = decode_grant(canonical_json(shown["grant"]))
    assert verified.granter == s.ines.identity and verified.grantee == s.ana.identity
    assert shown["index"] == granted.body["index"]

    # A co-coordinator invites and removes performers, but cannot grant, nor remove the
    # creator; only the creator removes a co-coordinator.
    invites = f"/v1/threads/{s.t}/invites"
    assert (await api.call(s.ana, "POST", invites, _invite_body(api))).status == 201
    await s.refused(403, api.call(s.ana, "POST", grants, _grant(s, s.ana, s.mal)))
    await s.refused(403, api.call(s.ana, "DELETE", s.member(s.ines)))
    await s.refused(409, api.call(s.ines, "DELETE", s.member(s.ines)))  # the creator stays
    assert (await api.call(s.ana, "DELETE", s.member(s.mal))).status == 204
    assert (await api.call(s.ines, "DELETE", s.member(s.ana))).status == 204
    described = (await api.call(s.ines, "GET", f"/v1/threads/{s.t}")).body
    assert described["coordinators"] == [b64u_encode(s.ines.identity)]


def s_ana(s: Set) -> str:
    return b64u_encode(s.ana.identity)


# --- a revoked identity, route by route ---------------------------------------------------------


async def test_a_revoked_identity_is_refused_on_every_signed_route(cast: Set) -> None:
    s, api, ana = cast, cast.api, cast.ana
    posted = await post(api, ana, seal_to(ana, s.thread, [s.ines], await s.head()))
    spare = os.urandom(32)
    await invite(api, s.ines, s.thread, spare)
    ana.records.append(revoke_identity(ana.key, issued_at=int(api.clock()), reason="stolen"))
    assert (await api.call(ana, "POST", "/v1/identities", ana.bundle())).status == 200

    own = os.urandom(16)
    attempts: list[tuple[str, str, Any]] = [
        ("GET", "/v1/threads", None),
        ("POST", "/v1/threads", {"thread": b64u_encode(own)}),
        ("GET", f"/v1/threads/{s.t}", None),
        ("POST", f"/v1/threads/{s.t}/invites", _invite_body(api)),
        ("POST", f"/v1/threads/{s.t}/join", _join_body(spare, s.thread, ana)),
        ("POST", f"/v1/threads/{s.t}/grants", _grant(s, ana, s.mal)),
        ("DELETE", s.member(s.mal), None),
        ("DELETE", s.member(ana), None),
        ("POST", s.envelopes, seal_to(ana, s.thread, [s.ines], await s.head()).to_bytes()),
        ("GET", s.envelopes, None),
        ("GET", f"/v1/receipts/{posted['hash']}", None),
        ("POST", "/v1/identities", ana.bundle()),
        ("GET", f"/v1/identities/{s.mal.fingerprint}", None),
        ("GET", "/v1/stream", None),
    ]
    for method, target, body in attempts:
        reply = await s.refused(403, api.call(ana, method, target, body))
        assert "revoked" in reply.body["detail"], (method, target)
    # Every signed route of the relay is in the list above.
    assert _signed_routes(api) == {(m, _template(t, s)) for m, t, _ in attempts}

    # A revoked identity is never a recipient either: it has no device left.
    to_ana = seal_to(s.ines, s.thread, [ana], await s.head())
    await s.refused(422, api.call(s.ines, "POST", s.envelopes, to_ana.to_bytes()))
    # Public routes still answer (anyone may audit the log), and her co-members still look up
    # her history, revocation included (lookups are signed: she herself cannot, see above).
    assert (await api.call(ana, "GET", "/log/checkpoint")).status == 200
    assert (await api.call(s.ines, "GET", f"/v1/identities/{ana.fingerprint}")).status == 200


def _template(target: str, s: Set) -> str:
    path = target.split("?")[0].replace(s.t, "{thread}")
    for who in (s.ana, s.mal):
        path = path.replace(who.fingerprint, "{fingerprint}")
    if path.startswith("/v1/receipts/"):
        path = "/v1/receipts/{hash}"
    return path


def _signed_routes(api: Api) -> set[tuple[str, str]]:
    app = api.app
    from relay.http.auth import _PUBLIC_ATTR

    found = set()
    for route in app.router.routes():
        if route.method == "HEAD" or getattr(route.handler, _PUBLIC_ATTR, False):
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        found.add((route.method, info.get("path") or info.get("formatter") or ""))
    return found


# --- a removed member still withdraws -------------------------------------------------------


async def test_a_removed_member_still_withdraws_to_the_coordinators_within_her_budget(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    async with running_relay(
        log_db,
        tmp_path,
        clock,
        removed_post_budget=2,
        per_address=RateLimit(0.001, 3),
    ) as api:
        s = await _set(api, log_db)
        ines, ana, mal = s.ines, s.ana, s.mal
        assert (await api.call(ines, "DELETE", s.member(ana))).status == 204
        # Mal's signed traffic from the same address spends nothing of hers (nor the
        # address's), and unsigned traffic from that address is what gets a 429.
        for _ in range(5):
            assert (await api.call(mal, "GET", "/v1/threads")).status == 200
        for _ in range(3):
            await api.call(None, "GET", "/healthz")
        assert (await api.call(None, "GET", "/healthz")).status == 429

        # To anyone but the coordinators: refused, nothing stored.
        head = await s.head()
        wide = seal_to(ana, s.thread, [ines, mal], head)
        reply = await s.refused(422, api.call(ana, "POST", s.envelopes, wide.to_bytes()))
        assert "coordinators" in reply.body["detail"]
        # Her withdrawal to Ines (and her own devices) lands, and Ines reads it.
        withdrawal = seal_to(ana, s.thread, [ines], head, b"withdraw everything")
        landed = await post(api, ana, withdrawal)
        assert landed["sequence"] is None
        page = (await api.call(ines, "GET", s.envelopes)).body["envelopes"]
        assert page[-1]["hash"] == landed["hash"]
        # A check-in too; then her budget of two is spent, and only hers.
        await post(api, ana, seal_to(ana, s.thread, [ines], head, b"check-in"))
        third = seal_to(ana, s.thread, [ines], head, b"report")
        reply = await s.refused(403, api.call(ana, "POST", s.envelopes, third.to_bytes()))
        assert "2 envelopes" in reply.body["detail"]
        await post(api, mal, seal_to(mal, s.thread, [ines], head))


# --- removed means removed --------------------------------------------------------------------


async def test_a_removed_member_sees_nothing_past_her_removal(cast: Set) -> None:
    s, api, ines, ana = cast, cast.api, cast.ines, cast.ana
    before = (await api.call(ana, "GET", f"/v1/threads/{s.t}")).body
    assert (await api.call(ines, "DELETE", s.member(ana))).status == 204
    # After her removal: an envelope, a newcomer, another removal, a grant.
    await post(api, ines, seal_to(ines, s.thread, [s.mal], await s.head()))
    secret = os.urandom(32)
    await invite(api, ines, s.thread, secret)
    join = f"/v1/threads/{s.t}/join"
    assert (await api.call(s.ben, "POST", join, _join_body(secret, s.thread, s.ben))).status == 201
    grants = f"/v1/threads/{s.t}/grants"
    assert (await api.call(ines, "POST", grants, _grant(s, ines, s.ben))).status == 201
    assert (await api.call(ines, "DELETE", s.member(s.mal))).status == 204

    seen = (await api.call(ana, "GET", f"/v1/threads/{s.t}")).body
    assert seen["envelope_count"] == before["envelope_count"]
    assert seen["heads"] == before["heads"]
    assert {m["fingerprint"] for m in seen["members"]} == {
        ines.fingerprint,
        ana.fingerprint,
        s.mal.fingerprint,
    }
    mal = next(m for m in seen["members"] if m["fingerprint"] == s.mal.fingerprint)
    assert mal["removed_at"] is None  # removed after her: not hers to know
    assert seen["grants"] == [] and seen["coordinators"] == [b64u_encode(ines.identity)]
    (listed,) = [t for t in (await api.call(ana, "GET", "/v1/threads")).body["threads"]]
    assert listed["envelope_count"] == before["envelope_count"] and listed["removed"]
    now = (await api.call(ines, "GET", f"/v1/threads/{s.t}")).body
    assert now["envelope_count"] > before["envelope_count"]


# --- one device, one identity ---------------------------------------------------------------


async def test_a_device_key_of_another_identity_is_refused_naming_it(cast: Set) -> None:
    s, api, mal = cast, cast.api, cast.mal
    mal.records.append(certify_device(mal.key, s.ana.device.public, issued_at=int(api.clock())))
    reply = await s.refused(409, api.call(mal, "POST", "/v1/identities", mal.bundle()))
    detail = reply.body["detail"]
    assert b64u_encode(s.ana.device.public) in detail
    assert s.ana.fingerprint[:4] in detail.replace(" ", "")
    # So an envelope to both of them still works: broadcasts cannot be blocked this way.
    await post(api, s.ines, seal_to(s.ines, s.thread, [s.ana, mal], await s.head()))


# --- thread creation ----------------------------------------------------------------------------


async def test_thread_creation_is_limited_per_identity(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    async with running_relay(log_db, tmp_path, clock, threads_per_day=2) as api:
        ana, ben = Person.new("Ana", "performer"), Person.new("Ben", "performer")
        await api.register(ana, ben)
        for _ in range(2):
            await open_thread(api, ana)
        s = Set(api, log_db, ana, ana, ana, ben, b"", seal_to(ana, os.urandom(16), [], None))
        body = {"thread": b64u_encode(os.urandom(16))}
        reply = await s.refused(429, api.call(ana, "POST", "/v1/threads", body))
        assert reply.headers["Retry-After"]
        assert (await api.call(ben, "POST", "/v1/threads", body)).status == 201
        clock.advance(86400)
        await open_thread(api, ana)


# --- threads from before authority came from the thread ---------------------------------------


async def test_existing_threads_keep_only_the_creator_as_ic_after_the_migration(
    log_db: DbTarget, tmp_path: Path, clock: FakeClock
) -> None:
    from relay.migrations import downgrade, migrate

    async with running_relay(log_db, tmp_path, clock) as api:
        s = await _set(api, log_db)
        assert (await api.call(s.ines, "DELETE", s.member(s.ana))).status == 204
        clock.advance(10)
        await open_thread(api, s.ines)  # another thread; Ben joins this one later
        secret = os.urandom(32)
        await invite(api, s.ines, s.thread, secret)
        join = f"/v1/threads/{s.t}/join"
        assert (await api.call(s.ben, "POST", join, _join_body(secret, s.thread, s.ben))).status
    # Back to the schema of before: member roles, rosters and device owners do not exist, and
    # a relay of then let Mal (identity role "ic") act as IC. Then forward again.
    engine = log_db.make_engine()
    try:
        await downgrade(engine, "0006_envelope_readers")
        await migrate(engine)
    finally:
        await engine.dispose()
    async with running_relay(log_db, tmp_path, clock) as api:
        s.api = api
        described = (await api.call(s.ines, "GET", f"/v1/threads/{s.t}")).body
        roles = {m["fingerprint"]: m["role"] for m in described["members"]}
        assert roles == {
            s.ines.fingerprint: "ic",
            s.ana.fingerprint: "performer",
            s.mal.fingerprint: "performer",
            s.ben.fingerprint: "performer",
        }
        assert described["coordinators"] == [b64u_encode(s.ines.identity)]
        await s.refused(403, api.call(s.mal, "DELETE", s.member(s.ines)))
        invites = f"/v1/threads/{s.t}/invites"
        await s.refused(403, api.call(s.mal, "POST", invites, _invite_body(api)))
        # Ana, removed before Ben joined, does not see him; the device owners came back too.
        seen = (await api.call(s.ana, "GET", f"/v1/threads/{s.t}")).body
        assert s.ben.fingerprint not in {m["fingerprint"] for m in seen["members"]}
        s.mal.records.append(certify_device(s.mal.key, s.ben.device.public, issued_at=int(clock())))
        await s.refused(409, api.call(s.mal, "POST", "/v1/identities", s.mal.bundle()))
