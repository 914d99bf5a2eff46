"""Envelopes are served only to their readers (docs/api.md, "Readers"), on SQLite and
PostgreSQL over real sockets: a partner's page, stream, receipts and thread description leave
out what was not addressed to them, every ciphertext they are served is a size bucket, and a
reader still sees a gap when an envelope meant for them is withheld.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete

from client.relay_client import RelayClient
from client.scenes import CachedEnvelope, ThreadCache
from keys.encoding import b64u_encode
from keys.envelope import BUCKETS, Envelope
from relay.db.api_models import EnvelopeReader
from tests.relay.api_support import Api, Person, open_thread, post, seal_to
from tests.relay.conftest import DbTarget


async def _scene(api: Api) -> tuple[bytes, Person, Person, Person, list[Envelope]]:
    """IC Ines, Ana and Ben: brief to all, Ana's sheet to the IC, a rider to all, Ana's
    withdrawal to the IC, Ben's acceptance to all."""
    ic, ana, ben = (
        Person.new("Ines Park", "ic"),
        Person.new("Ana Ruiz", "performer"),
        Person.new("Ben Okafor", "performer"),
    )
    await api.register(ic, ana, ben)
    thread = await open_thread(api, ic, ana, ben)
    brief = seal_to(ic, thread, [ana, ben], None, b"brief")
    sheet = seal_to(ana, thread, [ic], brief.hash, b"ana's sheet: no kissing" * 40)
    rider = seal_to(ic, thread, [ana, ben], brief.hash, b"rider v1")
    withdrawal = seal_to(ana, thread, [ic], rider.hash, b"ana withdraws")
    accept = seal_to(ben, thread, [ic, ana], rider.hash, b"ben accepts v1")
    return thread, ic, ana, ben, [brief, sheet, rider, withdrawal, accept]


async def test_a_partner_is_served_only_what_is_addressed_to_them(api: Api) -> None:
    thread, ic, ana, ben, envelopes = await _scene(api)
    brief, sheet, rider, withdrawal, accept = envelopes
    t = b64u_encode(thread)
    async with api.stream(ben) as ws:
        posted = {}
        for envelope, sender in zip(envelopes, [ic, ana, ic, ana, ben], strict=True):
            posted[envelope.hash] = await post(api, sender, envelope)
        pushed = [await ws.receive_json(timeout=5) for _ in range(3)]
        # Nothing else is queued for Ben: a marker envelope to him arrives next, not the rest.
        marker = seal_to(ic, thread, [ben], accept.hash, b"marker")
        await post(api, ic, marker)
        after = await ws.receive_json(timeout=5)
    assert [(m["hash"], m["reader_sequence"]) for m in pushed] == [
        (brief.hash.hex(), 1),
        (rider.hash.hex(), 2),
        (accept.hash.hex(), 3),
    ]
    assert (after["hash"], after["reader_sequence"]) == (marker.hash.hex(), 4)
    # The sender's receipt carries the sender's own reader number.
    assert posted[withdrawal.hash]["reader_sequence"] == 4  # Ana: brief, sheet, rider, then it
    assert posted[accept.hash]["reader_sequence"] == 3

    page = await api.call(ben, "GET", f"/v1/threads/{t}/envelopes")
    assert page.status == 200
    served = [(e["hash"], e["sequence"], e["reader_sequence"]) for e in page.body["envelopes"]]
    # Numbered 1, 2, 3, 4 for Ben: the thread's own count (1, 3, 5, 6) is never served, since
    # its gaps would count what was for others.
    assert served == [
        (brief.hash.hex(), 1, 1),
        (rider.hash.hex(), 2, 2),
        (accept.hash.hex(), 3, 3),
        (marker.hash.hex(), 4, 4),
    ]
    assert [m["sequence"] for m in pushed] == [1, 2, 3]
    assert posted[accept.hash]["sequence"] == 3
    second = await api.call(ben, "GET", f"/v1/threads/{t}/envelopes?after=2&limit=1")
    assert [e["hash"] for e in second.body["envelopes"]] == [accept.hash.hex()]
    assert second.body["next"] == "3"
    assert {sheet.hash.hex(), withdrawal.hash.hex()}.isdisjoint(h for h, _, _ in served)
    ana_page = await api.call(ana, "GET", f"/v1/threads/{t}/envelopes")
    assert [e["reader_sequence"] for e in ana_page.body["envelopes"]] == [1, 2, 3, 4, 5]
    assert marker.hash.hex() not in {e["hash"] for e in ana_page.body["envelopes"]}

    # Every ciphertext a member is served is exactly a size bucket.
    for reply in (page, ana_page):
        for item in reply.body["envelopes"]:
            assert len(Envelope.from_json(item["envelope"]).ciphertext) in BUCKETS

    # A receipt for an envelope not addressed to Ben is refused like a hash that does not exist.
    hidden = await api.call(ben, "GET", f"/v1/receipts/{withdrawal.hash.hex()}")
    assert hidden.status == 404
    mine = await api.call(ben, "GET", f"/v1/receipts/{rider.hash.hex()}")
    assert (mine.status, mine.body["reader_sequence"]) == (200, 2)

    # The thread description counts and names only Ben's envelopes.
    detail = await api.call(ben, "GET", f"/v1/threads/{t}")
    assert detail.body["envelope_count"] == 4
    assert set(detail.body["heads"]) <= {h for h, _, _ in served}
    assert withdrawal.hash.hex() not in detail.body["heads"]
    listing = await api.call(ben, "GET", "/v1/threads")
    assert [x["envelope_count"] for x in listing.body["threads"]] == [4]
    ic_detail = await api.call(ic, "GET", f"/v1/threads/{t}")
    assert ic_detail.body["envelope_count"] == 6


async def test_a_reader_detects_an_envelope_meant_for_them_that_the_relay_withheld(
    api: Api, log_db: DbTarget, tmp_path: Path
) -> None:
    thread, ic, ana, ben, envelopes = await _scene(api)
    for envelope, sender in zip(envelopes, [ic, ana, ic, ana, ben], strict=True):
        await post(api, sender, envelope)
    rider = envelopes[2]

    async def ben_cache() -> ThreadCache:
        cache = ThreadCache(tmp_path / "ben", thread)
        async with RelayClient(api.base, ben.key, clock=api.clock) as client:
            items = await client.all_envelopes(thread)
        cache.merge(
            [CachedEnvelope(i.envelope, i.sequence, i.index, 0, i.reader_sequence) for i in items]
        )
        return cache

    assert (await ben_cache()).withheld() == []

    # A relay that stops serving Ben the rider (here: its reader row is gone) leaves a hole.
    engine = log_db.make_engine()
    try:
        async with engine.begin() as conn:
            await conn.execute(
                delete(EnvelopeReader).where(
                    EnvelopeReader.hash == rider.hash, EnvelopeReader.reader == ben.identity
                )
            )
    finally:
        await engine.dispose()
    cache = await ben_cache()
    assert rider.hash not in {i.envelope.hash for i in cache.items}
    assert cache.withheld() == [2]


# --- identity lookup: only for those who need it -------------------------------------------


async def test_an_identity_is_looked_up_only_by_itself_co_members_and_invite_holders(
    api: Api,
) -> None:
    from keys.invite import invite_id
    from tests.relay.api_support import invite

    ic, ana, stranger, newcomer = (
        Person.new("Ines Park", "ic"),
        Person.new("Ana Ruiz", "performer"),
        Person.new("Sam Stranger", "performer"),
        Person.new("Nia Newcomer", "performer"),
    )
    await api.register(ic, ana, stranger, newcomer)
    thread = await open_thread(api, ic, ana)
    path = f"/v1/identities/{ana.fingerprint}"

    unsigned = await api.call(None, "GET", path)
    assert unsigned.status == 401
    assert unsigned.content_type == "application/problem+json"
    refused = await api.call(stranger, "GET", path)
    assert refused.status == 404
    assert "Ana" not in str(refused.body) and "look up" in refused.body["detail"]
    for who in (ana, ic):  # herself, and a member who shares a thread with her
        found = await api.call(who, "GET", path)
        assert found.status == 200, found.body
        assert found.body["receipts"]
    assert (await api.call(ana, "GET", f"/v1/identities/{ic.fingerprint}")).status == 200

    # A newcomer holding an invite may check its thread's members before joining; a made-up
    # invite id, or the same one after it expired, is no better than none.
    secret = bytes(range(32))
    await invite(api, ic, thread, secret, ttl=60)
    ticket = b64u_encode(invite_id(secret))
    inviter = f"/v1/identities/{ic.fingerprint}?invite={ticket}"
    assert (await api.call(newcomer, "GET", inviter)).status == 200
    made_up = f"/v1/identities/{ic.fingerprint}?invite={b64u_encode(bytes(32))}"
    assert (await api.call(newcomer, "GET", made_up)).status == 404
    assert (await api.call(newcomer, "GET", f"/v1/identities/{ic.fingerprint}")).status == 404
    bad = await api.call(newcomer, "GET", f"/v1/identities/{ic.fingerprint}?invite=xyz")
    assert bad.status == 400
    api.clock.advance(120)
    assert (await api.call(newcomer, "GET", inviter)).status == 404
