"""The ingress use case: one mailed message becomes one admitted envelope, or a refusal.

Nothing here speaks SMTP: bytes and the thread id of the address in, a ``Posted`` out, or a
``relay.mail.errors`` / ``relay.errors`` exception. Admission is HTTP's own
(``relay.service.envelopes.post``) with the envelope's signer as the caller, because over
email the envelope's outer signature is what authenticates the sender.
"""

from __future__ import annotations

import nacl.public

from keys.envelope import Envelope
from keys.errors import ArmorError, DecryptionError, EncodingError, LimitError
from keys.mailparts import find_envelopes
from keys.mailseal import MailSealError, open_sealed
from relay.errors import TooLargeError
from relay.http.limits import TokenBuckets
from relay.mail.errors import (
    DamagedEnvelopeError,
    PlaintextMailError,
    RateLimitedError,
    SeveralEnvelopesError,
    WrongThreadError,
)
from relay.service import Backend
from relay.service.envelopes import Posted, post


def envelope_from_message(
    raw: bytes, ingress_key: nacl.public.PrivateKey | None = None
) -> tuple[bytes, Envelope]:
    """The one envelope a message carries (bare, or in a mail seal to ``ingress_key``): its
    canonical bytes and parsed (unverified) form."""
    try:
        found = find_envelopes(raw)
        envelopes = list(found.envelopes)
        for sealed in found.sealed:
            if ingress_key is None:
                raise DamagedEnvelopeError("a sealed envelope, but this relay has no ingress key")
            opened = open_sealed(sealed, [ingress_key])
            if opened not in envelopes:
                envelopes.append(opened)
    except (ArmorError, LimitError, DecryptionError, MailSealError) as exc:
        raise DamagedEnvelopeError(str(exc)) from exc
    if not envelopes:
        if found.mentions_armor:
            raise DamagedEnvelopeError("armor without a readable envelope")
        raise PlaintextMailError("no envelope in the message")
    if len(envelopes) > 1:
        raise SeveralEnvelopesError(len(envelopes))
    body = envelopes[0]
    try:
        return body, Envelope.from_bytes(body)
    except LimitError as exc:
        raise TooLargeError(str(exc)) from exc
    except EncodingError as exc:
        raise DamagedEnvelopeError(str(exc)) from exc


async def receive(
    backend: Backend,
    thread_id: bytes,
    raw: bytes,
    *,
    now: float,
    identity_limit: TokenBuckets | None = None,
) -> Posted:
    """Admit the envelope of ``raw`` into ``thread_id``; return only once it is logged."""
    body, envelope = envelope_from_message(raw, backend.mail_ingress_key)
    if envelope.context.thread != thread_id:
        raise WrongThreadError("the envelope names another thread")
    if identity_limit is not None:
        wait = identity_limit.take(envelope.context.sender, now)
        if wait is not None:
            raise RateLimitedError(wait, "sender")
    # ``post`` also pushes it to members online over WebSocket, exactly as a posted one.
    return await post(
        backend, envelope.context.sender, thread_id, body, int(now * 1000), parsed=envelope
    )
