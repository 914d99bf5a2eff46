"""Thread addresses: ``<thread id, lower-case base32>@<mail domain>``, one per thread.

The local part is the thread id alone, so an address names no scene or person; whoever knows
it still needs a member's signature to post (docs/email.md, "Addresses").
"""

from __future__ import annotations

from keys.errors import EncodingError
from keys.mailparts import parse_thread_local_part, thread_local_part
from relay.mail.errors import ForeignAddressError, NotAThreadAddressError


def thread_address(thread_id: bytes, domain: str) -> str:
    return f"{thread_local_part(thread_id)}@{domain}"


def parse_thread_address(address: str, domain: str) -> bytes:
    """The thread id an address at ``domain`` names; refuse other domains and local parts."""
    local, at, host = address.strip().strip("<>").rpartition("@")
    if not at or host.lower().rstrip(".") != domain:
        raise ForeignAddressError(address)
    try:
        return parse_thread_local_part(local)
    except EncodingError as exc:
        raise NotAThreadAddressError(address) from exc
