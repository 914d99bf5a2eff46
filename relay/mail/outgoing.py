"""The message that carries one envelope to one member: RFC 5322 headers, a generic text, and
the envelope sealed to the member's devices (``keys.mailseal``), armored and attached as
``message.asc``. The headers are the same on every retry (same Message-ID); the seal is drawn
afresh each time, and opens to the same envelope.

Nothing in the headers, the text or the attachment names a scene, a person or an act, and
nothing in it is an identity key: the envelope with its sender and recipients is inside the
seal (docs/email.md, "Sealed for the pipe").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from keys import armor
from keys.mailparts import SEALED_ATTACHMENT_NAME, SEALED_MEDIA_TYPE
from keys.mailseal import seal_for

SUBJECT = "Closed Set: new encrypted message"
TEXT = (
    "You have a new end-to-end encrypted message in Closed Set.\n"
    "\n"
    "It is attached as message.asc. Only the Closed Set client can open it:\n"
    "run `closedset mail sync`, or save this email and run\n"
    "`closedset mail import FILE`. This email service, and the relay that\n"
    "sent it, cannot read it.\n"
)


def build_delivery(
    *,
    envelope_body: bytes,
    devices: Sequence[bytes],
    from_address: str,
    to_address: str,
    message_id: str,
    in_reply_to: str | None,
    references: Sequence[str],
    created_ms: int,
) -> bytes:
    """The message as bytes with CRLF line ends, ready for SMTP."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = from_address
    message["To"] = to_address
    message["Subject"] = SUBJECT
    message["Date"] = format_datetime(datetime.fromtimestamp(created_ms / 1000, UTC))
    message["Message-ID"] = message_id
    if in_reply_to is not None:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    # RFC 3834: an automatic message, so vacation responders stay quiet.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(TEXT)
    maintype, subtype = SEALED_MEDIA_TYPE.split("/")
    message.add_attachment(
        armor.armor(seal_for(envelope_body, devices), armor.SEALED).encode("ascii"),
        maintype=maintype,
        subtype=subtype,
        filename=SEALED_ATTACHMENT_NAME,
        cte="7bit",
    )
    # A random MIME boundary would make each attempt differ; "=_" never occurs in base64.
    message.set_boundary("=_closedset_" + hashlib.sha256(message_id.encode()).hexdigest()[:24])
    return message.as_bytes()
