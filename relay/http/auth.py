"""Request authentication: every non-public route needs an RFC 9421 signature by the caller.

The signature itself is checked by :mod:`keys.httpsig`; this adapter adds the relay's
policy: the ``created`` time must be within ``max_skew`` seconds of the relay's clock, and a
(key, nonce) pair is accepted once (replays within the window are refused; older ones are
stale anyway). The nonce cache lives in this process: a relay run as several processes
behind one address must pin each caller to one process or share the cache.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from keys.errors import KeysError
from keys.httpsig import MissingSignatureError, verify_request
from relay.problem import problem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CALLER = web.RequestKey("closedset.caller", bytes)
_PUBLIC_ATTR = "__closedset_public__"
MAX_NONCES = 200_000


def public(handler: Any) -> Any:
    """Mark a handler as answering without a signature (log, lookups, OpenAPI, health)."""
    setattr(handler, _PUBLIC_ATTR, True)
    return handler


def caller(request: web.Request) -> bytes:
    """The authenticated caller's 32-byte Ed25519 identity key."""
    key = request.get(_CALLER)
    if not isinstance(key, bytes):
        raise RuntimeError("caller() used on a route that is not authenticated")
    return key


def caller_or_none(request: web.Request) -> bytes | None:
    key = request.get(_CALLER)
    return key if isinstance(key, bytes) else None


class ReplayCache:
    """Remembers (key, nonce) pairs until they fall out of the time window."""

    def __init__(self, window: int, limit: int = MAX_NONCES) -> None:
        self.window = window
        self.limit = limit
        self._seen: OrderedDict[tuple[bytes, bytes], float] = OrderedDict()

    def check_and_add(self, key: bytes, nonce: bytes, created: int, now: float) -> bool:
        """True if new (and now remembered); False if seen within the window."""
        while self._seen:
            oldest, expiry = next(iter(self._seen.items()))
            if expiry > now and len(self._seen) < self.limit:
                break
            del self._seen[oldest]
        if (key, nonce) in self._seen:
            return False
        self._seen[(key, nonce)] = max(now, created) + self.window
        return True


def _is_public(request: web.Request) -> bool:
    handler = request.match_info.handler
    return (
        bool(getattr(handler, _PUBLIC_ATTR, False)) or request.match_info.http_exception is not None
    )


def auth_middleware(*, max_skew: int = 300, clock: Callable[[], float] = time.time) -> Any:
    cache = ReplayCache(window=2 * max_skew)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _is_public(request):
            # A public route still learns who signed, if anyone did and it verifies.
            return await handler(request)
        body = await request.read()
        try:
            signed = verify_request(request.method, request.raw_path, request.headers, body)
        except MissingSignatureError as exc:
            return problem(401, str(exc), headers={"WWW-Authenticate": 'Signature tag="closedset"'})
        except KeysError as exc:
            return problem(401, str(exc))
        now = clock()
        if abs(now - signed.created) > max_skew:
            return problem(
                401,
                f"The request was signed at {signed.created}, more than {max_skew} seconds "
                "from the relay's clock; check your computer's clock and sign again.",
            )
        if not cache.check_and_add(signed.identity_key, signed.nonce, signed.created, now):
            return problem(401, "This signed request was already received; sign a new one.")
        request[_CALLER] = signed.identity_key
        return await handler(request)

    return authenticate
