"""Revocation bites and withdrawal lands on the mail route too (SQLite and PostgreSQL, a real
SMTP socket): an envelope signed by a revoked identity, or addressed to a revoked device, is
refused at SMTP time with nothing stored; a removed member's withdrawal to the IC is stored."""

from __future__ import annotations

import os
from pathlib import Path

from keys.encoding import b64u_encode
from keys.envelope import Envelope
from keys.identity import revoke_device, revoke_identity
from relay.mail import replies
from tests.mail.support import address, attached, mail_relay, person, smtplib_async
from tests.relay.api_support import open_thread, post, seal_to, snapshot
from tests.relay.conftest import DbTarget


async def test_revocations_bite_and_a_removed_member_withdraws_by_mail(
    log_db: DbTarget, tmp_path: Path
) -> None:
    ines, ana, ben = person("Ines", "ic"), person("Ana", "performer"), person("Ben", "performer")
    async with mail_relay(log_db, tmp_path) as relay:
        api = relay.api
        await api.register(ines, ana, ben)
        thread = await open_thread(api, ines, ana, ben)
        first = await post(api, ines, seal_to(ines, thread, [ana, ben], None))
        head = bytes.fromhex(first["hash"])
        to = address(thread)

        async def refused_by_mail(envelope_bytes: bytes, words: str) -> None:
            before = await snapshot(log_db)
            message = attached(Envelope.from_bytes(envelope_bytes), to)
            outcome = await smtplib_async(relay.smtp_port, [to], message)
            assert outcome.code == 550 and words in outcome.text, outcome.line
            assert await snapshot(log_db) == before

        # Ben revokes his device: nobody can address it again, by mail either.
        to_bens_old_device = seal_to(ines, thread, [ana, ben], head)
        now = int(api.clock())
        ben.records.append(revoke_device(ben.key, ben.device.public, issued_at=now, reason="x"))
        assert (await api.call(ben, "POST", "/v1/identities", ben.bundle())).status == 200
        await refused_by_mail(to_bens_old_device.to_bytes(), "recipients do not match")

        # Ana is removed; her withdrawal by mail to the IC alone is stored and logged.
        members = f"/v1/threads/{b64u_encode(thread)}/members/{ana.fingerprint}"
        assert (await api.call(ines, "DELETE", members)).status == 204
        withdrawal = seal_to(ana, thread, [ines], head, b"withdraw " + os.urandom(4))
        outcome = await smtplib_async(relay.smtp_port, [to], attached(withdrawal, to))
        assert outcome.line == replies.STORED, outcome.line
        # ...and then she revokes her identity: nothing she signed is accepted after that.
        ana.records.append(revoke_identity(ana.key, issued_at=int(api.clock()), reason="lost"))
        revoked = await api.call(ana, "POST", "/v1/identities", ana.bundle())
        assert revoked.status == 200, revoked.body
        late = seal_to(ana, thread, [ines], head, b"late")
        await refused_by_mail(late.to_bytes(), "revoked")
