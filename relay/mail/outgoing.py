"""The message that carries one envelope to one member: RFC 5322 headers, a generic text, and
the armored envelope attached as ``envelope.asc``. Pure and deterministic: the same row always
gives the same bytes, so a retried delivery is the identical message.

Nothing in the headers or the text names a scene, a person or an act (docs/email.md, "Egress").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from keys import armor
from keys.mailparts import ATTACHMENT_NAME, ENVELOPE_MEDIA_TYPE

SUBJECT = "Closed Set: new encrypted message"
TEXT = (
    "You have a new end-to-end encrypted message in Closed Set.\n"
    "\n"
    "It is attached as envelope.asc. Only the Closed Set client can open it:\n"
    "run `closedset mail sync`, or save this email and run\n"
    "`closedset mail import FILE`. This email service, and the relay that\n"
    "sent it, cannot read it.\n"
)


def build_delivery(
    *,
    envelope_body: bytes,
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
    maintype, subtype = ENVELOPE_MEDIA_TYPE.split("/")
    message.add_attachment(
        armor.armor(envelope_body, armor.ENVELOPE).encode("ascii"),
        maintype=maintype,
        subtype=subtype,
        filename=ATTACHMENT_NAME,
        cte="7bit",
    )
    # A random MIME boundary would make each attempt differ; "=_" never occurs in base64.
    message.set_boundary("=_closedset_" + hashlib.sha256(message_id.encode()).hexdigest()[:24])
    return message.as_bytes()
