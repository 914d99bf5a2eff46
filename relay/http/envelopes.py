"""``/v1/threads/{thread}/envelopes`` (post, page) and ``/v1/receipts/{hash}``. All signed.

The POST body is the envelope's canonical bytes; the answer is its receipt. Pages embed each
envelope as a JSON value (its canonical bytes are RFC 8785 of that value).
"""

from __future__ import annotations

import json

from aiohttp import web

from keys.checkpoint import parse_decimal
from keys.encoding import MAX_JSON_INT
from keys.errors import EncodingError
from relay.errors import InvalidRequestError
from relay.http.auth import caller
from relay.http.common import backend, now_ms, receipt_json, thread_param
from relay.service import envelopes

DEFAULT_PAGE = 100


def _query_int(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        return parse_decimal(text, what=name, maximum=MAX_JSON_INT)
    except EncodingError as exc:
        raise InvalidRequestError(str(exc)) from exc


async def post_envelope(request: web.Request) -> web.Response:
    thread_id = thread_param(request)
    # The service pushes a new envelope to the members' streams itself.
    posted = await envelopes.post(
        backend(request), caller(request), thread_id, await request.read(), now_ms(request)
    )
    own = (posted.reader_sequences or {}).get(posted.envelope.context.sender)
    if posted.by_removed:
        # A removed member reads nothing past their removal, their own posts included: no
        # number to page to (docs/api.md, "Removed members").
        own = None
    return web.json_response(
        {
            "hash": posted.hash.hex(),
            # The sender's own reader number, not the thread's count (docs/api.md, "Readers").
            "sequence": own,
            "reader_sequence": own,
            **receipt_json(posted.receipt),
        },
        status=201 if posted.created else 200,
    )


async def get_envelopes(request: web.Request) -> web.Response:
    thread_id = thread_param(request)
    after = _query_int(request, "after", 0)
    limit = _query_int(request, "limit", DEFAULT_PAGE)
    page_max = backend(request).limits.page_max
    if not 1 <= limit <= page_max:
        raise InvalidRequestError(f"The limit must be between 1 and {page_max}.")
    page = await envelopes.page(backend(request), caller(request), thread_id, after, limit)
    return web.json_response(
        {
            "envelopes": [
                {
                    "envelope": json.loads(item.body),
                    "hash": item.hash.hex(),
                    "index": item.index,
                    "sequence": item.reader_sequence,
                    "reader_sequence": item.reader_sequence,
                    "received_at": item.received_ms,
                }
                for item in page.envelopes
            ],
            "next": None if page.next_after is None else str(page.next_after),
        }
    )


async def get_receipt(request: web.Request) -> web.Response:
    text = request.match_info["hash"]
    try:
        digest = bytes.fromhex(text)
    except ValueError:
        digest = b""
    if len(digest) != 32 or text != digest.hex():
        raise InvalidRequestError("An envelope hash is 64 lowercase hexadecimal digits.")
    row, reader_sequence, receipt = await envelopes.receipt(
        backend(request), caller(request), digest
    )
    return web.json_response(
        {
            "hash": row.hash.hex(),
            "sequence": reader_sequence,
            "reader_sequence": reader_sequence,
            **receipt_json(receipt),
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/threads/{thread}/envelopes", post_envelope)
    app.router.add_get("/v1/threads/{thread}/envelopes", get_envelopes)
    app.router.add_get("/v1/receipts/{hash}", get_receipt)
