"""The client's side of the relay API, against a real relay on a real socket, both databases."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from client.receipts import ReceiptError
from client.relay_client import LogKeyMismatchError, RelayClient, RelayError
from keys.encoding import b64u_decode, b64u_encode
from keys.envelope import open_envelope
from keys.identity import KeyHistory
from keys.invite import Invite, join_proof, verify_join_proof
from keys.logentry import RecordType
from keys.note import NoteSigner
from tests.relay.api_support import Person, seal_to


def client_for(api: Any, person: Person, **options: Any) -> RelayClient:
    return RelayClient(api.base, person.key, clock=api.clock, **options)


async def test_story_register_invite_join_post_page_and_verify_every_receipt(api: Any) -> None:
    ic, ana = Person.new("Ines", "ic"), Person.new("Ana", "performer")
    pins: list[str] = []
    async with client_for(api, ic, on_pin=pins.append) as ines, client_for(api, ana) as anna:
        receipts = await ines.register(KeyHistory.from_records(ic.records))
        assert len(receipts) == len(ic.records) and len(pins) == 1
        await anna.register(KeyHistory.from_records(ana.records))

        thread = bytes(range(16))
        await ines.create_thread(thread)
        secret = bytes(32)
        code = Invite(api.base, thread, ic.identity, secret, int(api.clock()) + 600).encode()
        invite = Invite.decode(code)
        await ines.create_invite(thread, invite.invite_id, invite.expires_at)
        # Before joining, Ana may look up the inviter only with the invite's id.
        ic_fingerprint = KeyHistory.from_records(ic.records).fingerprint
        with pytest.raises(RelayError):
            await anna.lookup(ic_fingerprint)
        history, proofs = await anna.lookup(ic_fingerprint, invite_id=invite.invite_id)
        assert history.identity_key == ic.identity and len(proofs) == len(ic.records)
        proof = join_proof(invite.secret, invite.thread, ana.identity)
        await anna.join(invite.thread, invite.invite_id, proof)
        members = (await ines.thread(thread))["members"]
        joined = next(m for m in members if m["identity"] == b64u_encode(ana.identity))
        verify_join_proof(secret, thread, ana.identity, b64u_decode(joined["join_proof"]))

        first = seal_to(ic, thread, [ana], None, b"brief")
        posted = await ines.post(first)
        assert posted.receipt.entry.record_type == RecordType.ENVELOPE
        second = seal_to(ana, thread, [ic], first.hash, b"sheet")
        await anna.post(second)

        items = await anna.all_envelopes(thread)
        assert [i.envelope.hash for i in items] == [first.hash, second.hash]
        assert open_envelope(items[0].envelope, ana.device.private).plaintext == b"brief"
        later = await anna.receipt(first)
        assert later.index == posted.receipt.index


async def test_client_refuses_a_receipt_whose_proof_does_not_verify(api: Any) -> None:
    ic = Person.new("Ines", "ic")
    async with client_for(api, ic) as ines:
        await ines.register(KeyHistory.from_records(ic.records))
        thread = bytes(16)
        await ines.create_thread(thread)
        envelope = seal_to(ic, thread, [], None, b"x")
        posted = await ines.post(envelope)
        forged = copy.deepcopy(posted.receipt.raw)
        forged["index"] = forged["index"] + 1
        with pytest.raises(ReceiptError):
            await ines.verify(forged, envelope.to_bytes(), RecordType.ENVELOPE)
        other = copy.deepcopy(posted.receipt.raw)
        with pytest.raises(ReceiptError):
            await ines.verify(other, b"other bytes", RecordType.ENVELOPE)
        with pytest.raises(ReceiptError):
            await ines.verify(other, envelope.to_bytes(), RecordType.IDENTITY_RECORD)


async def test_a_relay_presenting_another_log_key_is_not_believed(api: Any) -> None:
    ic = Person.new("Ines", "ic")
    impostor = NoteSigner.generate("relay.example/log").verifier().key_string()
    async with client_for(api, ic, pinned_log_key=impostor) as ines:
        with pytest.raises(LogKeyMismatchError):
            await ines.register(KeyHistory.from_records(ic.records))


async def test_relay_refusals_arrive_as_one_sentence(api: Any) -> None:
    ana = Person.new("Ana", "performer")
    async with client_for(api, ana) as anna:
        await anna.register(KeyHistory.from_records(ana.records))
        await anna.create_thread(bytes(16))  # any registered identity may (and is its IC)
        with pytest.raises(RelayError) as refused:
            await anna.create_thread(bytes(16))
        assert refused.value.status == 409
        assert str(refused.value).endswith(".")


async def test_stream_pushes_new_envelopes_to_members(api: Any) -> None:
    ic, ana = Person.new("Ines", "ic"), Person.new("Ana", "performer")
    async with client_for(api, ic) as ines, client_for(api, ana) as anna:
        await ines.register(KeyHistory.from_records(ic.records))
        await anna.register(KeyHistory.from_records(ana.records))
        thread = bytes(range(16, 32))
        await ines.create_thread(thread)
        invite = Invite(api.base, thread, ic.identity, bytes(range(32)), int(api.clock()) + 60)
        await ines.create_invite(thread, invite.invite_id, invite.expires_at)
        await anna.join(thread, invite.invite_id, join_proof(invite.secret, thread, ana.identity))

        async with anna.stream() as events:
            envelope = seal_to(ic, thread, [ana], None, b"pushed")
            await ines.post(envelope)
            event = await asyncio.wait_for(anext(events), timeout=30)
        assert event["type"] == "envelope" and event["hash"] == envelope.hash.hex()


async def test_receipt_index_must_be_an_integer(api: Any) -> None:
    ic = Person.new("Ines", "ic")
    async with client_for(api, ic) as ines:
        await ines.register(KeyHistory.from_records(ic.records))
        thread = bytes(16)
        await ines.create_thread(thread)
        envelope = seal_to(ic, thread, [], None, b"x")
        posted = await ines.post(envelope)
        good = copy.deepcopy(posted.receipt.raw)
        await ines.verify(good, envelope.to_bytes(), RecordType.ENVELOPE)
        index = good["index"]
        for bent in (str(index), float(index), index == 0, [index], None):
            with pytest.raises(ReceiptError):
                await ines.verify({**good, "index": bent}, envelope.to_bytes(), RecordType.ENVELOPE)
        for key, bent in (("inclusion", "abc"), ("checkpoint", 3)):
            with pytest.raises(ReceiptError):
                await ines.verify({**good, key: bent}, envelope.to_bytes(), RecordType.ENVELOPE)


async def test_reads_check_the_pinned_log_key_too(api: Any) -> None:
    """`scene status`, `thread` and `inbox` read through threads(), thread() and page()."""
    ic = Person.new("Ines", "ic")
    thread = bytes(range(16))
    async with client_for(api, ic) as ines:
        await ines.register(KeyHistory.from_records(ic.records))
        await ines.create_thread(thread)
        await ines.post(seal_to(ic, thread, [], None, b"x"))
    impostor = NoteSigner.generate("relay.example/log").verifier().key_string()
    async with client_for(api, ic, pinned_log_key=impostor) as ines:
        for read in (
            ines.threads(),
            ines.thread(thread),
            ines.page(thread),
            ines.all_envelopes(thread),
        ):
            with pytest.raises(LogKeyMismatchError):
                await read
