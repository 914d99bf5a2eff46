"""A revoked identity can do nothing a signature is needed for: every signed route refuses it.

Runs after authentication, so it knows who signed; public routes (the log, the OpenAPI
document) answer anyone, and identity lookups, signed, refuse a revoked caller too. Envelopes that arrive by mail are refused by the same rule in
``relay.threads.check_envelope``. One primary-key read per signed request: a revocation made
through another relay process is seen at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from relay.errors import RevokedError
from relay.http.auth import caller_or_none, is_public
from relay.http.common import backend
from relay.http.errors import relay_problem
from relay.service.identities import is_revoked
from relay.threads import check_not_revoked

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def revocation_middleware() -> Any:
    @web.middleware
    async def refuse_revoked(request: web.Request, handler: Handler) -> web.StreamResponse:
        who = caller_or_none(request)
        if who is not None and not is_public(request):
            try:
                check_not_revoked(await is_revoked(backend(request), who))
            except RevokedError as exc:
                return relay_problem(exc)
        return await handler(request)

    return refuse_revoked
