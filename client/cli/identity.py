"""``closedset id ...`` and ``closedset contacts ...``: your identity and the people you know."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from client.cli.context import Context, table
from client.cli.registry import Command, add_command
from client.contacts import Contact, Contacts
from client.errors import UsageError
from client.profile import CONTACTS_FILE, KEYSTORE_FILE, Profile, restore_public_history
from keys import armor
from keys.identity import ROLES, KeyHistory, decode_history, safety_number
from keys.keystore import Keystore, write_private_file


def history_json(history: KeyHistory) -> dict[str, Any]:
    return {
        "name": history.name,
        "role": history.role,
        "email": history.email,
        "fingerprint": history.fingerprint.grouped(),
        "devices": [d.hex() for d in history.current_devices()],
        "revoked": history.revoked_at is not None,
    }


# --- id -------------------------------------------------------------------------------------


def id_new(ctx: Context, args: argparse.Namespace) -> int:
    passphrase = ctx.passphrase(confirm=True, prompt="Choose a passphrase for your keys: ")
    profile = Profile.create(
        ctx.home, passphrase, name=args.name, role=args.role, email=args.email, now=ctx.now()
    )
    data = history_json(profile.history) | {"home": str(ctx.home)}
    ctx.emit(
        data,
        lambda: (
            f"Created the identity of {profile.history.name} ({profile.history.role})"
            f" in {ctx.home}.\n"
            f"Fingerprint: {profile.history.fingerprint}\n"
            "Share it with `closedset id export > me.asc`."
        ),
    )
    return 0


def id_show(ctx: Context, args: argparse.Namespace) -> int:
    history = Profile.load(ctx.home).history
    data = history_json(history)
    ctx.emit(
        data,
        lambda: "\n".join(
            [
                f"Name:        {history.name}",
                f"Role:        {history.role}",
                f"Email:       {history.email or '-'}",
                f"Fingerprint: {history.fingerprint}",
                f"Devices:     {len(history.current_devices())} current",
            ]
        ),
    )
    return 0


def id_export(ctx: Context, args: argparse.Namespace) -> int:
    history = Profile.load(ctx.home).history
    text = armor.armor(history.to_bytes(), armor.IDENTITY)
    ctx.emit({"armored": text, **history_json(history)}, text.replace("\r\n", "\n"))
    return 0


def id_passphrase(ctx: Context, args: argparse.Namespace) -> int:
    profile = ctx.unlocked_profile()
    assert profile.keystore is not None
    new = (
        ctx.passphrase(confirm=True, prompt="New passphrase: ")
        if not args.new_passphrase_file
        else (Path(args.new_passphrase_file).read_text(encoding="utf-8").rstrip("\r\n").encode())
    )
    profile.keystore.change_passphrase(new)
    ctx.emit({"changed": True}, "The passphrase is changed.")
    return 0


def id_backup(ctx: Context, args: argparse.Namespace) -> int:
    passphrase = ctx.passphrase()
    profile = Profile.load(ctx.home).unlock(passphrase)
    assert profile.keystore is not None
    # The backup is sealed under the same passphrase, so restoring needs nothing new.
    write_private_file(Path(args.out), profile.keystore.export_backup(passphrase).encode("ascii"))
    ctx.emit({"out": args.out}, f"Wrote an encrypted backup of your keys to {args.out}.")
    return 0


def id_restore(ctx: Context, args: argparse.Namespace) -> int:
    if (ctx.home / KEYSTORE_FILE).exists():
        raise UsageError(f"{ctx.home} already holds an identity; restore into an empty --home.")
    text = ctx.read_text(args.file)
    passphrase = ctx.passphrase()
    keystore = Keystore.import_backup(text, passphrase, ctx.home / KEYSTORE_FILE, passphrase)
    restore_public_history(ctx.home, keystore)
    ctx.emit({"restored": str(ctx.home)}, f"Restored the keys into {ctx.home}.")
    return 0


# --- contacts ---------------------------------------------------------------------------------


def _contacts(ctx: Context) -> Contacts:
    return Contacts.load(ctx.home / CONTACTS_FILE)


def contact_json(contact: Contact) -> dict[str, Any]:
    return history_json(contact.history) | {"verified": contact.verified}


def contacts_add(ctx: Context, args: argparse.Namespace) -> int:
    me = Profile.load(ctx.home)
    blocks = armor.find_armored(ctx.read_text(args.file), armor.IDENTITY)
    if len(blocks) != 1:
        raise UsageError(
            f"Expected one CLOSEDSET IDENTITY block in {args.file}, found {len(blocks)}."
        )
    history = decode_history(blocks[0])
    if history.identity_key == me.identity_key:
        raise UsageError("That is your own identity; add the other person's export instead.")
    book = _contacts(ctx)
    result = book.add(history)
    book.save()
    number = safety_number(me.identity_key, history.identity_key)
    data = contact_json(result.contact) | {"outcome": result.outcome, "safety_number": number}
    lines = [
        f"{result.outcome.capitalize()}: {history.name} ({history.role}), {history.fingerprint}"
    ]
    if result.outcome == "key-changed" and result.replaced is not None:
        lines.insert(
            0,
            f"WARNING: {history.name} now has a different key than before "
            f"({result.replaced.fingerprint}). It is NOT verified; compare safety numbers again.",
        )
    lines.append(f"Safety number: {number}")
    lines.append(
        f"Compare it with {history.name}, then run "
        f"`closedset contacts verify {history.fingerprint.compact}`."
    )
    ctx.emit(data, "\n".join(lines))
    return 0


def contacts_list(ctx: Context, args: argparse.Namespace) -> int:
    book = _contacts(ctx)
    items = list(book)
    ctx.emit(
        [contact_json(c) for c in items],
        lambda: (
            table(
                ["name", "role", "fingerprint", "verified"],
                [
                    [c.name, c.history.role, c.fingerprint, "yes" if c.verified else "no"]
                    for c in items
                ],
            )
            if items
            else "No contacts yet; add one with `closedset contacts add FILE`."
        ),
    )
    return 0


def contacts_verify(ctx: Context, args: argparse.Namespace) -> int:
    me = Profile.load(ctx.home)
    book = _contacts(ctx)
    contact = book.find(args.contact)
    number = safety_number(me.identity_key, contact.history.identity_key)
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "Confirm with --yes once you have compared the safety number "
                f"{number} with {contact.name}."
            )
        ctx.stderr.write(f"Safety number with {contact.name}:\n  {number}\n")
        ctx.stderr.write("Does it match what they read to you? [y/N] ")
        ctx.stderr.flush()
        if ctx.stdin.readline().strip().lower() not in {"y", "yes"}:
            raise UsageError(f"Not verified: {contact.name} stays unverified.")
    verified = book.mark_verified(contact.history.identity_key)
    book.save()
    ctx.emit(
        contact_json(verified) | {"safety_number": number},
        f"Verified {verified.name} ({verified.fingerprint}).",
    )
    return 0


COMMANDS = [
    Command(
        ("id", "new"),
        id_new,
        "Create your identity (an Ed25519 key and one device key) in the profile.",
        "closedset id new --name 'Ana Ruiz' --role performer --email ana@example.org",
        lambda p: (
            p.add_argument("--name", required=True, help="your name as others will see it"),
            p.add_argument("--role", required=True, choices=ROLES, help="your role in productions"),
            p.add_argument("--email", help="where the relay may deliver your envelopes"),
        ),
    ),
    Command(("id", "show"), id_show, "Show your identity and fingerprint.", "closedset id show"),
    Command(
        ("id", "export"),
        id_export,
        "Print your public identity record, armored, to give to others.",
        "closedset id export > ana.asc",
    ),
    Command(
        ("id", "passphrase"),
        id_passphrase,
        "Change the passphrase that protects your private keys.",
        "closedset id passphrase",
        lambda p: p.add_argument("--new-passphrase-file", help="read the new passphrase from FILE"),
    ),
    Command(
        ("id", "backup"),
        id_backup,
        "Write an encrypted backup of your private keys.",
        "closedset id backup --out keys-backup.asc",
        lambda p: p.add_argument("--out", required=True, help="where to write the backup"),
    ),
    Command(
        ("id", "restore"),
        id_restore,
        "Restore private keys from a backup into an empty profile.",
        "closedset --home ~/new-profile id restore keys-backup.asc",
        lambda p: p.add_argument("file", help="the backup file, or - for standard input"),
    ),
    Command(
        ("contacts", "add"),
        contacts_add,
        "Add someone's exported identity to your contacts and show your safety number.",
        "closedset contacts add ana.asc",
        lambda p: p.add_argument("file", help="their `closedset id export` output, or -"),
    ),
    Command(("contacts", "list"), contacts_list, "List your contacts.", "closedset contacts list"),
    Command(
        ("contacts", "verify"),
        contacts_verify,
        "Mark a contact verified after comparing the safety number aloud.",
        "closedset contacts verify 'PALH 3FSN BBWC W5PD K7MI 3VXQ Z5JD BBCV'",
        lambda p: (
            p.add_argument("contact", help="fingerprint (any grouping) or unique name"),
            p.add_argument("--yes", action="store_true", help="the safety numbers matched"),
        ),
    ),
]

for _command in COMMANDS:
    add_command(_command)
