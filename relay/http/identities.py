"""``/v1/identities``: register or extend an identity (signed), look one up (public).

The POST body is the identity bundle's canonical bytes (``keys.identity.encode_history``);
the GET answer embeds the same bundle as a JSON value (canonicalise it to get the bytes back).
"""

from __future__ import annotations

import json

from aiohttp import web

from relay.http.auth import caller, public
from relay.http.common import backend, fingerprint_param, now, receipt_json
from relay.service import identities


async def post_identity(request: web.Request) -> web.Response:
    result = await identities.register(
        backend(request), await request.read(), caller(request), now(request)
    )
    return web.json_response(
        {"receipts": [receipt_json(r) for r in result.receipts]},
        status=201 if result.created else 200,
    )


@public
async def get_identity(request: web.Request) -> web.Response:
    listing = await identities.lookup(backend(request), fingerprint_param(request))
    return web.json_response(
        {
            "bundle": json.loads(listing.bundle),
            "receipts": [receipt_json(r) for r in listing.receipts],
        },
        headers={"Cache-Control": "no-store"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/identities", post_identity)
    app.router.add_get("/v1/identities/{fingerprint}", get_identity)
