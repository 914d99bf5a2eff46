"""What every handler shares: the app keys, the caller and the clock, and strict JSON parsing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from keys.encoding import MAX_JSON_INT, b64u_decode, b64u_encode, parse_json_object
from keys.errors import EncodingError
from keys.identity import Fingerprint
from relay.errors import InvalidRequestError
from relay.log.sequencer import Receipt
from relay.service import Backend

BACKEND = web.AppKey("closedset.backend", Backend)
Clock = Callable[[], float]
CLOCK: web.AppKey[Clock] = web.AppKey("closedset.clock")


def backend(request: web.Request) -> Backend:
    return request.app[BACKEND]


def now(request: web.Request) -> int:
    """The relay's clock in whole Unix seconds (injected, so tests control time)."""
    return int(request.app[CLOCK]())


def now_ms(request: web.Request) -> int:
    return int(request.app[CLOCK]() * 1000)


async def json_object(request: web.Request, fields: frozenset[str]) -> dict[str, Any]:
    """The body as a JSON object with exactly ``fields`` (``keys.encoding``'s bounded parser)."""
    try:
        return parse_json_object(await request.read(), fields)
    except EncodingError as exc:
        raise InvalidRequestError(str(exc)) from exc


def b64u_field(value: Any, name: str, length: int) -> bytes:
    try:
        return b64u_decode(value, length=length, what=name)
    except EncodingError as exc:
        raise InvalidRequestError(str(exc)) from exc


def int_field(value: Any, name: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_JSON_INT:
        raise InvalidRequestError(f"The {name} must be a whole number of seconds since 1970.")
    return value


def thread_param(request: web.Request) -> bytes:
    return b64u_field(request.match_info["thread"], "thread id in the path", 16)


FINGERPRINT_PATTERN = "^[ :-]*(?:[A-Za-z2-7][ :-]*){32}$"
"""A fingerprint in a path, as /openapi.json documents it."""
_FINGERPRINT_RE = re.compile(FINGERPRINT_PATTERN)


def fingerprint_param(request: web.Request) -> bytes:
    text = request.match_info["fingerprint"]
    if not _FINGERPRINT_RE.match(text):
        raise InvalidRequestError(
            "A fingerprint is 32 letters and digits 2-7, as `closedset id show` prints them, "
            "grouped by spaces, dashes or colons if at all."
        )
    try:
        return Fingerprint.parse(request.match_info["fingerprint"]).digest
    except EncodingError as exc:
        raise InvalidRequestError(str(exc)) from exc


def fingerprint_text(digest: bytes) -> str:
    return Fingerprint(digest).compact


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    """The log half of a receipt: where the record is, and the proof that it is there."""
    return {
        "index": receipt.index,
        "entry": b64u_encode(receipt.entry),
        "leaf_hash": b64u_encode(receipt.leaf_hash),
        "tree_size": receipt.tree_size,
        "checkpoint": receipt.checkpoint,
        "inclusion": [b64u_encode(h) for h in receipt.inclusion_proof],
    }
