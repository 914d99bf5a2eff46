"""Starting and stopping the relay's mail side with the relay: the outbox round writer on the
sequencer, the egress worker, and the SMTP listener when ``smtp`` (HOST:PORT) is set.

:func:`mail_context` is an aiohttp cleanup context that ``relay.app.create_app`` appends
after storage; :func:`start_mail` is the same without aiohttp, for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web

from relay.config import Limits
from relay.log.entry import RecordType
from relay.mail.config import MailConfig
from relay.mail.egress import EgressWorker, Smarthost
from relay.mail.handler import IngressHandler
from relay.mail.outbox import Outbox
from relay.mail.server import start_smtp
from relay.service import Backend


@dataclass
class MailRuntime:
    """What runs: each part is None when its configuration is absent."""

    outbox: Outbox | None
    worker: EgressWorker | None
    server: asyncio.Server | None

    @property
    def smtp_address(self) -> tuple[str, int] | None:
        """Where the SMTP listener is bound (the real port when 0 was asked for)."""
        if self.server is None or not self.server.sockets:
            return None
        host, port = self.server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    def wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    async def close(self) -> None:
        # Stop taking mail first, then let the worker settle the batch it is sending.
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)
        if self.worker is not None:
            await self.worker.close()


async def start_mail(
    backend: Backend,
    mail: MailConfig,
    limits: Limits,
    *,
    smtp: tuple[str, int] | None,
    clock: Callable[[], float] = time.time,
) -> MailRuntime:
    outbox = worker = None
    if mail.egress_enabled:
        outbox = Outbox(backend.sessions, mail.domain)
        backend.sequencer.add_round_writer(RecordType.ENVELOPE, outbox.queue_round)
        worker = EgressWorker(outbox, mail, Smarthost(mail), clock=clock)
        worker.start()
    runtime = MailRuntime(outbox, worker, None)
    if smtp is not None:
        handler = IngressHandler(backend, mail, limits, clock=clock, on_stored=runtime.wake)
        runtime.server = await start_smtp(handler, smtp[0], smtp[1], mail)
    return runtime


MAIL = web.AppKey("closedset.mail", MailRuntime)


async def mail_context(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: mail starts after storage and stops before it."""
    from relay.app import CONFIG
    from relay.http.common import BACKEND, CLOCK

    config = app[CONFIG]
    port = 25 if config.smtp_port is None else config.smtp_port  # 0: any free port
    smtp = None if config.smtp_host is None else (config.smtp_host, port)
    runtime = await start_mail(
        app[BACKEND], config.mail, config.limits, smtp=smtp, clock=app[CLOCK]
    )
    app[MAIL] = runtime
    try:
        yield
    finally:
        await runtime.close()
