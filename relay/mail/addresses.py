"""Thread addresses: ``<thread id, base64url>@<mail domain>``, one per thread, nothing else.

The local part is the thread id alone, so an address names no scene or person; whoever knows
it still needs a member's signature to post (docs/email.md, "Addresses").
"""

from __future__ import annotations

from keys.encoding import b64u_decode, b64u_encode
from keys.envelope import THREAD_ID_SIZE
from keys.errors import EncodingError
from relay.mail.errors import ForeignAddressError, NotAThreadAddressError


def thread_address(thread_id: bytes, domain: str) -> str:
    return f"{b64u_encode(thread_id)}@{domain}"


def parse_thread_address(address: str, domain: str) -> bytes:
    """The thread id an address at ``domain`` names; refuse other domains and local parts."""
    local, at, host = address.strip().strip("<>").rpartition("@")
    if not at or host.lower().rstrip(".") != domain:
        raise ForeignAddressError(address)
    try:
        # Thread ids are case-sensitive base64url; a mail system that lowercases local parts
        # breaks them, and then the address is simply unknown.
        return b64u_decode(local, length=THREAD_ID_SIZE, what="thread address")
    except EncodingError as exc:
        raise NotAThreadAddressError(address) from exc
