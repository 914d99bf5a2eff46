"""``GET /v1/mail/ingress-key`` (public): the X25519 key that mail to a thread's address is
sealed to (``keys.mailseal``), signed by the relay's log key so that a client checks it with
the log key it pinned, and nothing else (docs/email.md, "Sealed for the pipe").
"""

from __future__ import annotations

from aiohttp import web

from keys.encoding import b64u_encode
from keys.mailseal import ingress_key_signature, ingress_private_key
from keys.note import NoteSigner
from relay.http.auth import public


def add_routes(app: web.Application, signer: NoteSigner) -> None:
    ingress = bytes(ingress_private_key(signer).public_key)
    body = {
        "key": b64u_encode(ingress),
        "signature": b64u_encode(ingress_key_signature(signer, ingress)),
    }

    @public
    async def get_ingress_key(request: web.Request) -> web.Response:
        return web.json_response(body, headers={"Cache-Control": "max-age=3600"})

    app.router.add_get("/v1/mail/ingress-key", get_ingress_key)
