"""``closedset seal`` and ``closedset open``: one envelope at a time, through stdin and stdout."""

from __future__ import annotations

import argparse
from typing import Any

from client.cli.context import Context
from client.cli.registry import Command, add_command
from client.contacts import Contacts
from client.errors import UsageError
from client.profile import CONTACTS_FILE
from keys import armor
from keys.encoding import b64u_decode, b64u_encode
from keys.envelope import (
    HASH_SIZE,
    THREAD_ID_SIZE,
    Envelope,
    Opened,
    Recipient,
    open_envelope,
    seal,
)
from keys.errors import DecryptionError
from keys.identity import Fingerprint
from keys.randomness import random_bytes

# Free text outside any scene; scene statements travel as closedset/scene/v1.
DEFAULT_PURPOSE = "closedset/note/v1"


def seal_command(ctx: Context, args: argparse.Namespace) -> int:
    profile = ctx.unlocked_profile()
    book = Contacts.load(ctx.home / CONTACTS_FILE)
    recipients: list[Recipient] = list(profile.own_recipients())
    names = []
    for query in args.to:
        contact = book.find(query)
        devices = contact.history.current_devices()
        if not devices:
            raise UsageError(f"{contact.name} has no valid device key; ask for a fresh export.")
        if not contact.verified:
            ctx.note(f"Note: {contact.name} is not verified yet (`closedset contacts verify`).")
        recipients.extend(Recipient(contact.history.identity_key, d) for d in devices)
        names.append(contact.name)
    thread = (
        b64u_decode(args.thread, length=THREAD_ID_SIZE, what="thread id")
        if args.thread
        else random_bytes(THREAD_ID_SIZE)
    )
    prev = b64u_decode(args.prev, length=HASH_SIZE, what="previous hash") if args.prev else None
    plaintext = (
        ctx.stdin.buffer.read() if hasattr(ctx.stdin, "buffer") else ctx.stdin.read().encode()
    )
    opened = seal(
        plaintext,
        sender=profile.signing_key(),
        recipients=recipients,
        thread=thread,
        prev=prev,
        purpose=args.purpose,
    )
    text = armor.armor(opened.envelope.to_bytes(), armor.ENVELOPE)
    ctx.emit(
        {
            "armored": text,
            "hash": opened.envelope.hash.hex(),
            "thread": b64u_encode(thread),
            "recipients": names,
        },
        text.replace("\r\n", "\n").rstrip("\n"),
    )
    return 0


def describe_sender(opened: Opened, book: Contacts, own_key: bytes) -> dict[str, Any]:
    fingerprint = Fingerprint.of(opened.sender)
    if opened.sender == own_key:
        return {
            "name": "you",
            "fingerprint": fingerprint.grouped(),
            "known": True,
            "verified": True,
        }
    contact = book.get(opened.sender)
    return {
        "name": contact.name if contact else None,
        "fingerprint": fingerprint.grouped(),
        "known": contact is not None,
        "verified": bool(contact and contact.verified),
    }


def open_command(ctx: Context, args: argparse.Namespace) -> int:
    profile = ctx.unlocked_profile()
    blocks = armor.find_armored(ctx.stdin.read(), armor.ENVELOPE)
    if len(blocks) != 1:
        raise UsageError(
            f"Expected one CLOSEDSET ENVELOPE block on standard input, found {len(blocks)}."
        )
    envelope = Envelope.from_bytes(blocks[0])
    opened = None
    for device in profile.device_keys():
        try:
            opened = open_envelope(envelope, device)
            break
        except DecryptionError:
            continue
    if opened is None:
        raise DecryptionError(
            "This envelope was not encrypted to you; none of your device keys opens it."
        )
    sender = describe_sender(opened, Contacts.load(ctx.home / CONTACTS_FILE), profile.identity_key)
    try:
        text = opened.plaintext.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    data = {
        "plaintext": text,
        "plaintext_b64u": b64u_encode(opened.plaintext),
        "sender": sender,
        "thread": b64u_encode(envelope.context.thread),
        "purpose": envelope.context.purpose,
        "prev": envelope.context.prev.hex() if envelope.context.prev else None,
        "hash": envelope.hash.hex(),
    }

    def human() -> str:
        who = sender["name"] or "an unknown person"
        status = (
            "verified"
            if sender["verified"]
            else ("NOT verified" if sender["known"] else "not in your contacts")
        )
        head = f"Signed by {who} ({sender['fingerprint']}), {status}."
        body = (
            text
            if text is not None
            else f"[{len(opened.plaintext)} bytes of binary data; use --json]"
        )
        return f"{head}\n\n{body}"

    ctx.emit(data, human)
    return 0


for _command in [
    Command(
        ("seal",),
        seal_command,
        "Encrypt standard input to contacts (and your own devices); print the armored envelope.",
        "echo 'Call time moved to 9:00' | closedset seal --to Ana --to 'Ben Okafor' > note.asc",
        lambda p: (
            p.add_argument(
                "--to",
                action="append",
                required=True,
                metavar="CONTACT",
                help="fingerprint or unique name; repeat for several people",
            ),
            p.add_argument("--thread", help="thread id (base64url, 16 bytes); new if omitted"),
            p.add_argument("--prev", help="base64url hash of the previous envelope in the thread"),
            p.add_argument("--purpose", default=DEFAULT_PURPOSE, help="purpose tag of the content"),
        ),
    ),
    Command(
        ("open",),
        open_command,
        "Decrypt an armored envelope from standard input and say who signed it.",
        "closedset open < note.asc",
    ),
]:
    add_command(_command)
