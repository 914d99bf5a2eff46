"""The SMTP listener: aiosmtpd's protocol in the relay's own event loop, STARTTLS if configured.

It runs in the loop that owns the database engine and the sequencer (no Controller thread), so
a 250 is given after the same durable commit as an HTTP 201. aiosmtpd's own size and TLS
refusals are reworded to the replies docs/email.md lists.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from aiosmtpd.smtp import SMTP

from relay.mail import replies
from relay.mail.config import MailConfig
from relay.mail.handler import IngressHandler, smtp_options

# aiosmtpd logs every DATA line at debug level; no email body may ever reach a log.
logging.getLogger("mail.log").setLevel(logging.INFO)


class IngressSMTP(SMTP):
    """aiosmtpd's SMTP session with replies a person can act on for its built-in refusals."""

    async def push(self, status: str) -> None:
        if status.startswith("552 Error"):
            status = replies.MESSAGE_TOO_LARGE.format(limit=self.data_size_limit)
        elif status.startswith("530 Must issue a STARTTLS"):
            status = replies.TLS_FIRST
        await super().push(status)


def tls_context(config: MailConfig) -> ssl.SSLContext | None:
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


async def start_smtp(
    handler: IngressHandler, host: str, port: int, config: MailConfig
) -> asyncio.Server:
    """Listen on ``host:port``; close the returned server to stop."""
    context = tls_context(config)
    options = smtp_options(config)
    if context is None:
        options["require_starttls"] = False

    def protocol() -> IngressSMTP:
        return IngressSMTP(handler, tls_context=context, **options)

    return await asyncio.get_running_loop().create_server(protocol, host, port)
