"""The SMTP listener: aiosmtpd's protocol in the relay's own event loop, STARTTLS if configured.

It runs in the loop that owns the database engine and the sequencer (no Controller thread), so
a 250 is given after the same durable commit as an HTTP 201. aiosmtpd's own size and TLS
refusals are reworded to the replies docs/email.md lists.

Sessions are bounded (``relay.config.Limits``): at most ``smtp_sessions_per_address`` at once
from one address (past it, ``421`` and the connection closes), ``smtp_idle_timeout`` seconds
between commands and ``smtp_session_timeout`` in all (then ``421 4.4.2`` and close). The
address is the connecting mail server's: every message a provider relays comes from the
provider's address, so its users share these limits.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import Counter
from typing import Any

from aiosmtpd.smtp import SMTP

from relay.mail import replies
from relay.mail.config import MailConfig
from relay.mail.handler import IngressHandler, smtp_options

# aiosmtpd logs every DATA line at debug level; no email body may ever reach a log.
logging.getLogger("mail.log").setLevel(logging.INFO)


class IngressSMTP(SMTP):
    """aiosmtpd's SMTP session with replies a person can act on for its built-in refusals,
    bounded in count per address and in time."""

    def __init__(self, *args: Any, sessions: Counter[str], **kwargs: Any) -> None:
        self._limits = args[0].limits
        super().__init__(*args, timeout=self._limits.smtp_idle_timeout, **kwargs)
        self._sessions = sessions
        self._address: str | None = None
        self._lifetime: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if not first:
            return  # STARTTLS: the same session on a new transport
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if self._sessions[address] >= self._limits.smtp_sessions_per_address:
            logging.getLogger(__name__).info("SMTP session refused: too many from one address")
            if self._handler_coroutine is not None:
                self._handler_coroutine.cancel()  # not started yet: no 220 greeting either
            self._close_with(replies.TOO_MANY_SESSIONS)
            return
        self._address = address
        self._sessions[address] += 1
        self._lifetime = self.loop.call_later(
            self._limits.smtp_session_timeout, self._close_with, replies.SESSION_TIMEOUT
        )

    def connection_lost(self, error: Exception | None) -> None:
        if self._lifetime is not None:
            self._lifetime.cancel()
            self._lifetime = None
        if self._address is not None:
            self._sessions[self._address] -= 1
            if self._sessions[self._address] <= 0:
                del self._sessions[self._address]
            self._address = None
        super().connection_lost(error)

    def _timeout_cb(self) -> None:
        # aiosmtpd closes an idle session without a word; RFC 5321 4.2.2 wants a 421 first.
        self._close_with(replies.IDLE_TIMEOUT)

    def _close_with(self, reply: str) -> None:
        transport = self.transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(reply.encode("ascii") + b"\r\n")
            transport.close()

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

    sessions: Counter[str] = Counter()

    def protocol() -> IngressSMTP:
        return IngressSMTP(handler, tls_context=context, sessions=sessions, **options)

    return await asyncio.get_running_loop().create_server(protocol, host, port)
