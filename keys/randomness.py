"""The one source of randomness in the trust core.

Every random byte the trust core uses comes from :func:`random_bytes`, so the
vector generator can patch this single function to make ciphertexts reproducible.
Production code never patches it.
"""

from __future__ import annotations

import nacl.utils


def random_bytes(size: int) -> bytes:
    """Return ``size`` bytes from libsodium's CSPRNG (``randombytes_buf``)."""
    return bytes(nacl.utils.random(size))
