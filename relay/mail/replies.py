"""Every SMTP reply the ingress gives, one per refusal, each a sentence a person can act on.

Pure: an exception in, a reply line out. The table is docs/email.md, "Replies", verbatim;
a test walks it. Permanent refusals are 5.x.x so the sender's mail server bounces at once
(with our text in the bounce); only rate limits and storage trouble are 4.x.x (retry later).
"""

from __future__ import annotations

import math

from keys.errors import KeysError
from relay import errors as relay_errors
from relay.log.sequencer import SequencerClosedError
from relay.mail import errors

STORED = "250 2.0.0 Envelope stored and logged."
DUPLICATE = "250 2.0.0 Envelope already stored and logged."
RECIPIENT_OK = "250 2.1.5 Thread address accepted."
PLAINTEXT = (
    "550 5.7.1 This address only accepts Closed Set envelopes; install the Closed Set client "
    "and open the invite your coordinator sent you."
)
UNKNOWN_THREAD = (
    "550 5.1.1 There is no Closed Set thread at this address; copy the thread's address from "
    "your Closed Set client."
)
FOREIGN = (
    "550 5.7.1 This relay takes mail for Closed Set thread addresses only and relays nothing "
    "else; check the recipient's address."
)
SECOND_THREAD = (
    "452 4.5.3 One message can go to one thread only; send a separate message to each "
    "thread's address."
)
TOO_MANY_RECIPIENTS = (
    "452 4.5.3 Too many recipients in one message; send a separate message to each thread's "
    "address."
)
DAMAGED = (
    "554 5.6.0 The Closed Set envelope in this message is damaged; send it again from the "
    "Closed Set client, as an attachment."
)
SEVERAL = (
    "554 5.6.0 This message carries {count} Closed Set envelopes; send each envelope in a "
    "message of its own."
)
WRONG_THREAD = (
    "550 5.7.1 This envelope belongs to another thread; send it to the address your Closed Set "
    "client shows for that thread."
)
NOT_A_MEMBER = (
    "550 5.7.1 The sender of this envelope is not a member of this thread; open the invite "
    "your coordinator sent you, or ask them for a new one."
)
REFUSED = "550 5.7.1 The relay refused this envelope: {detail}"
TOO_LARGE = "552 5.3.4 {detail}"
MESSAGE_TOO_LARGE = (
    "552 5.3.4 This message is larger than the {limit} bytes this relay accepts; an envelope "
    "is much smaller, so send just the envelope from the Closed Set client."
)
RATE_LIMITED = (
    "451 4.7.1 Too many messages from this {who} just now; your mail server will retry, or "
    "send again in {seconds} seconds."
)
TLS_FIRST = "530 5.7.0 This relay needs STARTTLS first; turn on TLS in your mail program."
TOO_MANY_SESSIONS = (
    "421 4.7.0 Too many open sessions from this address; your mail server will try again later."
)
IDLE_TIMEOUT = "421 4.4.2 No command for too long; closing the session."
SESSION_TIMEOUT = "421 4.4.2 This session has lasted too long; send the rest in a new one."
SHUTTING_DOWN = "421 4.3.2 The relay is shutting down; your mail server will try again later."
TRY_LATER = (
    "451 4.3.0 The relay could not store this envelope just now; your mail server will try "
    "again later."
)


def reply_for(error: BaseException) -> str:
    """The SMTP reply for a refusal; anything unexpected is a temporary failure (4.3.0)."""
    match error:
        case errors.PlaintextMailError():
            return PLAINTEXT
        case errors.ForeignAddressError():
            return FOREIGN
        case errors.NotAThreadAddressError() | relay_errors.NotFoundError():
            return UNKNOWN_THREAD
        case errors.SecondThreadError():
            return SECOND_THREAD
        case errors.TooManyRecipientsError():
            return TOO_MANY_RECIPIENTS
        case errors.DamagedEnvelopeError() | relay_errors.InvalidRequestError():
            return DAMAGED
        case errors.SeveralEnvelopesError(count=count):
            return SEVERAL.format(count=count)
        case errors.WrongThreadError():
            return WRONG_THREAD
        case errors.RateLimitedError(retry_after=wait, who=who):
            return RATE_LIMITED.format(who=who, seconds=max(1, math.ceil(wait)))
        case relay_errors.NotAMemberError():
            return NOT_A_MEMBER
        case relay_errors.TooLargeError():
            return TOO_LARGE.format(detail=_one_line(str(error)))
        case relay_errors.RelayError():
            return REFUSED.format(detail=_one_line(str(error)))
        case SequencerClosedError():
            return SHUTTING_DOWN
        case KeysError():
            # Bytes the trust core refuses never become acceptable: a permanent refusal.
            return DAMAGED
    return TRY_LATER


def _one_line(text: str) -> str:
    # A reply is one ASCII line; the relay's sentences are, but never trust that blindly.
    flat = " ".join(text.split())
    return flat.encode("ascii", "replace").decode("ascii")[:400]
