"""Database trouble over HTTP: 503 problem+json with ``Retry-After``, one log line, no SQL.

A middleware of its own, just inside ``problem_middleware``: an unavailable, full, frozen or
timed-out database (``relay.db.trouble``), or a sequencer that is shutting down, is not the
caller's mistake and not a bug, so it is answered "try again later" instead of 500. Anything
else goes on to ``problem_middleware`` untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from relay.db.trouble import describe_failure, is_database_trouble
from relay.log.sequencer import SequencerClosedError
from relay.problem import problem

_log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
UNAVAILABLE = (
    "The relay's database is unavailable just now, so nothing was stored; try again in a few "
    "seconds."
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def unavailable() -> web.Response:
    return problem(503, UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


@web.middleware
async def database_trouble_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SequencerClosedError:
        return unavailable()
    except Exception as exc:
        if isinstance(exc, web.HTTPException) or not is_database_trouble(exc):
            raise
        _log.error(
            "Database trouble answering %s %s: %s",
            request.method,
            request.match_info.route.resource.canonical
            if request.match_info.route.resource is not None
            else "?",
            describe_failure(exc),
        )
        _log.debug("Database trouble", exc_info=exc)
        return unavailable()
