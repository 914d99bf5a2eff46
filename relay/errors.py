"""What the relay's core refuses, each error one sentence for the person who sent the request.

The tree (the HTTP status each maps to is in ``relay.http.errors``)::

    RelayError                   anything the relay refuses
    +-- InvalidRequestError      malformed input: not the expected JSON, bad base64   (400)
    +-- NotAllowedError          the caller may not do this                           (403)
    |   +-- NotAMemberError      the caller is not (or no longer) a member            (403)
    |   +-- RevokedError         the caller's identity was revoked                    (403)
    |   +-- BudgetSpentError     a removed member used up their posts to coordinators (403)
    +-- NotFoundError            no such identity, thread, invite or envelope         (404)
    +-- ConflictError            contradicts what is stored                           (409)
    |   +-- InviteUsedError      the invite was already used                          (409)
    |   +-- UnknownPreviousError the previous-envelope hash is not in the thread      (409)
    +-- InviteExpiredError       the invite expired                                   (410)
    +-- TooLargeError            a size or count over the relay's limit               (413)
    +-- TooManyError             too many of something per identity per day           (429)
    +-- UnprocessableError       well formed but inconsistent with the thread         (422)

Foreign exceptions (``keys`` errors) are converted where they are caught, with ``from``.
"""

from __future__ import annotations


class RelayError(Exception):
    """Base class: the relay refused a request."""


class InvalidRequestError(RelayError):
    """The request is not in the shape the API documents."""


class NotAllowedError(RelayError):
    """The caller is authenticated but may not do this."""


class NotAMemberError(NotAllowedError):
    """The caller is not a current member of the thread."""


class RevokedError(NotAllowedError):
    """The caller's identity was revoked: the relay accepts nothing it signs."""


class BudgetSpentError(NotAllowedError):
    """A removed member has sent as many envelopes to the coordinators as the relay allows."""


class NotFoundError(RelayError):
    """The identity, thread, invite or envelope does not exist (or is not visible to the caller)."""


class ConflictError(RelayError):
    """The request contradicts what the relay already stores."""


class InviteUsedError(ConflictError):
    """The invite was already used; invites are single use."""


class UnknownPreviousError(ConflictError):
    """The envelope's previous hash names no envelope of this thread."""


class InviteExpiredError(RelayError):
    """The invite's expiry time has passed."""


class TooLargeError(RelayError):
    """A body size or a count is over the relay's configured limit."""


class TooManyError(RelayError):
    """The caller did something more often than the relay allows per identity (say, threads
    created in a day); ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: int = 3600) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnprocessableError(RelayError):
    """Well formed, but its content does not fit the thread (signature, thread, recipients)."""
