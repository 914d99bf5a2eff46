"""Test-side helpers for email: people with addresses, a relay with its SMTP listener on real
sockets, the message shapes senders produce, and the replies of smtplib and swaks.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import nacl.signing
from aiohttp.test_utils import TestServer

from keys import armor
from keys.envelope import Envelope
from keys.identity import DeviceKeyPair, certify_device, make_identity_record
from keys.mailparts import ATTACHMENT_NAME, ENVELOPE_MEDIA_TYPE, thread_local_part
from relay.app import create_app
from relay.mail.config import load_mail_config
from relay.mail.runtime import MAIL
from tests.relay.api_support import START, Api, FakeClock, Person, small_config
from tests.relay.conftest import DbTarget

DOMAIN = "relay.mail.test"


def person(name: str, role: str, email: str | None = None) -> Person:
    """A Person whose identity record carries ``email`` (where the relay delivers mail)."""
    key = nacl.signing.SigningKey.generate()
    device = DeviceKeyPair.generate()
    now = START - 60
    records = [
        make_identity_record(key, name=name, role=role, email=email, issued_at=now),  # type: ignore[arg-type]
        certify_device(key, device.public, issued_at=now),
    ]
    return Person(name, role, key, device, records)


def address(thread: bytes) -> str:
    return f"{thread_local_part(thread)}@{DOMAIN}"


@dataclass
class MailRelay:
    api: Api
    smtp_port: int
    app: Any


@asynccontextmanager
async def mail_relay(
    target: DbTarget,
    tmp_path: Path,
    clock: Any = None,
    mail: dict[str, Any] | None = None,
    **limits: Any,
) -> AsyncIterator[MailRelay]:
    """The relay (HTTP and SMTP on port 0) over ``target``, with ``[mail]`` settings."""
    clock = clock or FakeClock()
    config = small_config(tmp_path, **limits)
    config = replace(
        config,
        smtp_host="127.0.0.1",
        smtp_port=0,
        mail=load_mail_config({"domain": DOMAIN, **(mail or {})}, {}),
    )
    app = create_app(config, clock=clock, engine=target.make_engine())
    server = TestServer(app, port=0)
    await server.start_server()
    try:
        smtp = app[MAIL].smtp_address
        assert smtp is not None
        async with aiohttp.ClientSession() as http:
            yield MailRelay(Api(http, str(server.make_url("")).rstrip("/"), clock), smtp[1], app)
    finally:
        await server.close()


# --- what senders send ----------------------------------------------------------------------


def _message(to: str, subject: str = "Closed Set") -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = "someone@sender.test"
    message["To"] = to
    message["Subject"] = subject
    return message


def attached(envelope: Envelope, to: str) -> bytes:
    """What the client sends: generic text, the armored envelope as envelope.asc."""
    message = _message(to)
    message.set_content("An encrypted Closed Set envelope is attached.\n")
    maintype, subtype = ENVELOPE_MEDIA_TYPE.split("/")
    message.add_attachment(
        armor.armor(envelope.to_bytes(), armor.ENVELOPE).encode(),
        maintype=maintype,
        subtype=subtype,
        filename=ATTACHMENT_NAME,
        cte="7bit",
    )
    return message.as_bytes()


def raw_attachment(envelope: Envelope, to: str) -> bytes:
    """The canonical bytes themselves, base64 in an application/vnd.closedset.envelope part."""
    message = _message(to)
    message.set_content("Envelope attached.\n")
    maintype, subtype = ENVELOPE_MEDIA_TYPE.split("/")
    message.add_attachment(envelope.to_bytes(), maintype=maintype, subtype=subtype)
    return message.as_bytes()


def in_body(text: str, to: str) -> bytes:
    message = _message(to)
    message.set_content(text, cte="7bit" if text.isascii() else "8bit")
    return message.as_bytes()


def rewrapped(envelope: Envelope) -> str:
    """Armor as a mail client re-flowing paragraphs leaves it: lines of 40, spaces added."""
    text = armor.armor(envelope.to_bytes(), armor.ENVELOPE)
    begin, *body, end = [line for line in text.splitlines() if line]
    joined = "".join(body)
    lines = [joined[i : i + 40] + " " for i in range(0, len(joined), 40)]
    return "Here it is:\n\n" + "\n".join([begin, *lines, end]) + "\n\nThanks!\n"


def quoted(envelope: Envelope) -> str:
    text = armor.armor(envelope.to_bytes(), armor.ENVELOPE)
    return "On Monday you wrote:\n" + "".join(f"> {line}\n" for line in text.splitlines())


# --- SMTP clients ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """The reply that decided a transaction: the stage it came at, the code and the text."""

    stage: str
    code: int
    text: str

    @property
    def line(self) -> str:
        return f"{self.code} {self.text}"


def smtplib_send(port: int, rcpts: list[str], data: bytes) -> Outcome:
    """Drive smtplib command by command (no SIZE), so DATA sees every refusal."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("client.test")
        code, text = smtp.mail("someone@sender.test")
        if code != 250:
            return Outcome("MAIL", code, text.decode())
        accepted = 0
        last = Outcome("RCPT", 0, "")
        for rcpt in rcpts:
            code, text = smtp.rcpt(rcpt)
            last = Outcome("RCPT", code, text.decode())
            accepted += code == 250
            if code != 250 and not accepted:
                return last
        try:
            code, text = smtp.data(data)
        except smtplib.SMTPDataError as exc:
            return Outcome("DATA", exc.smtp_code, exc.smtp_error.decode())
        return Outcome("DATA", code, text.decode())


async def smtplib_async(port: int, rcpts: list[str], data: bytes) -> Outcome:
    # The relay runs in this loop; the blocking client must not.
    return await asyncio.to_thread(smtplib_send, port, rcpts, data)


_SWAKS_REPLY = re.compile(r"^<(?:-|\*\*) +(\d{3})[ -](.*)$")


async def swaks_send(port: int, rcpt: str, data: bytes, tmp_path: Path) -> Outcome:
    """swaks from Debian; the outcome is its last server reply (the one that decided)."""
    path = tmp_path / "swaks-message.eml"
    path.write_bytes(data)
    process = await asyncio.create_subprocess_exec(
        "swaks",
        "--server",
        "127.0.0.1",
        "--port",
        str(port),
        "--from",
        "someone@sender.test",
        "--to",
        rcpt,
        "--helo",
        "client.test",
        "--data",
        f"@{path}",
        "--timeout",
        "30",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    replies = [
        m
        for line in output.decode(errors="replace").splitlines()
        if (m := _SWAKS_REPLY.match(line))
    ]
    stage = "DATA"
    for match in replies:
        if match.group(1).startswith(("4", "5")):
            return Outcome(stage, int(match.group(1)), match.group(2))
    # No refusal: the reply to the end of DATA is the one before QUIT's 221.
    decisive = [m for m in replies if m.group(1) != "221"]
    assert decisive, f"swaks exited {process.returncode} without a reply:\n{output.decode()}"
    decisive_line = decisive[-1]
    return Outcome(stage, int(decisive_line.group(1)), decisive_line.group(2))
