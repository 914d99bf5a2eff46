"""The relay's happy path over real sockets, on SQLite and PostgreSQL: an IC and two performers
register, the IC opens a thread and invites both, they talk, page, follow the stream, and every
receipt verifies offline against the log key the relay publishes.
"""

from __future__ import annotations

import asyncio
import os

import aiohttp

from keys.encoding import b64u_decode, b64u_encode, canonical_json
from keys.envelope import Envelope, open_envelope
from keys.identity import decode_history
from keys.invite import invite_id, join_proof, verify_join_proof
from keys.logentry import RecordType, decode_entry
from tests.relay.api_support import (
    Api,
    Person,
    check_receipt,
    invite,
    log_verifier,
    open_thread,
    post,
    seal_to,
)


async def test_registration_is_logged_and_lookup_proves_each_record(api: Api) -> None:
    ana = Person.new("Ana Ruiz", "performer")
    reply = await api.call(ana, "POST", "/v1/identities", ana.bundle())
    assert reply.status == 201
    verifier = await log_verifier(api)
    assert len(reply.body["receipts"]) == 2
    for record, receipt in zip(ana.records, reply.body["receipts"], strict=True):
        check_receipt(receipt, verifier, record.to_bytes())
        entry = decode_entry(b64u_decode(receipt["entry"]))
        assert entry.record_type == RecordType.IDENTITY_RECORD

    # Sending the same bundle again changes nothing; a grouped fingerprint finds it.
    again = await api.call(ana, "POST", "/v1/identities", ana.bundle())
    assert (again.status, again.body["receipts"]) == (200, [])
    grouped = " ".join(ana.fingerprint[i : i + 4] for i in range(0, 32, 4)).lower()
    found = await api.call(ana, "GET", "/v1/identities/" + grouped.replace(" ", "%20"))
    assert found.status == 200
    history = decode_history(canonical_json(found.body["bundle"]))
    assert history.identity_key == ana.identity
    for record, receipt in zip(ana.records, found.body["receipts"], strict=True):
        check_receipt(receipt, verifier, record.to_bytes())


async def test_ic_and_two_performers_negotiate_page_and_follow_the_stream(api: Api) -> None:
    ic, ana, ben = (
        Person.new("Ines", "ic"),
        Person.new("Ana", "performer"),
        Person.new("Ben", "performer"),
    )
    await api.register(ic, ana, ben)
    verifier = await log_verifier(api)

    # Ben follows the stream from before the thread exists: he is pushed what comes after he joins.
    async with api.stream(ben) as ws:
        thread = await open_thread(api, ic, ana, ben)
        t = b64u_encode(thread)

        detail = await api.call(ic, "GET", f"/v1/threads/{t}")
        assert detail.status == 200
        members = {m["fingerprint"]: m for m in detail.body["members"]}
        assert set(members) == {ic.fingerprint, ana.fingerprint, ben.fingerprint}
        assert members[ana.fingerprint]["devices"] == [b64u_encode(ana.device.public)]
        assert members[ic.fingerprint]["join_proof"] is None

        prev = None
        hashes = []
        for n in range(5):
            sender = [ic, ana, ben][n % 3]
            others = [p for p in (ic, ana, ben) if p is not sender]
            envelope = seal_to(sender, thread, others, prev, b"statement %d" % n)
            receipt = await post(api, sender, envelope)
            check_receipt(receipt, verifier, envelope.to_bytes())
            assert receipt["hash"] == envelope.hash.hex()
            assert receipt["sequence"] == n + 1
            prev = envelope.hash
            hashes.append(envelope.hash.hex())

            pushed = await ws.receive_json(timeout=5)
            assert pushed["type"] == "envelope" and pushed["thread"] == t
            assert (pushed["hash"], pushed["sequence"]) == (envelope.hash.hex(), n + 1)
            opened = open_envelope(Envelope.from_json(pushed["envelope"]), ben.device.private)
            assert opened.plaintext == b"statement %d" % n

    # Posting the same bytes again is answered with the same receipt, not a second entry.
    tree_size = receipt["tree_size"]
    again = await api.call(sender, "POST", f"/v1/threads/{t}/envelopes", envelope.to_bytes())
    assert again.status == 200
    assert (again.body["index"], again.body["sequence"]) == (receipt["index"], 5)
    assert again.body["tree_size"] == tree_size

    # Pages of two, following the cursor, give all five in order.
    seen, after = [], None
    while True:
        query = "?limit=2" + (f"&after={after}" if after else "")
        page = await api.call(ana, "GET", f"/v1/threads/{t}/envelopes{query}")
        assert page.status == 200
        seen += [item["hash"] for item in page.body["envelopes"]]
        after = page.body["next"]
        if after is None:
            break
    assert seen == hashes
    assert page.body["envelopes"][-1]["sequence"] == 5

    detail = await api.call(ben, "GET", f"/v1/threads/{t}")
    assert detail.body["heads"] == [hashes[-1]]
    threads = await api.call(ana, "GET", "/v1/threads")
    assert threads.body["threads"] == [
        {"thread": t, "created_at": int(api.clock()), "envelope_count": 5, "removed": False}
    ]

    # A later receipt for the first envelope verifies against the latest checkpoint.
    later = await api.call(ben, "GET", f"/v1/receipts/{hashes[0]}")
    assert later.status == 200
    first = Envelope.from_json(
        (await api.call(ben, "GET", f"/v1/threads/{t}/envelopes?limit=1")).body["envelopes"][0][
            "envelope"
        ]
    )
    check_receipt(later.body, verifier, first.to_bytes())
    assert later.body["tree_size"] == tree_size


async def test_inviter_checks_the_join_proof_the_relay_stored(api: Api) -> None:
    ic, ana = Person.new("Ines", "ic"), Person.new("Ana", "performer")
    await api.register(ic, ana)
    thread = os.urandom(16)
    secret = os.urandom(32)
    await api.call(ic, "POST", "/v1/threads", {"thread": b64u_encode(thread)})
    await invite(api, ic, thread, secret)
    proof = join_proof(secret, thread, ana.identity)
    t = b64u_encode(thread)
    body = {"invite_id": b64u_encode(invite_id(secret)), "proof": b64u_encode(proof)}
    assert (await api.call(ana, "POST", f"/v1/threads/{t}/join", body)).status == 201
    detail = await api.call(ic, "GET", f"/v1/threads/{t}")
    stored = next(m for m in detail.body["members"] if m["fingerprint"] == ana.fingerprint)
    verify_join_proof(
        secret, thread, b64u_decode(stored["identity"]), b64u_decode(stored["join_proof"])
    )


async def test_health_and_openapi_are_public(api: Api) -> None:
    health = await api.call(None, "GET", "/healthz")
    assert health.status == 200 and health.body["status"] == "ok"
    document = await api.call(None, "GET", "/openapi.json")
    assert document.status == 200 and document.body["openapi"] == "3.1.0"
    checkpoint = await api.call(None, "GET", "/log/checkpoint")
    assert checkpoint.status == 200


async def test_stream_without_signature_is_refused(api: Api) -> None:
    try:
        async with api.http.ws_connect(api.base + "/v1/stream"):
            raise AssertionError("an unsigned stream must not open")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 401


async def test_concurrent_posts_get_distinct_sequences_and_log_indices(api: Api) -> None:
    ic, ana = Person.new("Ines", "ic"), Person.new("Ana", "performer")
    await api.register(ic, ana)
    thread = await open_thread(api, ic, ana)
    first = seal_to(ic, thread, [ana], None)
    await post(api, ic, first)
    # Ten replies to the same envelope at once: most land in one sequencer round.
    envelopes = [seal_to(ana, thread, [ic], first.hash, b"%d" % n) for n in range(10)]
    receipts = await asyncio.gather(*(post(api, ana, e) for e in envelopes))
    assert sorted(r["sequence"] for r in receipts) == list(range(2, 12))
    assert len({r["index"] for r in receipts}) == 10
    page = await api.call(ic, "GET", f"/v1/threads/{b64u_encode(thread)}/envelopes?limit=500")
    assert [e["sequence"] for e in page.body["envelopes"]] == list(range(1, 12))
    assert page.body["next"] is None
