"""Property tests: no change to an envelope, or to its armor, gets past the checks.

Each property names what an attacker (or a mail client) might do and checks that the result is
refused with one of the trust core's own errors, never some other exception.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import nacl.public
import nacl.signing
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from keys import statement as sig
from keys.armor import armor, dearmor
from keys.encoding import canonical_json
from keys.envelope import (
    Envelope,
    NotARecipientError,
    Opened,
    Recipient,
    _wrap_key,
    open_envelope,
    open_with_message_key,
    seal,
)
from keys.errors import DecryptionError, KeysError, SignatureError

PURPOSE = "closedset/scene/boundary-sheet/v1"
THREAD = bytes(range(16))
PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=40, deadline=None)


def _person(name: str) -> tuple[nacl.signing.SigningKey, nacl.public.PrivateKey, Recipient]:
    seed = hashlib.sha256(b"test/properties/" + name.encode()).digest()
    identity = nacl.signing.SigningKey(seed)
    device = nacl.public.PrivateKey(hashlib.sha256(seed).digest())
    return identity, device, Recipient(bytes(identity.verify_key), bytes(device.public_key))


PEOPLE = {name: _person(name) for name in ("ann", "ben", "cal", "dee", "mallory")}
MEMBERS = ("ann", "ben", "cal")


def _seal(plaintext: bytes, *, prev: bytes | None = None, sender: str = "ann") -> Opened:
    return seal(
        plaintext,
        sender=PEOPLE[sender][0],
        recipients=[PEOPLE[n][2] for n in MEMBERS],
        thread=THREAD,
        prev=prev,
        purpose=PURPOSE,
    )


SEALED = _seal("Scene 12: kissing on the cheek only; no nudity — closed set.".encode())
CANONICAL = SEALED.envelope.to_bytes()
ARMORED = armor(CANONICAL, "ENVELOPE")
_CHAINED = _seal(b"counter-proposal", prev=SEALED.envelope.hash, sender="ben")


def _open_as(data: bytes, name: str) -> Opened:
    return open_envelope(Envelope.from_bytes(data), PEOPLE[name][1])


def _assert_refused(data: bytes, name: str) -> None:
    """Opening must fail with a KeysError; any other exception type is a bug."""
    try:
        _open_as(data, name)
    except KeysError:
        return
    except Exception as exc:  # pragma: no cover - this is the failure being looked for
        pytest.fail(f"{type(exc).__name__} escaped instead of a KeysError: {exc!r}")
    pytest.fail("A changed envelope was accepted.")


def _assert_disclosure_refused(data: bytes) -> None:
    try:
        open_with_message_key(Envelope.from_bytes(data), SEALED.message_key)
    except KeysError:
        return
    except Exception as exc:  # pragma: no cover
        pytest.fail(f"{type(exc).__name__} escaped instead of a KeysError: {exc!r}")
    pytest.fail("A changed envelope was opened with the disclosed key.")


def test_the_untouched_envelope_and_its_armor_open_for_every_member() -> None:
    for name in MEMBERS:
        assert _open_as(CANONICAL, name).plaintext == SEALED.plaintext
        assert _open_as(dearmor(ARMORED, "ENVELOPE"), name).plaintext == SEALED.plaintext


# --- the canonical bytes -------------------------------------------------------------------------


@PROPERTY
@given(
    position=st.integers(min_value=0, max_value=len(CANONICAL) - 1),
    mask=st.integers(min_value=1, max_value=255),
    reader=st.sampled_from(MEMBERS),
)
def test_any_single_byte_flip_of_the_envelope_is_refused(
    position: int, mask: int, reader: str
) -> None:
    data = bytearray(CANONICAL)
    data[position] ^= mask
    _assert_refused(bytes(data), reader)
    _assert_disclosure_refused(bytes(data))


@PROPERTY
@given(
    length=st.integers(min_value=0, max_value=len(CANONICAL) - 1), reader=st.sampled_from(MEMBERS)
)
def test_any_truncation_of_the_envelope_is_refused(length: int, reader: str) -> None:
    _assert_refused(CANONICAL[:length], reader)


@PROPERTY
@given(
    position=st.integers(min_value=0, max_value=len(CANONICAL)),
    extra=st.binary(min_size=1, max_size=8),
    reader=st.sampled_from(MEMBERS),
)
def test_any_extension_of_the_envelope_is_refused(position: int, extra: bytes, reader: str) -> None:
    _assert_refused(CANONICAL[:position] + extra + CANONICAL[position:], reader)


# --- the armor -----------------------------------------------------------------------------------

_PAYLOAD_START = ARMORED.index("\r\n") + 2
_PAYLOAD_END = ARMORED.index("-----END")
_PAYLOAD_POSITIONS = [i for i in range(_PAYLOAD_START, _PAYLOAD_END) if ARMORED[i] not in "\r\n"]


def _dearmor_and_open(text: str, reader: str) -> bytes | None:
    """The bytes the armor decodes to, or None if the armor or the envelope was refused."""
    try:
        data = dearmor(text, "ENVELOPE")
        _open_as(data, reader)
    except KeysError:
        return None
    except Exception as exc:  # pragma: no cover
        pytest.fail(f"{type(exc).__name__} escaped instead of a KeysError: {exc!r}")
    return data


@PROPERTY
@given(
    position=st.integers(min_value=0, max_value=len(ARMORED) - 1),
    mask=st.integers(min_value=1, max_value=255),
    reader=st.sampled_from(MEMBERS),
)
def test_any_single_character_flip_of_the_armor_is_refused_or_changes_nothing(
    position: int, mask: int, reader: str
) -> None:
    # A flip that a mail client could make (a line break becoming a space, a quote mark) is
    # forgiven, and then the very same envelope comes out; anything else is refused.
    text = ARMORED[:position] + chr(ord(ARMORED[position]) ^ mask) + ARMORED[position + 1 :]
    assert _dearmor_and_open(text, reader) in (None, CANONICAL)


@PROPERTY
@given(
    position=st.sampled_from(_PAYLOAD_POSITIONS),
    mask=st.integers(min_value=1, max_value=255),
    reader=st.sampled_from(MEMBERS),
)
def test_any_single_character_flip_in_the_armored_base64_is_refused(
    position: int, mask: int, reader: str
) -> None:
    text = ARMORED[:position] + chr(ord(ARMORED[position]) ^ mask) + ARMORED[position + 1 :]
    assert _dearmor_and_open(text, reader) is None


@PROPERTY
@given(length=st.integers(min_value=0, max_value=len(ARMORED) - 3), reader=st.sampled_from(MEMBERS))
def test_any_truncation_of_the_armor_short_of_the_final_line_break_is_refused(
    length: int, reader: str
) -> None:
    assert _dearmor_and_open(ARMORED[:length], reader) is None


@PROPERTY
@given(
    position=st.integers(min_value=_PAYLOAD_START, max_value=_PAYLOAD_END),
    extra=st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
        min_size=1,
        max_size=8,
    ),
    reader=st.sampled_from(MEMBERS),
)
def test_any_extension_of_the_armored_base64_is_refused(
    position: int, extra: str, reader: str
) -> None:
    assert _dearmor_and_open(ARMORED[:position] + extra + ARMORED[position:], reader) is None


@FEW
@given(
    width=st.integers(min_value=4, max_value=120),
    quote=st.sampled_from(["", "> ", ">> ", "> > "]),
    newline=st.sampled_from(["\r\n", "\n"]),
    trailer=st.text(max_size=20).filter(lambda t: "CLOSEDSET" not in t),
)
def test_armor_survives_rewrapping_and_quoting_and_text_after_it(
    width: int, quote: str, newline: str, trailer: str
) -> None:
    lines = ARMORED.split("\r\n")
    payload = "".join(lines[1:-2])
    rewrapped = [payload[i : i + width] for i in range(0, len(payload), width)]
    text = newline.join(quote + line for line in [lines[0], *rewrapped, lines[-2]])
    assert _dearmor_and_open("Dear Ann,\n" + text + newline + trailer, "ben") == CANONICAL


# --- moved, re-addressed, re-signed, replayed ----------------------------------------------------


def _resign(envelope: Envelope, signer: nacl.signing.SigningKey) -> Envelope:
    unsigned = canonical_json(envelope._unsigned_json())
    return replace(envelope, signature=sig.sign(signer, sig.ENVELOPE_OUTER, unsigned))


def _refused_as(envelope: Envelope, reader: str) -> KeysError:
    try:
        _open_as(envelope.to_bytes(), reader)
    except KeysError as exc:
        return exc
    pytest.fail("The changed envelope was accepted.")


@FEW
@given(thread=st.binary(min_size=16, max_size=16), reader=st.sampled_from(MEMBERS))
def test_an_envelope_moved_to_any_other_thread_is_refused(thread: bytes, reader: str) -> None:
    assume(thread != THREAD)
    envelope = SEALED.envelope
    moved = replace(envelope, context=replace(envelope.context, thread=thread))
    assert type(_refused_as(moved, reader)) is SignatureError


@FEW
@given(prev=st.none() | st.binary(min_size=32, max_size=32), reader=st.sampled_from(MEMBERS))
def test_an_envelope_replayed_with_any_other_previous_hash_is_refused(
    prev: bytes | None, reader: str
) -> None:
    envelope = _CHAINED.envelope
    assume(prev != envelope.context.prev)
    replayed = replace(envelope, context=replace(envelope.context, prev=prev))
    assert type(_refused_as(replayed, reader)) is SignatureError


@FEW
@given(
    members=st.sets(st.sampled_from(sorted(PEOPLE)), min_size=1),
    reader=st.sampled_from(MEMBERS),
)
def test_an_envelope_re_addressed_to_any_other_set_of_people_is_refused(
    members: set[str], reader: str
) -> None:
    assume(members != set(MEMBERS) and "ann" in members)
    envelope = SEALED.envelope
    # A member knows the message key, so every new recipient gets a correctly wrapped key.
    wrapped = dict(zip(envelope.context.recipients, envelope.wrapped_keys, strict=True))
    chosen = sorted(PEOPLE[n][2] for n in members)
    pairs = [(r, wrapped.get(r) or _wrap_key(SEALED.message_key, r.device)) for r in chosen]
    readdressed = replace(
        envelope,
        context=replace(envelope.context, recipients=tuple(r for r, _ in pairs)),
        wrapped_keys=tuple(k for _, k in pairs),
    )
    opener = reader if reader in members else "ann"
    assert type(_refused_as(readdressed, opener)) is SignatureError


@pytest.mark.parametrize("member", ["ben", "cal"])
@pytest.mark.parametrize("swap_sender", [False, True])
def test_an_envelope_re_signed_by_another_member_is_refused(member: str, swap_sender: bool) -> None:
    envelope = SEALED.envelope
    if swap_sender:
        sender = PEOPLE[member][2].identity
        envelope = replace(envelope, context=replace(envelope.context, sender=sender))
    forged = _resign(envelope, PEOPLE[member][0])
    for reader in MEMBERS:
        error = _refused_as(forged, reader)
        # Without the swap the outer signature fails; with it, the AEAD binds the real sender.
        assert type(error) is (DecryptionError if swap_sender else SignatureError)


@FEW
@given(reader=st.sampled_from(["dee", "mallory"]))
def test_a_third_party_who_is_not_a_recipient_cannot_open_it(reader: str) -> None:
    assert type(_refused_as(SEALED.envelope, reader)) is NotARecipientError


# --- selective disclosure ------------------------------------------------------------------------


@FEW
@given(first=st.binary(max_size=200), second=st.binary(max_size=200))
def test_a_disclosed_message_key_opens_exactly_its_own_envelope(
    first: bytes, second: bytes
) -> None:
    a = _seal(first)
    b = _seal(second, prev=a.envelope.hash)
    assert open_with_message_key(a.envelope, a.message_key).plaintext == first
    assert open_with_message_key(b.envelope, b.message_key).plaintext == second
    for envelope, key in ((a.envelope, b.message_key), (b.envelope, a.message_key)):
        with pytest.raises(DecryptionError) as caught:
            open_with_message_key(envelope, key)
        assert type(caught.value) is DecryptionError


@settings(max_examples=50)
@given(st.binary(max_size=200), st.integers(min_value=1, max_value=5))
def test_context_bytes_cut_from_a_parsed_envelope_equal_its_encoding(
    plaintext: bytes, others: int
) -> None:
    sender = nacl.signing.SigningKey.generate()
    people = [sender] + [nacl.signing.SigningKey.generate() for _ in range(others)]
    recipients = [
        Recipient(bytes(p.verify_key), bytes(nacl.public.PrivateKey.generate().public_key))
        for p in people
    ]
    sealed = seal(
        plaintext,
        sender=sender,
        recipients=recipients,
        thread=THREAD,
        prev=hashlib.sha256(plaintext).digest() if others % 2 else None,
        purpose="closedset/test-cut/v1",
    ).envelope
    parsed = Envelope.from_bytes(sealed.to_bytes())
    assert parsed.context.to_bytes() == canonical_json(parsed.context.to_json())
