"""``closedset send --via smtp``, ``closedset mail import`` and ``closedset mail sync``: the
email transport on the person's side (docs/email.md, "Client").
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
from collections.abc import Mapping
from pathlib import Path

import nacl.signing

from client.cli.context import Context, table
from client.cli.registry import Command, add_command
from client.errors import UsageError
from client.mail.compose import compose, thread_address
from client.mail.imap import sync
from client.mail.inbox import Imported, Inbox
from client.mail.settings import (
    IMAP_PASSWORD_ENV,
    SMTP_PASSWORD_ENV,
    imap_settings,
    smtp_settings,
)
from client.mail.sources import messages
from client.mail.submit import Route, submit
from client.profile import Profile
from client.relay_client import RelayClient
from client.scenes import RelayPins, SceneBook
from keys import armor
from keys.encoding import b64u_encode
from keys.envelope import Envelope


def _password(ctx: Context, variable: str, prompt: str) -> str:
    if ctx.environ.get(variable):
        return ctx.environ[variable]
    if not (ctx.stdin.isatty() and os.isatty(0)):
        raise UsageError(f"A mail password is needed: set {variable}.")
    return getpass.getpass(prompt)


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"{text!r} is not HOST:PORT, such as 127.0.0.1:2525.")
    return host.strip("[]"), int(port)


def _read_envelope(ctx: Context, source: str) -> Envelope:
    if source == "-":
        text = ctx.stdin.read()
    else:
        try:
            text = Path(source).read_text("utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"Cannot read {source}: {exc.strerror}.") from exc
    blocks = armor.find_armored(text, armor.ENVELOPE)
    if len(blocks) != 1:
        raise UsageError(f"Expected one CLOSEDSET ENVELOPE block in {source}, found {len(blocks)}.")
    return Envelope.from_bytes(blocks[0]).verify_outer()


async def _ingress_key(ctx: Context, envelope: Envelope, relay: str | None) -> bytes:
    """The relay's mail ingress key, checked against the log key pinned for that relay."""
    if relay is None:
        thread = b64u_encode(envelope.context.thread)
        urls = {s.relay for s in SceneBook(ctx.home) if s.thread == thread}
        if len(urls) != 1:
            raise UsageError(
                "Give --relay URL (the relay's web address): mail is sealed to its ingress key."
            )
        relay = urls.pop()
    pins = RelayPins(ctx.home)
    # The key is public and the request unsigned: a throwaway key stands in for ours.
    async with RelayClient(
        relay,
        nacl.signing.SigningKey.generate(),
        pinned_log_key=pins.get(relay),
        on_pin=lambda key: pins.pin(relay, key),
    ) as client:
        return await client.mail_ingress_key()


def send_command(ctx: Context, args: argparse.Namespace) -> int:
    envelope = _read_envelope(ctx, args.file)
    settings = smtp_settings(ctx.home)
    domain = args.relay_domain or (settings.relay_domain if settings else None)
    if args.to:
        to = args.to
    elif domain:
        to = thread_address(envelope, domain)
    else:
        raise UsageError("Give --relay-domain DOMAIN (or [smtp] relay_domain in config.toml).")
    if args.relay_smtp:
        host, port = _host_port(args.relay_smtp)
        route = Route(host, port, "starttls" if args.starttls else "none")
    elif settings is not None:
        password = None
        if settings.user:
            password = _password(ctx, SMTP_PASSWORD_ENV, f"Password for {settings.user}: ")
        route = Route(settings.host, settings.port, settings.security, settings.user, password)
    else:
        raise UsageError(
            f"Add an [smtp] table to {ctx.home / 'config.toml'}, or give --relay-smtp HOST:PORT."
        )
    sender = args.sender or (settings.from_address or settings.user if settings else None)
    if not sender:
        sender = Profile.load(ctx.home).history.email
    if not sender:
        raise UsageError("Give --from ADDRESS (or [smtp] from in config.toml).")
    ingress_key = asyncio.run(_ingress_key(ctx, envelope, args.relay))
    reply = submit(
        route,
        sender=sender,
        recipient=to,
        message=compose(envelope, ingress_key=ingress_key, from_address=sender, to_address=to),
    )
    data = {
        "hash": envelope.hash.hex(),
        "to": to,
        "via": f"{route.host}:{route.port}",
        "reply": reply,
    }
    ctx.emit(data, f"Sent envelope {envelope.hash.hex()[:16]} to {to}: {reply}")
    return 0


def _inbox(ctx: Context, args: argparse.Namespace) -> Inbox:
    if args.no_open:
        return Inbox(ctx.home)
    return Inbox(ctx.home, ctx.unlocked_profile().device_keys())


def _report(ctx: Context, found: list[Imported], extra: Mapping[str, object]) -> int:
    new = sum(1 for item in found if item.status == "new")

    def human() -> str:
        if not found:
            return "No Closed Set envelopes found."
        rows = [
            [
                i.status,
                (i.hash or "-")[:16],
                i.thread or "-",
                "-" if i.opens is None else "yes" if i.opens else "no",
                i.source,
            ]
            for i in found
        ]
        text = table(["status", "hash", "thread", "opens", "source"], rows)
        notes = [f"{i.source}: {i.detail}" for i in found if i.detail]
        return "\n".join([text, *notes, f"{new} new envelope(s) in {ctx.home / 'inbox'}."])

    ctx.emit({**extra, "new": new, "envelopes": [i.to_json() for i in found]}, human)
    return 1 if any(i.status == "refused" for i in found) else 0


def import_command(ctx: Context, args: argparse.Namespace) -> int:
    inbox = _inbox(ctx, args)
    found: list[Imported] = []
    count = 0
    for name, raw in messages(Path(args.path)):
        found += inbox.import_message(raw, name)
        count += 1
    return _report(ctx, found, {"messages": count})


def sync_command(ctx: Context, args: argparse.Namespace) -> int:
    settings = imap_settings(ctx.home)
    inbox = _inbox(ctx, args)
    password = _password(ctx, IMAP_PASSWORD_ENV, f"IMAP password for {settings.user}: ")
    result = asyncio.run(sync(settings, password, inbox, ctx.home))
    extra = {
        "messages": result.messages,
        "uidvalidity": result.uidvalidity,
        "last_uid": result.last_uid,
    }
    return _report(ctx, result.imported, extra)


def _send_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="armored envelope (from `closedset seal`), or -")
    p.add_argument("--via", choices=["smtp"], default="smtp", help="transport (smtp)")
    p.add_argument("--relay-smtp", metavar="HOST:PORT", help="submit straight to the relay")
    p.add_argument("--starttls", action="store_true", help="with --relay-smtp: use STARTTLS")
    p.add_argument("--relay-domain", help="the relay's mail domain (thread addresses)")
    p.add_argument("--to", help="the thread's address, if not derived from the relay domain")
    p.add_argument(
        "--relay", metavar="URL", help="the relay's web address (default: the scene's relay)"
    )
    p.add_argument("--from", dest="sender", help="your address (default: [smtp] from)")


def _open_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-open", action="store_true", help="check signatures only, no passphrase")


def _import_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH")
    _open_argument(p)


for _command in [
    Command(
        ("send",),
        send_command,
        "Send an armored envelope to its thread's address by email (SMTP submission).",
        "closedset seal --to Ben --thread T | closedset send --via smtp -",
        _send_arguments,
    ),
    Command(
        ("mail", "import"),
        import_command,
        "Import every envelope in a .eml file, an mbox file or a Maildir into your inbox.",
        "closedset mail import ~/Mail/closedset.mbox",
        _import_arguments,
    ),
    Command(
        ("mail", "sync"),
        sync_command,
        "Import new envelopes from your IMAP folder ([imap] in config.toml) since the last sync.",
        "CLOSEDSET_IMAP_PASSWORD=... closedset mail sync --json",
        _open_argument,
    ),
]:
    add_command(_command)
