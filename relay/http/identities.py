"""``/v1/identities``: register or extend an identity, look one up (both signed).

A lookup answers only the caller themselves, members who share a thread with the identity,
and a caller presenting ``?invite=<b64u invite id>`` of an unexpired invite to a thread the
identity is in (``relay.service.identities.may_look_up``); anyone else gets a 404.

The POST body is the identity bundle's canonical bytes (``keys.identity.encode_history``);
the GET answer embeds the same bundle as a JSON value (canonicalise it to get the bytes back).

Registration is what a stranger can add to the public log without any invite, so it has limits
of its own, checked before the bundle is read (:class:`RegistrationLimits`): a request rate per
address and per identity, and at most ``limits.identities_per_address_hour`` new identities
from one address in any hour. Past any of them: 429 with Retry-After, nothing stored.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict, deque

from aiohttp import web
from sqlalchemy import select

from keys.encoding import b64u_decode
from keys.errors import EncodingError
from relay.config import Limits
from relay.db.api_models import Identity
from relay.errors import InvalidRequestError
from relay.http.auth import caller
from relay.http.common import backend, fingerprint_param, now, receipt_json
from relay.http.limits import MAX_TRACKED, TokenBuckets
from relay.problem import problem
from relay.service import identities

HOUR = 3600


class RegistrationLimits:
    """Rates per address and per identity, and new identities per address per hour."""

    def __init__(self, limits: Limits) -> None:
        self.per_address = TokenBuckets(limits.registrations_per_address)
        self.per_identity = TokenBuckets(limits.registrations_per_identity)
        self.new_per_hour = limits.identities_per_address_hour
        self._new: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, address: str, identity: bytes, now: float) -> tuple[float, str] | None:
        for buckets, key, who in (
            (self.per_address, address, "address"),
            (self.per_identity, identity, "identity"),
        ):
            wait = buckets.take(key, now)
            if wait is not None:
                return wait, who
        return None

    def reserve_new(self, address: str, now: float) -> float | None:
        """Take a slot for a new identity from ``address``; None if taken, else the wait."""
        times = self._new.pop(address, deque())
        while times and times[0] <= now - HOUR:
            times.popleft()
        self._new[address] = times
        while len(self._new) > MAX_TRACKED:
            self._new.popitem(last=False)
        if len(times) >= self.new_per_hour:
            return times[0] + HOUR - now
        times.append(now)
        return None

    def release_new(self, address: str, now: float) -> None:
        times = self._new.get(address)
        if times and now in times:
            times.remove(now)


REGISTRATIONS = web.AppKey("closedset.registrations", RegistrationLimits)


def _too_many(wait: float, what: str) -> web.Response:
    seconds = max(1, math.ceil(wait))
    return problem(
        429,
        f"Too many {what}; try again in {seconds} seconds.",
        headers={"Retry-After": str(seconds)},
    )


async def _registered(request: web.Request, identity: bytes) -> bool:
    async with backend(request).sessions() as session:
        found = await session.execute(
            select(Identity.identity_key).where(Identity.identity_key == identity)
        )
        return found.first() is not None


async def post_identity(request: web.Request) -> web.Response:
    limits = request.app[REGISTRATIONS]
    address, who, clock = request.remote or "", caller(request), float(now(request))
    refused = limits.wait(address, who, clock)
    if refused is not None:
        return _too_many(refused[0], f"identity registrations from this {refused[1]}")
    reserved = False
    if not await _registered(request, who):
        wait = limits.reserve_new(address, clock)
        if wait is not None:
            return _too_many(wait, "new identities from this address this hour")
        reserved = True
    try:
        result = await identities.register(
            backend(request), await request.read(), who, now(request)
        )
    except BaseException:
        if reserved:
            limits.release_new(address, clock)
        raise
    if reserved and not result.created:
        limits.release_new(address, clock)
    return web.json_response(
        {"receipts": [receipt_json(r) for r in result.receipts]},
        status=201 if result.created else 200,
    )


def _invite_param(request: web.Request) -> bytes | None:
    text = request.query.get("invite")
    if text is None:
        return None
    try:
        return b64u_decode(text, length=32, what="invite id")
    except EncodingError as exc:
        raise InvalidRequestError(f"{exc} (the invite id is base64url of 32 bytes).") from exc


async def get_identity(request: web.Request) -> web.Response:
    listing = await identities.lookup(
        backend(request),
        fingerprint_param(request),
        caller(request),
        _invite_param(request),
        now(request),
    )
    return web.json_response(
        {
            "bundle": json.loads(listing.bundle),
            "receipts": [receipt_json(r) for r in listing.receipts],
        },
        headers={"Cache-Control": "no-store"},
    )


def add_routes(app: web.Application, limits: Limits) -> None:
    app[REGISTRATIONS] = RegistrationLimits(limits)
    app.router.add_post("/v1/identities", post_identity)
    app.router.add_get("/v1/identities/{fingerprint}", get_identity)
