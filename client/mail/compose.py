"""The message a person sends to a thread's address: a generic subject and text, and the
envelope sealed to the relay's mail ingress key (``keys.mailseal``), armored and attached as
``message.asc``. Nothing in it names a scene, person or act, and no identity key is visible:
the person's own mail provider sees a padded, anonymous ciphertext (docs/email.md).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from keys import armor
from keys.envelope import Envelope
from keys.mailparts import SEALED_ATTACHMENT_NAME, SEALED_MEDIA_TYPE, thread_local_part
from keys.mailseal import seal_for

SUBJECT = "Closed Set: encrypted message"
TEXT = (
    "This message carries an end-to-end encrypted Closed Set envelope\n"
    "(message.asc). Only the Closed Set relay can open it.\n"
)


def thread_address(envelope: Envelope, relay_domain: str) -> str:
    return f"{thread_local_part(envelope.context.thread)}@{relay_domain}"


def compose(envelope: Envelope, *, ingress_key: bytes, from_address: str, to_address: str) -> bytes:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = from_address
    message["To"] = to_address
    message["Subject"] = SUBJECT
    message["Date"] = format_datetime(datetime.fromtimestamp(time.time(), UTC))
    message["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or None)
    message.set_content(TEXT)
    maintype, subtype = SEALED_MEDIA_TYPE.split("/")
    message.add_attachment(
        armor.armor(seal_for(envelope.to_bytes(), [ingress_key]), armor.SEALED).encode("ascii"),
        maintype=maintype,
        subtype=subtype,
        filename=SEALED_ATTACHMENT_NAME,
        cte="7bit",
    )
    return message.as_bytes()
