"""RFC 9457 problem details: the one way the relay reports an error over HTTP.

Handlers build a response with :func:`problem`; the body is ``application/problem+json``
with ``type``, ``title``, ``status`` and ``detail`` (one sentence a person can act on).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aiohttp import web

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_uri: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> web.Response:
    """Build a problem+json response.

    With the default ``type_uri`` of ``about:blank`` the title is the status phrase, as
    RFC 9457 section 4.2.1 asks. ``extensions`` become extra members of the object.
    """
    body: dict[str, Any] = {
        "type": type_uri,
        "title": title if title is not None else HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    # An error describes one moment (a tile not there yet, a size not reached yet); a cache
    # must not keep answering with it.
    response_headers = {"Cache-Control": "no-store", **(headers or {})}
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        content_type=PROBLEM_CONTENT_TYPE,
        charset="utf-8",
        headers=response_headers,
    )
