"""Every error leaves the relay as RFC 9457 problem+json, never as a traceback or an HTML page.

:data:`STATUS` maps the core's error tree (``relay.errors``) to HTTP statuses; the middleware
also turns aiohttp's own refusals (404, 405, 413 ...) into problems and any other exception
into a 500 whose detail says nothing about the relay's internals (the log keeps the trace).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from keys.errors import KeysError
from relay.db.trouble import describe_failure
from relay.errors import (
    ConflictError,
    InvalidRequestError,
    InviteExpiredError,
    NotAllowedError,
    NotFoundError,
    RelayError,
    TooLargeError,
    TooManyError,
    UnprocessableError,
)
from relay.problem import PROBLEM_CONTENT_TYPE, problem

_log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATUS: dict[type[RelayError], int] = {
    InvalidRequestError: 400,
    NotAllowedError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    InviteExpiredError: 410,
    TooLargeError: 413,
    TooManyError: 429,
    UnprocessableError: 422,
}

_HTTP_DETAIL = {
    404: "There is nothing at this address; the API is described at /openapi.json.",
    405: "This address does not accept this method; the API is described at /openapi.json.",
    413: "The request body is larger than this relay accepts.",
}


def status_of(error: RelayError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def relay_problem(error: RelayError) -> web.Response:
    if isinstance(error, TooManyError):
        return problem(429, str(error), headers={"Retry-After": str(error.retry_after)})
    return problem(status_of(error), str(error))


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RelayError as exc:
        return relay_problem(exc)
    except KeysError as exc:
        # The trust core refused bytes the client sent (every use case maps its own; this is
        # the backstop): the client's mistake, never a 500.
        return problem(400, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == PROBLEM_CONTENT_TYPE:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return problem(exc.status, _HTTP_DETAIL.get(exc.status, exc.reason), headers=headers)
    except Exception as exc:
        # One line (the route, not the path: paths carry ids); the traceback at debug level.
        _log.error(
            "Unhandled error answering %s %s: %s",
            request.method,
            _route(request),
            describe_failure(exc),
        )
        _log.debug("Unhandled error", exc_info=exc)
        return problem(500, "The relay failed to answer this request; try again later.")


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "?"
