"""Envelopes: sealing, opening, moving, re-addressing, re-signing, replay and disclosure."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import nacl.bindings as sodium
import nacl.exceptions
import nacl.public
import nacl.signing
import pytest

from keys import statement as sig
from keys.encoding import b64u_encode, canonical_json
from keys.envelope import (
    BUCKETS,
    MAX_PLAINTEXT_BYTES,
    MAX_RECIPIENTS,
    WRAPPED_KEY_SIZE,
    Envelope,
    EnvelopeFormatError,
    NotARecipientError,
    Opened,
    Recipient,
    _wrap_key,
    encode_disclosure,
    open_disclosure,
    open_envelope,
    open_with_message_key,
    pad,
    seal,
)
from keys.errors import DecryptionError, EncodingError, LimitError, SignatureError

PURPOSE = "closedset/scene/boundary-sheet/v1"
THREAD = bytes(range(16))
OTHER_THREAD = bytes(range(1, 17))


class Person:
    """A test identity with one device."""

    def __init__(self, name: str) -> None:
        seed = hashlib.sha256(b"test/envelope/" + name.encode()).digest()
        self.identity = nacl.signing.SigningKey(seed)
        self.device = nacl.public.PrivateKey(hashlib.sha256(seed).digest())

    @property
    def recipient(self) -> Recipient:
        return Recipient(bytes(self.identity.verify_key), bytes(self.device.public_key))


ANN, BEN, CAL, MAL = Person("ann"), Person("ben"), Person("cal"), Person("mallory")


def _seal(
    plaintext: bytes = b"hands on shoulders: yes",
    *,
    sender: Person = ANN,
    to: tuple[Person, ...] = (ANN, BEN, CAL),
    thread: bytes = THREAD,
    prev: bytes | None = None,
) -> Opened:
    return seal(
        plaintext,
        sender=sender.identity,
        recipients=[p.recipient for p in to],
        thread=thread,
        prev=prev,
        purpose=PURPOSE,
    )


def _resigned(envelope: Envelope, by: Person) -> Envelope:
    unsigned = canonical_json(envelope._unsigned_json())
    return replace(envelope, signature=sig.sign(by.identity, sig.ENVELOPE_OUTER, unsigned))


def _reparse(envelope: Envelope) -> Envelope:
    return Envelope.from_bytes(envelope.to_bytes())


# --- the happy path ------------------------------------------------------------------------------


def test_every_recipient_including_the_sender_opens_what_was_sealed() -> None:
    opened = _seal()
    data = opened.envelope.to_bytes()
    for person in (ANN, BEN, CAL):
        got = open_envelope(Envelope.from_bytes(data), person.device)
        assert got.plaintext == b"hands on shoulders: yes"
        assert got.sender == bytes(ANN.identity.verify_key)
        assert got.message_key == opened.message_key
        assert got.context.thread == THREAD


def test_an_envelope_is_identified_by_the_sha256_of_its_canonical_bytes() -> None:
    envelope = _seal().envelope
    assert envelope.hash == hashlib.sha256(envelope.to_bytes()).digest()
    assert _reparse(envelope) == envelope


def test_sealing_twice_gives_fresh_message_keys_nonces_and_ciphertexts() -> None:
    a, b = _seal(), _seal()
    assert a.message_key != b.message_key
    assert a.envelope.nonce != b.envelope.nonce
    assert a.envelope.ciphertext != b.envelope.ciphertext


def test_recipients_are_sorted_and_deduplicated_when_sealing() -> None:
    opened = seal(
        b"x",
        sender=ANN.identity,
        recipients=[CAL.recipient, ANN.recipient, BEN.recipient, ANN.recipient],
        thread=THREAD,
        prev=None,
        purpose=PURPOSE,
    )
    recipients = opened.envelope.context.recipients
    assert list(recipients) == sorted({ANN.recipient, BEN.recipient, CAL.recipient})


def test_the_empty_and_the_largest_plaintext_both_seal_and_open() -> None:
    for plaintext in (b"", b"\xff" * MAX_PLAINTEXT_BYTES):
        opened = _seal(plaintext, to=(ANN,))
        assert open_envelope(_reparse(opened.envelope), ANN.device).plaintext == plaintext


def test_a_chained_envelope_carries_the_hash_of_the_one_before() -> None:
    first = _seal().envelope
    second = _seal(b"counter", sender=BEN, prev=first.hash).envelope
    assert open_envelope(_reparse(second), CAL.device).context.prev == first.hash


# --- refused before any cryptography ------------------------------------------------------------


def test_sealing_refuses_a_sender_who_is_not_among_the_recipients() -> None:
    with pytest.raises(EnvelopeFormatError, match="sender's own devices"):
        _seal(to=(BEN, CAL))


def test_sealing_refuses_more_recipients_than_the_cap() -> None:
    many = [Person(f"p{i}").recipient for i in range(MAX_RECIPIENTS)] + [ANN.recipient]
    with pytest.raises(LimitError):
        seal(b"x", sender=ANN.identity, recipients=many, thread=THREAD, prev=None, purpose=PURPOSE)


def test_sealing_the_cap_of_recipients_works() -> None:
    many = [Person(f"p{i}").recipient for i in range(MAX_RECIPIENTS - 1)] + [ANN.recipient]
    opened = seal(
        b"x", sender=ANN.identity, recipients=many, thread=THREAD, prev=None, purpose=PURPOSE
    )
    assert len(_reparse(opened.envelope).wrapped_keys) == MAX_RECIPIENTS


def test_sealing_refuses_an_oversized_plaintext() -> None:
    with pytest.raises(LimitError):
        _seal(b"x" * (MAX_PLAINTEXT_BYTES + 1))


@pytest.mark.parametrize(
    ("field", "value"),
    [("thread", b"short"), ("prev", b"\x00" * 31), ("purpose", "sheet")],
)
def test_sealing_refuses_a_malformed_context(field: str, value: object) -> None:
    kwargs: dict[str, object] = {"thread": THREAD, "prev": None, "purpose": PURPOSE}
    kwargs[field] = value
    with pytest.raises(EncodingError):
        seal(b"x", sender=ANN.identity, recipients=[ANN.recipient], **kwargs)  # type: ignore[arg-type]


def test_an_oversized_envelope_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(LimitError):
        Envelope.from_bytes(b"{" + b" " * (512 * 1024))


# --- moved, re-addressed, re-signed, replayed ----------------------------------------------------


def test_an_envelope_moved_to_another_thread_is_refused() -> None:
    envelope = _seal().envelope
    moved = replace(envelope, context=replace(envelope.context, thread=OTHER_THREAD))
    with pytest.raises(SignatureError):
        open_envelope(_reparse(moved), BEN.device)


def test_an_envelope_replayed_with_another_previous_hash_is_refused() -> None:
    envelope = _seal(prev=b"\x01" * 32).envelope
    for prev in (b"\x02" * 32, None):
        replayed = replace(envelope, context=replace(envelope.context, prev=prev))
        with pytest.raises(SignatureError):
            open_envelope(_reparse(replayed), BEN.device)


def test_an_envelope_with_a_recipient_added_is_refused_even_with_a_good_wrapped_key() -> None:
    opened = _seal()
    envelope = opened.envelope
    mallory = (MAL.recipient, _wrap_key(opened.message_key, MAL.recipient.device))
    pairs = sorted([*zip(envelope.context.recipients, envelope.wrapped_keys, strict=True), mallory])
    readdressed = replace(
        envelope,
        context=replace(envelope.context, recipients=tuple(r for r, _ in pairs)),
        wrapped_keys=tuple(k for _, k in pairs),
    )
    with pytest.raises(SignatureError):
        open_envelope(_reparse(readdressed), MAL.device)


def test_an_envelope_with_a_recipient_removed_is_refused() -> None:
    envelope = _seal().envelope
    pairs = [
        p
        for p in zip(envelope.context.recipients, envelope.wrapped_keys, strict=True)
        if p[0] != CAL.recipient
    ]
    readdressed = replace(
        envelope,
        context=replace(envelope.context, recipients=tuple(r for r, _ in pairs)),
        wrapped_keys=tuple(k for _, k in pairs),
    )
    with pytest.raises(SignatureError):
        open_envelope(_reparse(readdressed), BEN.device)


def test_an_envelope_with_a_recipient_replaced_is_refused() -> None:
    opened = _seal()
    envelope = opened.envelope
    pairs = sorted(
        [
            p
            for p in zip(envelope.context.recipients, envelope.wrapped_keys, strict=True)
            if p[0] != CAL.recipient
        ]
        + [(MAL.recipient, _wrap_key(opened.message_key, MAL.recipient.device))]
    )
    readdressed = replace(
        envelope,
        context=replace(envelope.context, recipients=tuple(r for r, _ in pairs)),
        wrapped_keys=tuple(k for _, k in pairs),
    )
    with pytest.raises(SignatureError):
        open_envelope(_reparse(readdressed), MAL.device)


def test_an_outer_signature_by_another_member_over_the_same_bytes_is_refused() -> None:
    envelope = _seal().envelope
    with pytest.raises(SignatureError):
        open_envelope(_reparse(_resigned(envelope, BEN)), CAL.device)


def test_a_member_who_swaps_in_their_own_name_and_re_signs_cannot_be_decrypted() -> None:
    envelope = _seal().envelope
    claimed = replace(envelope, context=replace(envelope.context, sender=BEN.recipient.identity))
    forged = _reparse(_resigned(claimed, BEN))
    forged.verify_outer()  # the relay would accept the outer layer ...
    with pytest.raises(DecryptionError) as caught:  # ... but no recipient can open it
        open_envelope(forged, CAL.device)
    assert type(caught.value) is DecryptionError


def test_a_member_cannot_pass_off_anothers_inner_signature_under_their_own_name() -> None:
    opened = _seal()
    envelope = opened.envelope
    inner_and_plaintext = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        envelope.ciphertext, envelope.context.to_bytes(), envelope.nonce, opened.message_key
    )
    context = replace(envelope.context, sender=BEN.recipient.identity)
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        inner_and_plaintext, context.to_bytes(), envelope.nonce, opened.message_key
    )
    forged = _resigned(replace(envelope, context=context, ciphertext=bytes(ciphertext)), BEN)
    with pytest.raises(SignatureError, match="inner"):
        open_envelope(_reparse(forged), CAL.device)


def test_an_inner_signature_from_another_key_is_refused_although_the_outer_is_valid() -> None:
    opened = _seal()
    envelope = opened.envelope
    context_bytes = envelope.context.to_bytes()
    inner = sig.sign(
        BEN.identity, sig.ENVELOPE_INNER, hashlib.sha256(context_bytes).digest() + opened.plaintext
    )
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pad(inner, opened.plaintext), context_bytes, envelope.nonce, opened.message_key
    )
    forged = _resigned(replace(envelope, ciphertext=bytes(ciphertext)), ANN)
    with pytest.raises(SignatureError, match="inner"):
        open_envelope(_reparse(forged), BEN.device)


# --- third parties -------------------------------------------------------------------------------


def test_a_third_party_who_is_not_a_recipient_cannot_open_it() -> None:
    envelope = _seal().envelope
    with pytest.raises(NotARecipientError) as caught:
        open_envelope(_reparse(envelope), MAL.device)
    assert type(caught.value) is NotARecipientError


def test_a_third_party_cannot_open_someone_elses_wrapped_key() -> None:
    envelope = _seal().envelope
    index = envelope.context.recipients.index(BEN.recipient)
    wrapped = envelope.wrapped_keys[index]
    with pytest.raises(nacl.exceptions.CryptoError):
        sodium.crypto_box_seal_open(wrapped, MAL.recipient.device, bytes(MAL.device))
    # Claiming Ben's slot by writing her device key into it breaks the outer signature.
    recipients = list(envelope.context.recipients)
    recipients[index] = Recipient(BEN.recipient.identity, MAL.recipient.device)
    pairs = sorted(zip(recipients, envelope.wrapped_keys, strict=True))
    stolen = replace(
        envelope,
        context=replace(envelope.context, recipients=tuple(r for r, _ in pairs)),
        wrapped_keys=tuple(k for _, k in pairs),
    )
    with pytest.raises(SignatureError):
        open_envelope(_reparse(stolen), MAL.device)


def test_a_recipient_whose_wrapped_key_was_swapped_by_the_sender_gets_a_decryption_error() -> None:
    envelope = _seal().envelope
    keys = list(envelope.wrapped_keys)
    keys[0], keys[1] = keys[1], keys[0]
    swapped = _resigned(replace(envelope, wrapped_keys=tuple(keys)), ANN)
    victim = next(p for p in (ANN, BEN, CAL) if p.recipient == envelope.context.recipients[0])
    with pytest.raises(DecryptionError, match="wrapped key") as caught:
        open_envelope(_reparse(swapped), victim.device)
    assert type(caught.value) is DecryptionError


# --- key wrapping is the standard sealed box -----------------------------------------------------


def test_a_wrapped_key_is_a_libsodium_sealed_box() -> None:
    message_key = bytes(range(32))
    wrapped = _wrap_key(message_key, BEN.recipient.device)
    assert len(wrapped) == WRAPPED_KEY_SIZE
    opened = sodium.crypto_box_seal_open(wrapped, BEN.recipient.device, bytes(BEN.device))
    assert opened == message_key
    assert nacl.public.SealedBox(BEN.device).decrypt(wrapped) == message_key


def test_a_wrapped_key_nonce_is_blake2b_24_of_the_ephemeral_and_recipient_keys() -> None:
    message_key = bytes(range(32))
    wrapped = _wrap_key(message_key, BEN.recipient.device)
    epk = wrapped[:32]
    nonce = hashlib.blake2b(epk + BEN.recipient.device, digest_size=24).digest()
    assert sodium.crypto_box_open(wrapped[32:], nonce, epk, bytes(BEN.device)) == message_key


def test_a_standard_sealed_box_of_the_message_key_opens_like_a_wrapped_key() -> None:
    opened = _seal()
    envelope = opened.envelope
    index = envelope.context.recipients.index(BEN.recipient)
    keys = list(envelope.wrapped_keys)
    keys[index] = sodium.crypto_box_seal(opened.message_key, BEN.recipient.device)
    resealed = _resigned(replace(envelope, wrapped_keys=tuple(keys)), ANN)
    assert open_envelope(_reparse(resealed), BEN.device).plaintext == opened.plaintext


# --- selective disclosure ------------------------------------------------------------------------


def test_a_disclosed_message_key_opens_that_envelope_for_counsel() -> None:
    opened = _seal()
    disclosed = open_disclosure(encode_disclosure(opened))
    assert disclosed.plaintext == opened.plaintext
    assert disclosed.envelope == opened.envelope


def test_a_disclosed_message_key_opens_no_other_envelope_even_in_the_same_thread() -> None:
    first = _seal(b"first")
    second = _seal(b"second", prev=first.envelope.hash)
    assert first.envelope.context.recipients == second.envelope.context.recipients
    with pytest.raises(DecryptionError) as caught:
        open_with_message_key(second.envelope, first.message_key)
    assert type(caught.value) is DecryptionError
    mixed = canonical_json(
        {"envelope": second.envelope.to_json(), "message_key": b64u_encode(first.message_key)}
    )
    with pytest.raises(DecryptionError):
        open_disclosure(mixed)


def test_a_message_key_of_the_wrong_length_is_refused() -> None:
    opened = _seal()
    with pytest.raises(DecryptionError, match="32 bytes"):
        open_with_message_key(opened.envelope, opened.message_key[:16])


def test_a_disclosure_with_extra_fields_is_refused() -> None:
    opened = _seal()
    value = {
        "envelope": opened.envelope.to_json(),
        "message_key": b64u_encode(opened.message_key),
        "note": "for counsel",
    }
    with pytest.raises(EnvelopeFormatError):
        open_disclosure(canonical_json(value))


def test_an_oversized_disclosure_is_refused_before_parsing() -> None:
    with pytest.raises(LimitError):
        open_disclosure(b" " * (512 * 1024 + 129))


# --- padding (format version 2) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "length", [0, 1, 939, 940, 941, 2000, 6000, 8100, 70000, MAX_PLAINTEXT_BYTES]
)
def test_every_ciphertext_is_exactly_a_bucket_and_opens_to_its_plaintext(length: int) -> None:
    plaintext = b"\x00" * length  # zeros: padding must not be confused with the plaintext
    opened = _seal(plaintext)
    assert opened.envelope.context.version == 2
    assert len(opened.envelope.ciphertext) in BUCKETS
    smaller = [b for b in BUCKETS if b < len(opened.envelope.ciphertext)]
    assert not smaller or 64 + 4 + length + 16 > smaller[-1], "the smallest bucket that fits"
    assert open_envelope(_reparse(opened.envelope), BEN.device).plaintext == plaintext


def test_the_buckets_are_nine_powers_of_two_from_1_kib_to_256_kib() -> None:
    assert BUCKETS == (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)


def test_statements_of_different_lengths_in_one_bucket_are_the_same_size() -> None:
    short, long = _seal(b"yes"), _seal(b"no, never; not on this shoot and not later" * 15)
    assert len(short.envelope.to_bytes()) == len(long.envelope.to_bytes())


def _repadded(opened: Opened, padded: bytes) -> Envelope:
    envelope = opened.envelope
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded, envelope.context.to_bytes(), envelope.nonce, opened.message_key
    )
    return _reparse(_resigned(replace(envelope, ciphertext=bytes(ciphertext)), ANN))


def test_non_zero_padding_is_refused_although_aead_and_outer_signature_are_valid() -> None:
    opened = _seal()
    inner = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        opened.envelope.ciphertext,
        opened.envelope.context.to_bytes(),
        opened.envelope.nonce,
        opened.message_key,
    )
    with pytest.raises(DecryptionError, match="padding"):
        open_envelope(_repadded(opened, inner[:-1] + b"\x01"), BEN.device)
    too_long = inner[:64] + (len(inner) - 64).to_bytes(4, "big") + inner[68:]
    with pytest.raises(DecryptionError, match="padding"):
        open_envelope(_repadded(opened, too_long), BEN.device)


def test_a_version_2_ciphertext_that_is_not_a_bucket_is_refused_before_cryptography() -> None:
    value = _seal().envelope.to_json()
    value["ciphertext"] = b64u_encode(b"\x00" * 1000)
    with pytest.raises(LimitError, match="bucket"):
        Envelope.from_bytes(canonical_json(value))
