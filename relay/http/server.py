"""The relay's HTTP connections: aiohttp's protocol with the bounds a public service needs.

:class:`RelayRunner` is ``web.AppRunner`` whose connections are :class:`GuardedRequestHandler`:

- a connection from an address that already holds ``limits.connections_per_address`` is
  answered ``429`` and closed before anything is read;
- the head of every request (request line and headers) must arrive within
  ``limits.header_timeout`` seconds of its first byte, else ``408`` and the connection closes
  (aiohttp bounds only the idle time between requests, its keep-alive timeout, which the
  relay's application sets to ``limits.keepalive_timeout`` through ``handler_args``);
- aiohttp's own refusals (a malformed request line, header or method, an oversized header)
  become problem+json that never quotes the request's bytes, instead of aiohttp's text/plain
  that echoes them.

This leans on aiohttp internals (``RequestHandler.handle_error``, ``data_received`` and
``_current_request``/``_messages``, ``Server._kwargs``/``_loop``), which is why pyproject.toml
pins aiohttp's version range; tests/relay/test_strangers.py drives every path over sockets.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from relay.config import Limits
from relay.problem import problem

_log = logging.getLogger(__name__)

_DETAIL = {
    400: "The request is not well-formed HTTP/1.1; the API is described at /openapi.json.",
    408: "The request's headers did not arrive in time; send the whole request at once.",
    413: "A request line or header is longer than this relay accepts.",
    429: "Too many open connections from this address; close some and try again.",
    431: "The request's headers are larger than this relay accepts.",
    501: "This relay does not implement that HTTP method; see /openapi.json.",
}


def raw_problem(status: int, detail: str, retry_after: int | None = None) -> bytes:
    """A complete HTTP/1.1 problem+json response that closes the connection, as bytes."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
        }
    ).encode("utf-8")
    extra = f"Retry-After: {retry_after}\r\n" if retry_after is not None else ""
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/problem+json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        f"{extra}Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedRequestHandler(RequestHandler):
    """One HTTP connection, bounded per address and in how long its headers may take."""

    def __init__(self, manager: GuardedServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = manager
        self._peer: str | None = None
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if self._guard.open_connections[address] >= self._guard.limits.connections_per_address:
            _log.info("HTTP connection refused: too many from one address")
            self._refuse(429, retry_after=1)
            return
        self._peer = address
        self._guard.open_connections[address] += 1

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_head_timer()
        if self._peer is not None:
            self._guard.open_connections[self._peer] -= 1
            if self._guard.open_connections[self._peer] <= 0:
                del self._guard.open_connections[self._peer]
            self._peer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        awaiting_head = self._current_request is None and not self._messages
        super().data_received(data)
        if self._current_request is None and not self._messages and not self._upgraded:
            # Part of a request head: from its first byte the whole head has a deadline.
            if awaiting_head and self._head_timer is None and data:
                self._head_timer = self._loop.call_later(
                    self._guard.limits.header_timeout, self._head_too_slow
                )
        else:
            self._cancel_head_timer()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._current_request is None and not self._messages and self.transport is not None:
            _log.info("HTTP connection closed: request headers too slow")
            self._refuse(408)

    def _refuse(self, status: int, retry_after: int | None = None) -> None:
        if self.transport is not None:
            self.transport.write(raw_problem(status, _DETAIL[status], retry_after))
        self.force_close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's own refusals, as problem+json that does not repeat the request's bytes."""
        _log.info("HTTP request refused by the parser: %s (%s)", status, type(exc).__name__)
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response")
        if status >= 500 and status != 501:
            response = problem(500, "The relay failed to answer this request; try again later.")
        else:
            detail = _DETAIL.get(status, _DETAIL[400])
            response = problem(status, detail)
        response.force_close()
        return response


class GuardedServer(Server):
    """aiohttp's connection factory, making :class:`GuardedRequestHandler` connections."""

    def __init__(self, *args: Any, limits: Limits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.open_connections: Counter[str] = Counter()

    def __call__(self) -> GuardedRequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, **self._kwargs)


class RelayRunner(web.AppRunner):
    """``web.AppRunner`` for the relay: its server bounds connections (see the module)."""

    def __init__(self, app: web.Application, *, limits: Limits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._limits = limits

    async def _make_server(self) -> Server:
        plain = await super()._make_server()
        return GuardedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            limits=self._limits,
            **plain._kwargs,
        )
