"""The whole negotiation by email only: an IC and two performers (profiles made with the CLI)
send each statement with ``closedset send --via smtp``; the relay admits it over SMTP and mails
it to the other members through the smarthost into their Dovecot mailboxes; each member runs
``closedset mail sync`` against IMAP and opens what arrived. Mail clients can thread it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import mailbox
import re
import time
from contextlib import redirect_stdout
from email.parser import BytesHeaderParser
from pathlib import Path

from client.cli.main import run
from client.mail.inbox import Inbox
from client.profile import Profile
from client.relay_client import RelayClient
from keys import armor
from keys.envelope import open_envelope, seal
from keys.invite import invite_id, join_proof
from keys.randomness import random_bytes
from tests.mail.dovecot import Dovecot, free_port
from tests.mail.smarthost import start_smarthost
from tests.mail.support import DOMAIN, mail_relay
from tests.relay.conftest import DbTarget

PASSPHRASE = "correct horse battery"


def cli(home: Path, *argv: str, **env: str) -> dict:
    """Run ``closedset`` in-process (in a worker thread: the relay shares our loop)."""
    out = io.StringIO()
    environ = {"CLOSEDSET_PASSPHRASE": PASSPHRASE, **env}
    with redirect_stdout(out):
        # Common options belong to the leaf command: after its one or two words.
        words = 1 if argv[0] == "send" else 2
        code = run([*argv[:words], "--home", str(home), "--json", *argv[words:]], environ)
    assert code == 0, (argv, out.getvalue())
    return json.loads(out.getvalue()) if out.getvalue().strip() else {}


async def test_a_negotiation_by_email_only(
    log_db: DbTarget, tmp_path: Path, dovecot: Dovecot
) -> None:
    dovecot.clear()
    people = {"ines": "ic", "ana": "performer", "ben": "performer"}
    homes = {name: tmp_path / name for name in people}
    for name, role in people.items():
        await asyncio.to_thread(
            cli,
            homes[name],
            "id",
            "new",
            "--name",
            name.title(),
            "--role",
            role,
            "--email",
            f"{name}@mail.test",
        )
    profiles = {n: Profile.load(h).unlock(PASSPHRASE.encode()) for n, h in homes.items()}

    port = free_port()
    controller, delivered = start_smarthost(dovecot.lmtp_port, port)
    mail = {
        "smarthost": f"127.0.0.1:{port}",
        "smarthost_security": "none",
        "retry_first": 0.2,
        "poll_interval": 0.2,
    }
    try:
        async with mail_relay(log_db, tmp_path, time.time, mail) as relay:
            # Registration and membership over HTTP; everything after this is email.
            thread = random_bytes(16)
            base = relay.api.base
            clients = {n: RelayClient(relay.api.base, p.signing_key()) for n, p in profiles.items()}
            for client in clients.values():
                await client.__aenter__()
            try:
                for name, profile in profiles.items():
                    await clients[name].register(profile.history)
                await clients["ines"].create_thread(thread)
                for name in ("ana", "ben"):
                    secret = random_bytes(32)
                    await clients["ines"].create_invite(
                        thread, invite_id(secret), int(time.time()) + 600
                    )
                    await clients[name].join(
                        thread,
                        invite_id(secret),
                        join_proof(secret, thread, profiles[name].identity_key),
                    )
            finally:
                for client in clients.values():
                    await client.__aexit__()

            everyone = [r for p in profiles.values() for r in p.own_recipients()]
            prev = None
            said: dict[str, bytes] = {}
            for turn, name in enumerate(("ines", "ana", "ben")):
                text = f"statement {turn} from {name}".encode()
                opened = seal(
                    text,
                    sender=profiles[name].signing_key(),
                    recipients=everyone,
                    thread=thread,
                    prev=prev,
                    purpose="closedset/test/note/v1",
                )
                path = homes[name] / f"out-{turn}.asc"
                path.write_text(armor.armor(opened.envelope.to_bytes(), armor.ENVELOPE))
                if name == "ana":  # through her own provider's settings in config.toml
                    (homes[name] / "config.toml").write_text(
                        f'[smtp]\nhost = "127.0.0.1"\nport = {relay.smtp_port}\nsecurity = "none"\n'
                        f'from = "ana@mail.test"\nrelay_domain = "{DOMAIN}"\n'
                    )
                    sent = await asyncio.to_thread(
                        cli, homes[name], "send", "--via", "smtp", str(path), "--relay", base
                    )
                else:
                    sent = await asyncio.to_thread(
                        cli,
                        homes[name],
                        "send",
                        "--via",
                        "smtp",
                        str(path),
                        "--relay-smtp",
                        f"127.0.0.1:{relay.smtp_port}",
                        "--relay-domain",
                        DOMAIN,
                        "--from",
                        f"{name}@mail.test",
                        "--relay",
                        base,
                    )
                assert sent["reply"] == "250 2.0.0 Envelope stored and logged."
                said[opened.envelope.hash.hex()] = text
                prev = opened.envelope.hash
            # Each statement goes to the two other members: six messages through the smarthost.
            await asyncio.to_thread(delivered.wait_for, 6)
    finally:
        controller.stop()

    for name, home in homes.items():
        with (home / "config.toml").open("a") as config:
            config.write(
                f'[imap]\nhost = "127.0.0.1"\nport = {dovecot.imap_port}\nsecurity = "none"\n'
                f'user = "{name}@mail.test"\n'
            )
        env = {"CLOSEDSET_IMAP_PASSWORD": f"pw-{name}"}
        synced = await asyncio.to_thread(cli, home, "mail", "sync", **env)
        assert synced["new"] == 2 and all(e["opens"] for e in synced["envelopes"])
        again = await asyncio.to_thread(cli, home, "mail", "sync", **env)
        assert again["messages"] == 0  # it remembered where it stopped
        devices = profiles[name].device_keys()
        for envelope in Inbox(home).envelopes():
            assert envelope.context.sender != profiles[name].identity_key
            assert open_envelope(envelope, devices[0]).plaintext == said[envelope.hash.hex()]

    # Ana's mail client threads the two messages: the second replies to the first.
    maildir = dovecot.root / "mail" / "ana@mail.test" / "Maildir"
    box = mailbox.Maildir(maildir, create=False)
    headers = [BytesHeaderParser().parsebytes(box.get_bytes(key)) for key in box.iterkeys()]
    assert [h["Subject"] for h in headers] == ["Closed Set: new encrypted message"] * 2
    first, second = sorted(headers, key=lambda h: h["In-Reply-To"] is not None)
    assert second["In-Reply-To"] == first["Message-ID"]
    imported = await asyncio.to_thread(cli, homes["ana"], "mail", "import", str(maildir))
    assert {e["status"] for e in imported["envelopes"]} == {"already"}

    # What Ana's provider holds: no identity key in any spelling, no name, no bare envelope.
    for key in box.iterkeys():
        raw = box.get_bytes(key)
        assert b"BEGIN CLOSEDSET SEALED MAIL" in raw
        assert b"BEGIN CLOSEDSET ENVELOPE" not in raw
        assert_no_identity(raw, profiles.values(), [n.title() for n in people])


def _spellings(key: bytes) -> list[bytes]:
    out = [key, key.hex().encode(), key.hex().upper().encode()]
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(key)
        out += [text, text.rstrip(b"=")]
    return out


def assert_no_identity(raw: bytes, profiles: object, names: list[str]) -> None:
    """Neither the raw mail, nor anything base64 inside it decoded once more (armor blocks,
    transfer encodings), holds an identity or device key, in hex or any base64, or a name."""
    layers = [raw]
    chunks = re.findall(rb"(?:[A-Za-z0-9+/]{16,}={0,2}\r?\n)+", raw)
    for chunk in chunks:
        try:
            layers.append(base64.b64decode(b"".join(chunk.split()), validate=True))
        except ValueError:
            continue
    # Names are looked for outside the base64 text (where a short name like "Ben" turns up by
    # chance) and in what it decodes to; keys (43+ characters) everywhere.
    text = raw
    for chunk in chunks:
        text = text.replace(chunk, b"\n")
    named = [text, *layers[1:]]
    for profile in profiles:  # type: ignore[attr-defined]
        keys = [profile.identity_key] + [r.device for r in profile.own_recipients()]
        for key in keys:
            for spelling in _spellings(key):
                assert not any(spelling in layer for layer in layers)
    for name in names:
        assert not any(name.encode() in layer for layer in named)
