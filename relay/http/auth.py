"""Request authentication: every non-public route needs an RFC 9421 signature by the caller.

The signature itself is checked by :mod:`keys.httpsig`; this adapter adds the relay's
policy: the signature must cover this relay's own ``@authority`` (its public URL's host and
port, so a request signed for another relay is refused), the ``created`` time must be within
``max_skew`` seconds of the relay's clock, and a (key, nonce) pair is accepted once: the replay
cache is a database table (:mod:`relay.http.replay`), so it survives restarts and is shared by
every process on the same database.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from keys.errors import KeysError
from keys.httpsig import BadRequestSignatureError, MissingSignatureError, verify_request
from relay.http.replay import ReplayGuard
from relay.problem import problem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CALLER = web.RequestKey("closedset.caller", bytes)
_PUBLIC_ATTR = "__closedset_public__"
REPLAY_GUARD = web.AppKey("closedset.replay_guard", ReplayGuard)


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


def is_public(request: web.Request) -> bool:
    """Whether the route answers without a signature."""
    return _is_public(request)


def _is_public(request: web.Request) -> bool:
    handler = request.match_info.handler
    return (
        bool(getattr(handler, _PUBLIC_ATTR, False)) or request.match_info.http_exception is not None
    )


def request_authority(request: web.Request, configured: str | None) -> str:
    """The authority requests must be signed for: the public URL's, or (a relay told to pick
    its own port) the address the connection reached."""
    if configured is not None:
        return configured
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:
        return ""
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def auth_middleware(
    *, max_skew: int = 300, clock: Callable[[], float] = time.time, authority: str | None = None
) -> Any:
    """``authority`` is this relay's (``keys.httpsig.authority_of`` of its public URL); None
    when the public URL's port is 0, and the listening socket's address is used instead."""

    async def signer_of_public(request: web.Request) -> None:
        """A public route still learns who signed, if the signature verifies (so the
        per-identity limit applies instead of the per-address one); else nothing is set."""
        if "Signature-Input" not in request.headers:
            return
        body = await request.read()
        try:
            signed = verify_request(
                request.method,
                request.raw_path,
                request.headers,
                body,
                authority=request_authority(request, authority),
            )
        except KeysError:
            return
        now = clock()
        if abs(now - signed.created) > max_skew:
            return
        expires = int(max(now, signed.created)) + 2 * max_skew
        if await request.app[REPLAY_GUARD].claim(signed.identity_key, signed.nonce, expires, now):
            request[_CALLER] = signed.identity_key

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _is_public(request):
            await signer_of_public(request)
            return await handler(request)
        body = await request.read()
        expected = request_authority(request, authority)
        try:
            signed = verify_request(
                request.method, request.raw_path, request.headers, body, authority=expected
            )
        except MissingSignatureError as exc:
            return problem(401, str(exc), headers={"WWW-Authenticate": 'Signature tag="closedset"'})
        except BadRequestSignatureError:
            return problem(
                401,
                f"The request signature does not verify for this relay ({expected}); sign "
                "requests with your identity key for this relay's own address.",
            )
        except KeysError as exc:
            return problem(401, str(exc))
        now = clock()
        if abs(now - signed.created) > max_skew:
            return problem(
                401,
                f"The request was signed at {signed.created}, more than {max_skew} seconds "
                "from the relay's clock; check your computer's clock and sign again.",
            )
        # Kept until the signature is stale everywhere: created + skew, plus the skew again
        # for a relay clock that runs behind.
        expires = int(max(now, signed.created)) + 2 * max_skew
        guard = request.app[REPLAY_GUARD]
        if not await guard.claim(signed.identity_key, signed.nonce, expires, now):
            return problem(401, "This signed request was already received; sign a new one.")
        request[_CALLER] = signed.identity_key
        return await handler(request)

    return authenticate
