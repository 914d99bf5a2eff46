"""``GET /v1/stream``: a WebSocket of new envelopes in the caller's threads (signed upgrade).

Server to client, one JSON text frame per envelope committed after the connection opened::

    {"type": "envelope", "thread": b64u, "hash": hex, "sequence": n, "index": n,
     "envelope": {...}}

Nothing is read from the client (frames it sends are ignored). The relay closes with code
4000 when the client falls too far behind (reconnect and page from the last sequence seen)
and with 1001 on shutdown. Envelopes of a thread the caller was removed from stop arriving.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

from aiohttp import WSMsgType, web

from relay.http.auth import caller
from relay.http.common import backend

LAGGED = 4000
HEARTBEAT = 30.0


async def get_stream(request: web.Request) -> web.WebSocketResponse:
    who = caller(request)
    # Subscribe before the handshake completes, so nothing committed after it is missed.
    subscription = backend(request).hub.subscribe(who)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT)
    try:
        await ws.prepare(request)
        reader = asyncio.create_task(_drain(ws))
        try:
            while not ws.closed:
                message = await _next_or_closed(subscription.next(), reader)
                if message is None:
                    break
                await ws.send_json(message)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if not ws.closed:
            if subscription.lagged:
                await ws.close(code=LAGGED, message=b"too far behind; page to catch up")
            else:
                await ws.close(code=1001, message=b"relay shutting down")
    finally:
        subscription.close()
    return ws


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, so its close frame is noticed."""
    async for message in ws:
        if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            break


async def _next_or_closed(
    next_message: Awaitable[dict[str, Any] | None], reader: asyncio.Task[None]
) -> dict[str, Any] | None:
    getter = asyncio.ensure_future(next_message)
    done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return getter.result()
    getter.cancel()
    return None
