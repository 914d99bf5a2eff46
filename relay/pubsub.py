"""In-process push of new envelopes to the WebSocket streams of their readers.

One :class:`Hub` per relay process. A publisher names the readers (the envelope's recipients
that were current members when it committed), so a removed member, or a member the envelope
is not addressed to, is simply not named. A
relay run as several processes on PostgreSQL would need a shared channel (LISTEN/NOTIFY)
feeding every process's hub; this single-process hub is what the relay has today.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

DEFAULT_QUEUE = 256


class Subscription:
    """One stream's queue. A subscriber that falls ``maxsize`` messages behind is cut off
    (``lagged``) instead of slowing everyone: it reconnects and pages to catch up."""

    def __init__(self, hub: Hub, identity_key: bytes, maxsize: int) -> None:
        self.identity_key = identity_key
        self.lagged = False
        self._hub = hub
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize + 1)
        self._maxsize = maxsize

    def offer(self, message: dict[str, Any]) -> None:
        if self.lagged:
            return
        if self._queue.qsize() >= self._maxsize:
            self.lagged = True
            self._queue.put_nowait(None)
            return
        self._queue.put_nowait(message)

    async def next(self) -> dict[str, Any] | None:
        """The next message, or None once the subscription lagged or the hub closed."""
        return await self._queue.get()

    def end(self) -> None:
        if self._queue.full():
            return
        self._queue.put_nowait(None)

    def close(self) -> None:
        self._hub.unsubscribe(self)


class Hub:
    """Who is listening, by identity key."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[bytes, set[Subscription]] = {}

    def subscribe(self, identity_key: bytes) -> Subscription:
        subscription = Subscription(self, identity_key, self._queue_size)
        self._subscribers.setdefault(identity_key, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.identity_key)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.identity_key]

    def listening(self, readers: Iterable[bytes]) -> bool:
        """Whether any of ``readers`` has a stream open (else a message need not be built)."""
        subscribers = self._subscribers
        return bool(subscribers) and any(reader in subscribers for reader in readers)

    def publish(self, readers: Iterable[bytes], message: dict[str, Any]) -> None:
        for reader in readers:
            for subscription in self._subscribers.get(reader, ()):
                subscription.offer(message)

    def close(self) -> None:
        """End every stream (shutdown)."""
        for subscribers in list(self._subscribers.values()):
            for subscription in list(subscribers):
                subscription.end()
