"""Mail sealed for the pipe (keys.mailseal, docs/email.md "Sealed for the pipe"): what egress
and a member's own provider carry holds no identity key in any spelling and no name, and only
the member's devices (egress) or the relay (ingress) open it."""

from __future__ import annotations

import nacl.public
import pytest

from client.mail.compose import compose
from keys import armor
from keys.errors import DecryptionError
from keys.mailseal import MIN_BUCKET, ingress_private_key, open_sealed, seal_for
from keys.note import NoteSigner
from relay.mail.errors import DamagedEnvelopeError
from relay.mail.ingress import envelope_from_message
from relay.mail.outgoing import build_delivery
from tests.mail.test_email_only_story import assert_no_identity
from tests.relay.api_support import Person, seal_to


class _Profile:
    def __init__(self, person: Person) -> None:
        self.identity_key = person.identity
        self._recipients = person.recipients()

    def own_recipients(self) -> list:  # what assert_no_identity reads
        return self._recipients


def _thread() -> tuple[Person, Person, bytes]:
    ic, ana = Person.new("Ines Park", "ic"), Person.new("Ana Ruiz", "performer")
    envelope = seal_to(ana, bytes(16), [ic], None, b"I withdraw: no kissing")
    return ic, ana, envelope.to_bytes()


def test_an_egress_mail_holds_no_identity_key_or_name_and_opens_on_the_members_device() -> None:
    ic, ana, body = _thread()
    raw = build_delivery(
        envelope_body=body,
        devices=[ic.device.public],
        from_address="relay@relay.test",
        to_address="ines@mail.test",
        message_id="<x@relay.test>",
        in_reply_to=None,
        references=(),
        created_ms=0,
    )
    assert_no_identity(raw, [_Profile(ic), _Profile(ana)], ["Ines", "Ana", "Park", "Ruiz"])
    (block,) = armor.find_armored(raw.decode("ascii"), armor.SEALED)
    assert open_sealed(block, [ic.device.private]) == body
    with pytest.raises(DecryptionError):
        open_sealed(block, [ana.device.private])  # not one of Ines's devices


def test_the_check_would_catch_a_bare_envelope_in_a_mail() -> None:
    ic, ana, body = _thread()
    bare = armor.armor(body, armor.ENVELOPE).encode()
    with pytest.raises(AssertionError):
        assert_no_identity(bare, [_Profile(ic), _Profile(ana)], [])


def test_mail_a_member_sends_through_their_provider_is_sealed_to_the_relay() -> None:
    ic, ana, body = _thread()
    from keys.envelope import Envelope

    signer = NoteSigner.generate("relay.test/log")
    ingress = ingress_private_key(signer)
    raw = compose(
        Envelope.from_bytes(body),
        ingress_key=bytes(ingress.public_key),
        from_address="ana@mail.test",
        to_address="x@relay.test",
    )
    assert_no_identity(raw, [_Profile(ic), _Profile(ana)], ["Ines", "Ana"])
    assert envelope_from_message(raw, ingress)[0] == body
    with pytest.raises(DamagedEnvelopeError):
        envelope_from_message(raw, nacl.public.PrivateKey.generate())


@pytest.mark.parametrize("length", [0, 1, 1003, 1004, 5000, 70000])
def test_seals_are_padded_to_powers_of_two(length: int) -> None:
    device = nacl.public.PrivateKey.generate()
    sealed = seal_for(b"x" * length, [bytes(device.public_key)])
    ciphertext = len(sealed) - 2 - 80 - 24
    assert ciphertext >= MIN_BUCKET and ciphertext & (ciphertext - 1) == 0
    assert open_sealed(sealed, [device]) == b"x" * length
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(DecryptionError):
        open_sealed(altered, [device])


def test_the_check_would_catch_a_name_in_a_header() -> None:
    ic, ana, _ = _thread()
    with pytest.raises(AssertionError):
        assert_no_identity(b"Subject: Ana's withdrawal\r\n\r\nhi\r\n", [_Profile(ic)], ["Ana"])
