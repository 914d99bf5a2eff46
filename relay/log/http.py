"""HTTP face of the log under ``/log/``: key, checkpoint, C2SP tlog-tiles, proofs.

Handlers only parse the request, call :class:`relay.log.store.LogStore` and format the
answer; every format is spelled out byte by byte in docs/log.md. Reads only: a request
never writes anything. Bad parameters get a 400 problem+json with one sentence.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from keys.checkpoint import parse_decimal
from keys.encoding import b64u_encode
from keys.errors import EncodingError
from keys.tlogproof import TlogProof
from relay.log.store import TILE_WIDTH, LogRangeError, LogStore, StoredCheckpoint
from relay.problem import problem

LOG_STORE = web.AppKey("closedset.log.store", LogStore)
LOG_VERIFIER_KEY = web.AppKey("closedset.log.verifier_key", str)
# Optional: turns the latest checkpoint into the note served at /checkpoint (relay.witnessing
# appends witness cosignatures); without it the log's own note is served.
CheckpointView = Callable[[StoredCheckpoint], Awaitable[str]]
LOG_CHECKPOINT_VIEW: web.AppKey[CheckpointView] = web.AppKey("closedset.log.checkpoint_view")

TEXT = "text/plain"
OCTETS = "application/octet-stream"
IMMUTABLE = "public, max-age=31536000, immutable"
# C2SP tlog-tiles: the checkpoint "SHOULD prevent caching beyond a few seconds".
CHECKPOINT_CACHE = "public, max-age=2"
NO_STORE = "no-store"

# <N> as zero-padded 3-digit elements, "x" on all but the last, then an optional ".p/<W>".
_TILE_PATH_RE = re.compile(r"\A((?:x[0-9]{3}/)*)([0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?\Z")
_LEVEL_RE = re.compile(r"\A(0|[1-9][0-9]?)\Z")
# Indices and sizes this relay answers for: its database stores signed 64-bit integers, and
# I-JSON readers all read integers up to 2^53 - 1 exactly, so that is the ceiling (about 9e15
# entries, far past any real log). Past it the answer is a 400, never a database overflow.
MAX_INDEX = 2**53 - 1
_MAX_TILE_PATH = 64


def add_log_routes(
    app: web.Application, store: LogStore, verifier_key: str, *, prefix: str = "/log"
) -> None:
    """Mount the log's read API on ``app`` under ``prefix``."""
    app[LOG_STORE] = store
    app[LOG_VERIFIER_KEY] = verifier_key
    app.router.add_get(f"{prefix}/key", get_key)
    app.router.add_get(f"{prefix}/checkpoint", get_checkpoint)
    app.router.add_get(f"{prefix}/tile/entries/{{path:.+}}", get_entry_bundle)
    app.router.add_get(f"{prefix}/tile/{{level}}/{{path:.+}}", get_hash_tile)
    app.router.add_get(f"{prefix}/proof/inclusion", get_inclusion_proof)
    app.router.add_get(f"{prefix}/proof/consistency", get_consistency_proof)
    app.router.add_get(f"{prefix}/proof/tlog/{{index}}", get_tlog_proof)


def encode_tile_index(index: int) -> str:
    """C2SP tlog-tiles path form of a tile index: 1234067 -> ``x001/x234/067``."""
    path = f"{index % 1000:03d}"
    index //= 1000
    while index:
        path = f"x{index % 1000:03d}/{path}"
        index //= 1000
    return path


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """The path of a tile below ``<prefix>/tile/`` (``level`` may be ``"entries"``)."""
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"{level}/{encode_tile_index(index)}{suffix}"


class _BadRequest(Exception):
    pass


def _parse_tile_path(path: str) -> tuple[int, int]:
    if len(path) > _MAX_TILE_PATH:
        raise _BadRequest("The tile path is longer than any tile index of this log.")
    match = _TILE_PATH_RE.match(path)
    if match is None:
        raise _BadRequest(f"The tile path {path!r} is not a C2SP tlog-tiles index path.")
    elements = [e[1:] for e in match.group(1).split("/") if e] + [match.group(2)]
    index = int("".join(elements))
    if index > MAX_INDEX // TILE_WIDTH:
        raise _BadRequest(f"The tile index {index} is beyond any size this log can reach.")
    width = TILE_WIDTH if match.group(3) is None else int(match.group(3))
    if width > TILE_WIDTH - 1 and match.group(3) is not None:
        raise _BadRequest(f"The partial tile width {width} is not between 1 and 255.")
    if not path.startswith(encode_tile_index(index)):
        raise _BadRequest(f"The tile path {path!r} is not in canonical form.")
    return index, width


def _decimal(request: web.Request, name: str) -> int:
    text = request.query.get(name)
    if text is None:
        raise _BadRequest(f"The query parameter {name!r} is required.")
    try:
        return parse_decimal(text, what=name, maximum=MAX_INDEX)
    except EncodingError as exc:
        raise _BadRequest(str(exc)) from exc


def _bad(exc: Exception) -> web.Response:
    return problem(400, str(exc))


async def get_key(request: web.Request) -> web.Response:
    """The log's note verifier key string, ``name+keyid+base64(0x01 || pubkey)``, newline-ended."""
    return web.Response(
        text=request.app[LOG_VERIFIER_KEY] + "\n",
        content_type=TEXT,
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


async def get_checkpoint(request: web.Request) -> web.Response:
    latest = await request.app[LOG_STORE].latest_checkpoint()
    if latest is None:
        return problem(503, "The log has not signed its first checkpoint yet.")
    view = request.app.get(LOG_CHECKPOINT_VIEW)
    return web.Response(
        text=latest.note if view is None else await view(latest),
        content_type=TEXT,
        charset="utf-8",
        headers={"Cache-Control": CHECKPOINT_CACHE},
    )


async def get_hash_tile(request: web.Request) -> web.Response:
    level_text = request.match_info["level"]
    try:
        if not _LEVEL_RE.match(level_text) or int(level_text) > 63:
            raise _BadRequest(f"The tile level {level_text!r} is not a number from 0 to 63.")
        index, width = _parse_tile_path(request.match_info["path"])
    except _BadRequest as exc:
        return _bad(exc)
    level = int(level_text)
    body = await request.app[LOG_STORE].hash_tile(level, index, width)
    if body is None:
        return problem(404, f"Tile {tile_path(level, index, width)} is beyond the current tree.")
    return web.Response(body=body, content_type=OCTETS, headers={"Cache-Control": IMMUTABLE})


async def get_entry_bundle(request: web.Request) -> web.Response:
    try:
        index, width = _parse_tile_path(request.match_info["path"])
    except _BadRequest as exc:
        return _bad(exc)
    body = await request.app[LOG_STORE].entry_bundle(index, width)
    if body is None:
        return problem(
            404, f"Entry bundle {tile_path('entries', index, width)} is beyond the current tree."
        )
    response = web.Response(body=body, content_type=OCTETS, headers={"Cache-Control": IMMUTABLE})
    # tlog-tiles: entry bundles SHOULD be compressed; aiohttp honours Accept-Encoding.
    response.enable_compression()
    return response


async def get_inclusion_proof(request: web.Request) -> web.Response:
    try:
        index, size = _decimal(request, "index"), _decimal(request, "size")
        hashes = await request.app[LOG_STORE].inclusion_proof(index, size)
    except (_BadRequest, LogRangeError) as exc:
        return _bad(exc)
    return web.json_response(
        {"index": index, "tree_size": size, "hashes": [b64u_encode(h) for h in hashes]},
        headers={"Cache-Control": IMMUTABLE},
    )


async def get_consistency_proof(request: web.Request) -> web.Response:
    try:
        first, second = _decimal(request, "from"), _decimal(request, "to")
        hashes = await request.app[LOG_STORE].consistency_proof(first, second)
    except (_BadRequest, LogRangeError) as exc:
        return _bad(exc)
    return web.json_response(
        {"from": first, "to": second, "hashes": [b64u_encode(h) for h in hashes]},
        headers={"Cache-Control": IMMUTABLE},
    )


async def get_tlog_proof(request: web.Request) -> web.Response:
    try:
        index = parse_decimal(request.match_info["index"], what="index", maximum=MAX_INDEX)
    except EncodingError as exc:
        return _bad(exc)
    store = request.app[LOG_STORE]
    latest = await store.latest_checkpoint()
    if latest is None or index >= latest.size:
        size = 0 if latest is None else latest.size
        return problem(404, f"Entry {index} is not in the log, whose tree size is {size}.")
    hashes = await store.inclusion_proof(index, latest.size)
    text = TlogProof(index, tuple(hashes), latest.note).to_text()
    return web.Response(
        text=text, content_type=TEXT, charset="utf-8", headers={"Cache-Control": NO_STORE}
    )
