"""Limits: body size, and request rate per identity for signed requests and per remote
address for the rest.

A request that carries a signature is limited by the identity that signed it, never by its
network address: a cast on one set's Wi-Fi shares an address, and one member's traffic must
not stop another's withdrawal. The address bucket is charged before authentication for
requests without a signature, and after it for requests whose signature did not verify (a
public route answers them anyway). :class:`TokenBuckets` is pure (time is passed in). Past a
limit the answer is 413 or 429 with ``Retry-After``, always before the handler runs, so a
refused request writes nothing. Buckets live in this process; a relay run as several
processes limits each process separately.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from relay.config import RateLimit
from relay.http.auth import caller_or_none
from relay.problem import problem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_TRACKED = 100_000


class TokenBuckets:
    """One token bucket per key; the least recently seen keys are forgotten past ``max_keys``
    (a forgotten key starts again with a full bucket, the same as a new one)."""

    def __init__(self, limit: RateLimit, max_keys: int = MAX_TRACKED) -> None:
        self.rate = limit.rate
        self.burst = float(limit.burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[Any, tuple[float, float]] = OrderedDict()

    def take(self, key: Any, now: float) -> float | None:
        """Spend one token for ``key``; None if allowed, else the seconds until one is back."""
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            allowed = True
        else:
            self._buckets[key] = (tokens, now)
            allowed = False
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / self.rate


def _too_many(wait: float, who: str) -> web.Response:
    seconds = max(1, math.ceil(wait))
    return problem(
        429,
        f"Too many requests from this {who}; try again in {seconds} seconds.",
        headers={"Retry-After": str(seconds)},
    )


_DEFERRED = web.RequestKey("closedset.address_deferred", bool)


def _signed(request: web.Request) -> bool:
    return "Signature-Input" in request.headers or "Signature" in request.headers


def address_limit_middleware(
    limit: RateLimit | TokenBuckets,
    max_body_bytes: int,
    clock: Callable[[], float],
    body_timeout: float = 30.0,
) -> Any:
    """Refuse bodies declared too large, unsigned callers over the per-address rate (signed
    ones are limited after authentication: :func:`identity_limit_middleware`), and bodies
    that take longer than ``body_timeout`` seconds to arrive (408: a slow body holds a
    connection as surely as slow headers)."""
    buckets = limit if isinstance(limit, TokenBuckets) else TokenBuckets(limit)

    @web.middleware
    async def limit_address(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _signed(request):
            request[_DEFERRED] = True
        else:
            wait = buckets.take(request.remote or "", clock())
            if wait is not None:
                return _too_many(wait, "address")
        # A chunked body has no length up front; aiohttp's client_max_size stops it on read.
        if request.content_length is not None and request.content_length > max_body_bytes:
            return problem(
                413,
                f"The request body is larger than the {max_body_bytes} bytes this relay accepts.",
            )
        if request.body_exists:
            try:
                # Read here, once, under a deadline; handlers get the same bytes back.
                async with asyncio.timeout(body_timeout):
                    await request.read()
            except TimeoutError:
                response = problem(
                    408, f"The request body did not arrive within {body_timeout:g} seconds."
                )
                response.force_close()
                return response
        return await handler(request)

    return limit_address


def identity_limit_middleware(
    limit: RateLimit,
    clock: Callable[[], float],
    in_flight: int = 32,
    addresses: TokenBuckets | None = None,
) -> Any:
    """Refuse an authenticated caller over the per-identity rate, or with ``in_flight``
    requests already in progress (a stream counts while it is open) (runs after auth); a
    signed request whose signature did not verify is charged to its address in ``addresses``."""
    buckets = TokenBuckets(limit)
    busy: Counter[bytes] = Counter()

    @web.middleware
    async def limit_identity(request: web.Request, handler: Handler) -> web.StreamResponse:
        who = caller_or_none(request)
        if who is None:
            if addresses is not None and request.get(_DEFERRED):
                wait = addresses.take(request.remote or "", clock())
                if wait is not None:
                    return _too_many(wait, "address")
            return await handler(request)
        wait = buckets.take(who, clock())
        if wait is not None:
            return _too_many(wait, "identity")
        if busy[who] >= in_flight:
            return problem(
                429,
                f"This identity already has {in_flight} requests in progress; wait for them.",
                headers={"Retry-After": "1"},
            )
        busy[who] += 1
        try:
            return await handler(request)
        finally:
            busy[who] -= 1
            if busy[who] <= 0:
                del busy[who]

    return limit_identity
