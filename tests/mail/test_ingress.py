"""SMTP ingress through real clients (smtplib and swaks), on SQLite and PostgreSQL: every
refusal gets its documented reply and leaves every table and the log exactly as they were;
every accepted shape (attachment, raw bytes, re-wrapped or quoted armor in the text) is 250.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from keys import armor
from keys.envelope import Envelope
from relay.mail import replies
from tests.mail.support import (
    DOMAIN,
    MailRelay,
    Outcome,
    address,
    attached,
    in_body,
    mail_relay,
    person,
    quoted,
    raw_attachment,
    rewrapped,
    smtplib_async,
    swaks_send,
)
from tests.relay.api_support import Person, open_thread, seal_to, snapshot
from tests.relay.conftest import DbTarget

SMALL = 64 * 1024  # the relay's message limit in these tests; an envelope is ~2 KiB


class Story:
    """An IC and a performer in thread A, an outsider, and a second thread B."""

    def __init__(self) -> None:
        self.ic, self.ana = person("Ines", "ic"), person("Ana", "performer")
        self.outsider = person("Otto", "performer")
        self.a = self.b = b""
        self.head: bytes | None = None

    async def open(self, relay: MailRelay) -> None:
        await relay.api.register(self.ic, self.ana, self.outsider)
        self.a = await open_thread(relay.api, self.ic, self.ana)
        self.b = await open_thread(relay.api, self.ic)

    def next(self, sender: Person | None = None, thread: bytes | None = None) -> Envelope:
        sender = sender or self.ana
        thread = thread or self.a
        others = [p for p in (self.ic, self.ana) if p is not sender]
        prev = self.head if thread == self.a else None
        return seal_to(sender, thread, others, prev, os.urandom(8))


def damaged_armor(envelope: Envelope) -> str:
    text = armor.armor(envelope.to_bytes(), armor.ENVELOPE)
    return text.replace(text.splitlines()[2], "!!!!" + text.splitlines()[2][4:])


def forged(envelope: Envelope) -> Envelope:
    return Envelope(
        envelope.context,
        envelope.nonce,
        envelope.ciphertext,
        envelope.wrapped_keys,
        bytes([envelope.signature[0] ^ 1]) + envelope.signature[1:],
    )


# name -> (recipients, message builder, expected reply line)
Refusal = tuple[Callable[[Story], list[str]], Callable[[Story], bytes], str]
REFUSALS: dict[str, Refusal] = {
    "plaintext": (
        lambda s: [address(s.a)],
        lambda s: in_body("Hi! My limits for Tuesday: ...\n", address(s.a)),
        replies.PLAINTEXT,
    ),
    "missing envelope (other attachment)": (
        lambda s: [address(s.a)],
        lambda s: attached_other(address(s.a)),
        replies.PLAINTEXT,
    ),
    "damaged armor": (
        lambda s: [address(s.a)],
        lambda s: in_body(damaged_armor(s.next()), address(s.a)),
        replies.DAMAGED,
    ),
    "malformed envelope bytes": (
        lambda s: [address(s.a)],
        lambda s: in_body(armor.armor(b'{"v":1}', armor.ENVELOPE), address(s.a)),
        replies.DAMAGED,
    ),
    "two envelopes": (
        lambda s: [address(s.a)],
        lambda s: in_body(
            armor.armor(s.next().to_bytes(), "ENVELOPE") * 1
            + armor.armor(s.next().to_bytes(), "ENVELOPE"),
            address(s.a),
        ),
        replies.SEVERAL.format(count=2),
    ),
    "forged signature": (
        lambda s: [address(s.a)],
        lambda s: attached(forged(s.next()), address(s.a)),
        "550 5.7.1 The relay refused this envelope: The envelope's outer signature",
    ),
    "non-member": (
        lambda s: [address(s.a)],
        lambda s: attached(seal_to(s.outsider, s.a, [s.ic], s.head), address(s.a)),
        replies.NOT_A_MEMBER,
    ),
    "wrong thread": (
        lambda s: [address(s.a)],
        lambda s: attached(s.next(s.ic, s.b), address(s.a)),
        replies.WRONG_THREAD,
    ),
    "unknown previous envelope": (
        lambda s: [address(s.a)],
        lambda s: attached(seal_to(s.ana, s.a, [s.ic], os.urandom(32)), address(s.a)),
        "550 5.7.1 The relay refused this envelope: The envelope's previous hash",
    ),
    "unknown thread": (
        lambda s: [address(os.urandom(16))],
        lambda s: attached(s.next(), address(s.a)),
        replies.UNKNOWN_THREAD,
    ),
    "not a thread address": (
        lambda s: [f"casting@{DOMAIN}"],
        lambda s: attached(s.next(), address(s.a)),
        replies.UNKNOWN_THREAD,
    ),
    "another domain": (
        lambda s: ["ana@example.org"],
        lambda s: attached(s.next(), "ana@example.org"),
        replies.FOREIGN,
    ),
    "oversized": (
        lambda s: [address(s.a)],
        lambda s: in_body("x" * 70 + "\n" * 1, address(s.a)) + (b"y" * 76 + b"\r\n") * 1000,
        replies.MESSAGE_TOO_LARGE.format(limit=SMALL),
    ),
}


def attached_other(to: str) -> bytes:
    from email import policy
    from email.message import EmailMessage

    message = EmailMessage(policy=policy.SMTP)
    message["From"], message["To"], message["Subject"] = "a@sender.test", to, "Photos"
    message.set_content("See the attached photo.\n")
    message.add_attachment(
        b"\x89PNG\r\n" + os.urandom(200), maintype="image", subtype="png", filename="set.png"
    )
    return message.as_bytes()


def _matches(outcome: Outcome, expected: str) -> bool:
    return outcome.line.startswith(expected)


async def test_every_refusal_has_its_reply_and_stores_nothing(
    log_db: DbTarget, tmp_path: Path
) -> None:
    story = Story()
    async with mail_relay(log_db, tmp_path, mail={"max_message_bytes": SMALL}) as relay:
        await story.open(relay)
        for name, (rcpts, build, expected) in REFUSALS.items():
            for client in ("smtplib", "swaks"):
                before = await snapshot(log_db)
                data = build(story)
                if client == "smtplib":
                    outcome = await smtplib_async(relay.smtp_port, rcpts(story), data)
                else:
                    outcome = await swaks_send(relay.smtp_port, rcpts(story)[0], data, tmp_path)
                assert _matches(outcome, expected), f"{name} via {client}: {outcome}"
                assert await snapshot(log_db) == before, f"{name} via {client} stored something"


async def test_every_accepted_shape_is_stored_and_logged_before_250(
    log_db: DbTarget, tmp_path: Path
) -> None:
    story = Story()
    shapes: dict[str, Callable[[Envelope, str], bytes]] = {
        "attachment": attached,
        "raw bytes attachment": raw_attachment,
        "re-wrapped armor in the text": lambda e, to: in_body(rewrapped(e), to),
        "quoted armor in the text": lambda e, to: in_body(quoted(e), to),
    }
    async with mail_relay(log_db, tmp_path) as relay:
        await story.open(relay)
        for name, build in shapes.items():
            for client in ("smtplib", "swaks"):
                before = await snapshot(log_db)
                envelope = story.next()
                data = build(envelope, address(story.a))
                if client == "smtplib":
                    outcome = await smtplib_async(relay.smtp_port, [address(story.a)], data)
                else:
                    outcome = await swaks_send(relay.smtp_port, address(story.a), data, tmp_path)
                assert outcome.line == replies.STORED, f"{name} via {client}: {outcome}"
                after = await snapshot(log_db)
                assert after["envelopes"] == before["envelopes"] + 1
                assert after["log_entries"] == before["log_entries"] + 1
                story.head = envelope.hash
        # The same envelope again (a sending server's retry) is a 250 that stores nothing new.
        again = attached(envelope, address(story.a))
        before = await snapshot(log_db)
        outcome = await smtplib_async(relay.smtp_port, [address(story.a)], again)
        assert outcome.line == replies.DUPLICATE
        assert await snapshot(log_db) == before


async def test_one_message_goes_to_one_thread(log_db: DbTarget, tmp_path: Path) -> None:
    story = Story()
    async with mail_relay(log_db, tmp_path) as relay:
        await story.open(relay)
        import smtplib

        def transaction() -> list[str]:
            with smtplib.SMTP("127.0.0.1", relay.smtp_port, timeout=30) as smtp:
                smtp.ehlo("client.test")
                smtp.mail("someone@sender.test")
                said = [
                    f"{c} {t.decode()}"
                    for c, t in (
                        smtp.rcpt(address(story.a)),
                        smtp.rcpt(address(story.a)),  # the same thread twice is harmless
                        smtp.rcpt(address(story.b)),  # a second thread is deferred
                    )
                ]
                code, text = smtp.data(attached(story.next(), address(story.a)))
                return [*said, f"{code} {text.decode()}"]

        import asyncio

        said = await asyncio.to_thread(transaction)
        assert said == [
            replies.RECIPIENT_OK,
            replies.RECIPIENT_OK,
            replies.SECOND_THREAD,
            replies.STORED,
        ]


async def test_over_the_sender_rate_limit_is_a_temporary_451(
    log_db: DbTarget, tmp_path: Path
) -> None:
    from relay.config import RateLimit

    story = Story()
    async with mail_relay(log_db, tmp_path, per_identity=RateLimit(0.001, 8)) as relay:
        await story.open(relay)  # registration, threads and joins spend the HTTP budget
        # The SMTP ingress has its own per-sender budget: 8, then a wait of ~1000 s.
        outcomes = []
        for _ in range(9):
            envelope = story.next()
            outcome = await smtplib_async(
                relay.smtp_port, [address(story.a)], attached(envelope, address(story.a))
            )
            outcomes.append(outcome)
            if outcome.code == 250:
                story.head = envelope.hash
        assert [o.code for o in outcomes] == [250] * 8 + [451]
        assert outcomes[-1].line.startswith("451 4.7.1 Too many messages from this sender")
        assert "send again in 1000 seconds" in outcomes[-1].text
        before = await snapshot(log_db)
        swaks = await swaks_send(
            relay.smtp_port, address(story.a), attached(story.next(), address(story.a)), tmp_path
        )
        assert swaks.line.startswith("451 4.7.1")
        assert await snapshot(log_db) == before


@pytest.mark.parametrize("log_db", ["sqlite"], indirect=True)
async def test_starttls_with_the_configured_certificate(log_db: DbTarget, tmp_path: Path) -> None:
    import asyncio
    import smtplib
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={DOMAIN}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    story = Story()
    mail = {"tls_cert": str(cert), "tls_key": str(key), "require_tls": True}
    async with mail_relay(log_db, tmp_path, mail=mail) as relay:
        await story.open(relay)
        data = attached(story.next(), address(story.a))

        def plain_then_tls() -> tuple[str, str]:
            with smtplib.SMTP("127.0.0.1", relay.smtp_port, timeout=30) as smtp:
                smtp.ehlo("client.test")
                code, text = smtp.mail("someone@sender.test")
                refused = f"{code} {text.decode()}"
                context = ssl.create_default_context(cafile=str(cert))
                context.check_hostname = False
                smtp.starttls(context=context)
                smtp.ehlo("client.test")
                smtp.mail("someone@sender.test")
                smtp.rcpt(address(story.a))
                code, text = smtp.data(data)
                return refused, f"{code} {text.decode()}"

        refused, stored = await asyncio.to_thread(plain_then_tls)
        assert refused == replies.TLS_FIRST
        assert stored == replies.STORED
