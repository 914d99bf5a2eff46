"""The aiosmtpd handler of the ingress: it only translates, SMTP commands to use cases and
domain errors to replies (``relay.mail.replies``). Each hook returns the reply line.

Per transaction: MAIL is rate limited per client address; each RCPT must be the address of an
existing thread, and all RCPTs the same thread (a second thread is deferred with 452, which
makes the sending server retry it in a transaction of its own); DATA admits the one envelope.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from relay.config import Limits
from relay.http.limits import TokenBuckets
from relay.mail import replies
from relay.mail.addresses import parse_thread_address
from relay.mail.config import MailConfig
from relay.mail.errors import RateLimitedError, SecondThreadError, TooManyRecipientsError
from relay.mail.ingress import receive
from relay.service import Backend

_log = logging.getLogger(__name__)


class IngressHandler:
    """aiosmtpd hooks for thread addresses; ``on_stored`` runs after every new envelope."""

    def __init__(
        self,
        backend: Backend,
        config: MailConfig,
        limits: Limits,
        *,
        clock: Callable[[], float],
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self.backend = backend
        self.config = config
        self.clock = clock
        self.on_stored = on_stored
        self.limits = limits
        self.address_limit = TokenBuckets(limits.per_address)
        self.identity_limit = TokenBuckets(limits.per_identity)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        wait = self.address_limit.take(peer, self.clock())
        if wait is not None:
            return replies.reply_for(RateLimitedError(wait, "address"))
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender accepted."

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        try:
            thread_id = parse_thread_address(address, self.config.domain)
            if len(envelope.rcpt_tos) >= self.config.max_rcpt_commands:
                raise TooManyRecipientsError(address)
            if envelope.rcpt_tos:
                if parse_thread_address(envelope.rcpt_tos[0], self.config.domain) != thread_id:
                    raise SecondThreadError(address)
            else:
                # Threads are never deleted, so a thread this process has seen is enough
                # (the admission cache; an unknown one is looked up in the database).
                await self.backend.admission.thread(thread_id)
        except Exception as exc:
            return self._refuse("RCPT", exc)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        try:
            thread_id = parse_thread_address(envelope.rcpt_tos[0], self.config.domain)
            posted = await receive(
                self.backend,
                thread_id,
                content,
                now=self.clock(),
                identity_limit=self.identity_limit,
            )
        except Exception as exc:
            return self._refuse("DATA", exc)
        finally:
            # The message itself is never kept: only the envelope bytes reach storage.
            envelope.content = envelope.original_content = None
        if posted.created:
            self.on_stored()
            return replies.STORED
        return replies.DUPLICATE

    def _refuse(self, stage: str, exc: Exception) -> str:
        reply = replies.reply_for(exc)
        if reply.startswith(("451 4.3", "421")):
            # Unexpected: keep the class and traceback for the operator, but not the message,
            # which for a database error would quote the statement's parameters.
            _log.error("SMTP %s failed with %s", stage, type(exc).__name__)
            _log.debug("SMTP %s failure", stage, exc_info=exc)
        else:
            _log.info("SMTP %s refused: %s", stage, reply[:9])
        return reply


def smtp_options(config: MailConfig) -> dict[str, Any]:
    """Keyword arguments for :class:`aiosmtpd.smtp.SMTP` that follow the configuration."""
    return {
        "data_size_limit": config.max_message_bytes,
        "hostname": config.domain,
        "ident": "Closed Set relay",
        "require_starttls": config.require_tls,
    }
