"""``GET /v1/stream``: a WebSocket of new envelopes in the caller's threads (signed upgrade).

Server to client, one JSON text frame per envelope committed after the connection opened::

    {"type": "envelope", "thread": b64u, "hash": hex, "sequence": n, "index": n,
     "envelope": {...}}

Nothing is read from the client (frames it sends are ignored). One address may hold
``limits.streams_per_address`` streams and one identity ``limits.streams_per_identity``; past
either the upgrade is refused with 429 and nothing is subscribed. The relay closes with code
4000 when the client falls too far behind (reconnect and page from the last sequence seen)
and with 1001 on shutdown. Envelopes of a thread the caller was removed from stop arriving.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Iterator
from typing import Any

from aiohttp import WSMsgType, web

from relay.config import Limits
from relay.http.auth import caller
from relay.http.common import backend
from relay.problem import problem

LAGGED = 4000
HEARTBEAT = 30.0


class OpenStreams:
    """How many streams each address and each identity holds open in this process."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.by_address: Counter[str] = Counter()
        self.by_identity: Counter[bytes] = Counter()

    def refusal(self, address: str, identity: bytes) -> str | None:
        if self.by_address[address] >= self.limits.streams_per_address:
            return f"This address already holds {self.limits.streams_per_address} streams"
        if self.by_identity[identity] >= self.limits.streams_per_identity:
            return f"This identity already holds {self.limits.streams_per_identity} streams"
        return None

    @contextlib.contextmanager
    def held(self, address: str, identity: bytes) -> Iterator[None]:
        self.by_address[address] += 1
        self.by_identity[identity] += 1
        try:
            yield
        finally:
            self.by_address[address] -= 1
            self.by_identity[identity] -= 1
            # Counter keeps zero entries; drop them so the maps only hold open streams.
            self.by_address += Counter()
            self.by_identity += Counter()


STREAMS = web.AppKey("closedset.streams", OpenStreams)


async def get_stream(request: web.Request) -> web.StreamResponse:
    who = caller(request)
    address = request.remote or ""
    streams = request.app[STREAMS]
    refusal = streams.refusal(address, who)
    if refusal is not None:
        return problem(429, f"{refusal}; close one and try again.", headers={"Retry-After": "10"})
    with streams.held(address, who):
        return await _stream(request, who)


async def _stream(request: web.Request, who: bytes) -> web.WebSocketResponse:
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
