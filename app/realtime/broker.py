"""Fan-out between server processes: publish bytes on a channel, subscribe to a channel.

The database is the truth; the broker only carries notifications. Interim
in-process implementation (the Redis backend follows with the realtime hub).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol


class SubscriptionLost(Exception):
    """The subscriber fell too far behind; it must resume from the database."""


class Subscription:
    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize)
        self.lost = False

    def deliver(self, message: bytes) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.lost = True

    async def get(self) -> bytes:
        if self.lost:
            raise SubscriptionLost
        message = await self._queue.get()
        if message is None:
            raise SubscriptionLost
        return message

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while True:
            yield await self.get()


class Broker(Protocol):
    async def connect(self) -> None: ...
    async def disconnect(self) -> None: ...
    async def ping(self) -> None: ...
    async def publish(self, channel: str, message: bytes) -> None: ...
    def subscribe(self, channel: str) -> "asynccontextmanager[Subscription]": ...  # type: ignore[valid-type]


class MemoryBroker:
    def __init__(self, queue_size: int = 10_000) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[str, set[Subscription]] = {}

    async def connect(self) -> None:
        pass

    async def disconnect(self) -> None:
        self._subscribers.clear()

    async def ping(self) -> None:
        pass

    async def publish(self, channel: str, message: bytes) -> None:
        for subscription in self._subscribers.get(channel, ()):
            subscription.deliver(message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(self._queue_size)
        self._subscribers.setdefault(channel, set()).add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[channel].discard(subscription)


def open_broker(redis_url: str | None) -> Broker:
    if redis_url:
        raise ValueError("Redis fan-out is not available yet")
    return MemoryBroker()
