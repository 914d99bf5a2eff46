"""The message a person sends to a thread's address: a generic subject and text, and the
armored envelope attached as ``envelope.asc``. Nothing in it names a scene, person or act.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from keys import armor
from keys.envelope import Envelope
from keys.mailparts import ATTACHMENT_NAME, ENVELOPE_MEDIA_TYPE, thread_local_part

SUBJECT = "Closed Set: encrypted message"
TEXT = (
    "This message carries an end-to-end encrypted Closed Set envelope\n"
    "(envelope.asc). Only the Closed Set client can open it.\n"
)


def thread_address(envelope: Envelope, relay_domain: str) -> str:
    return f"{thread_local_part(envelope.context.thread)}@{relay_domain}"


def compose(envelope: Envelope, *, from_address: str, to_address: str) -> bytes:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = from_address
    message["To"] = to_address
    message["Subject"] = SUBJECT
    message["Date"] = format_datetime(datetime.fromtimestamp(time.time(), UTC))
    message["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or None)
    message.set_content(TEXT)
    maintype, subtype = ENVELOPE_MEDIA_TYPE.split("/")
    message.add_attachment(
        armor.armor(envelope.to_bytes(), armor.ENVELOPE).encode("ascii"),
        maintype=maintype,
        subtype=subtype,
        filename=ATTACHMENT_NAME,
        cte="7bit",
    )
    return message.as_bytes()
