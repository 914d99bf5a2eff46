"""What the SMTP ingress refuses beyond the relay's own rules (``relay.errors``)::

    MailError                    a message the ingress cannot take
    +-- ForeignAddressError      RCPT at another domain: this is not an open relay
    +-- NotAThreadAddressError   RCPT at our domain whose local part is not a thread id
    +-- SecondThreadError        RCPT to a second thread in one transaction
    +-- TooManyRecipientsError   more RCPT commands than a transaction may have
    +-- PlaintextMailError       no envelope at all (the "install the client" case)
    +-- DamagedEnvelopeError     armor or envelope bytes that do not parse
    +-- SeveralEnvelopesError    more than one distinct envelope in one message
    +-- WrongThreadError         the envelope belongs to another thread than the address
    +-- RateLimitedError         over the per-address or per-identity rate, try later

``relay.mail.replies`` maps each, and each ``relay.errors`` class, to one SMTP reply.
"""

from __future__ import annotations


class MailError(Exception):
    """Base class: the ingress refused a message (or one recipient of it)."""


class ForeignAddressError(MailError):
    """The recipient is not at the relay's mail domain."""


class NotAThreadAddressError(MailError):
    """The recipient is at the relay's domain but names no thread id."""


class SecondThreadError(MailError):
    """One message may go to one thread; a second thread's address is deferred."""


class TooManyRecipientsError(MailError):
    """The transaction already has as many recipients as the relay allows."""


class PlaintextMailError(MailError):
    """The message carries no Closed Set envelope."""


class DamagedEnvelopeError(MailError):
    """An envelope is there but cannot be read (damaged armor or bytes)."""


class SeveralEnvelopesError(MailError):
    """More than one distinct envelope in one message."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} envelopes in one message")
        self.count = count


class WrongThreadError(MailError):
    """The envelope's thread is not the thread whose address the message was sent to."""


class RateLimitedError(MailError):
    """Over a rate limit; ``retry_after`` seconds until another message is accepted."""

    def __init__(self, retry_after: float, who: str) -> None:
        super().__init__(f"rate limited per {who}")
        self.retry_after = retry_after
        self.who = who
