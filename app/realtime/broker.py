"""Fan-out between server processes: publish bytes on a channel, subscribe to a channel.

The database is the truth; the broker only carries notifications. Two small
backends with the same four verbs (after encode's broadcaster): in-process for
one server, Redis pub/sub for several. A subscriber that falls too far behind,
or whose Redis connection drops, gets `SubscriptionLost` instead of a silent
gap, and resumes from the database.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.aio import cancel_and_wait

log = logging.getLogger(__name__)


class SubscriptionLost(Exception):
    """Messages may have been missed; the subscriber must catch up from the database."""


class Subscription:
    """Messages of one channel for one subscriber, in publish order."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize)
        self._lost = False

    def deliver(self, message: bytes) -> None:
        if self._lost:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.fail()

    def fail(self) -> None:
        self._lost = True
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    async def get(self) -> bytes:
        message = None if self._lost and self._queue.empty() else await self._queue.get()
        if message is None or self._lost:
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
    def subscribe(self, channel: str) -> AbstractAsyncContextManager[Subscription]: ...


class _Fanout:
    """Local subscribers by channel, shared by both backends."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self.subscribers: dict[str, set[Subscription]] = {}

    def add(self, channel: str) -> tuple[Subscription, bool]:
        subscription = Subscription(self.queue_size)
        first = channel not in self.subscribers
        self.subscribers.setdefault(channel, set()).add(subscription)
        return subscription, first

    def remove(self, channel: str, subscription: Subscription) -> bool:
        """Returns True when that was the channel's last subscriber."""
        subs = self.subscribers.get(channel)
        if subs is None:
            return False
        subs.discard(subscription)
        if subs:
            return False
        del self.subscribers[channel]
        return True

    def deliver(self, channel: str, message: bytes) -> None:
        for subscription in self.subscribers.get(channel, ()):
            subscription.deliver(message)

    def fail_all(self) -> None:
        for subs in self.subscribers.values():
            for subscription in subs:
                subscription.fail()


class MemoryBroker:
    def __init__(self, queue_size: int = 10_000) -> None:
        self._local = _Fanout(queue_size)

    async def connect(self) -> None:
        pass

    async def disconnect(self) -> None:
        self._local.fail_all()

    async def ping(self) -> None:
        pass

    async def publish(self, channel: str, message: bytes) -> None:
        self._local.deliver(channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        subscription, _ = self._local.add(channel)
        try:
            yield subscription
        finally:
            self._local.remove(channel, subscription)


class RedisBroker:
    """One pub/sub connection per process for every channel, read by one task."""

    def __init__(self, url: str, prefix: str = "earshot:", queue_size: int = 10_000) -> None:
        self._url = url
        self._prefix = prefix
        self._local = _Fanout(queue_size)
        self._client: redis.Redis | None = None
        self._pubsub: redis.client.PubSub | None = None
        self._confirmed: dict[str, asyncio.Event] = {}
        self._wake = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self._client = redis.from_url(self._url)
        try:
            await self._client.ping()  # fail at start-up, not at the first message
        except BaseException:
            await self._client.aclose()
            raise
        self._pubsub = self._client.pubsub()
        self._reader = asyncio.create_task(self._read())

    async def disconnect(self) -> None:
        if self._reader:
            await cancel_and_wait([self._reader])
        self._local.fail_all()
        if self._pubsub:
            await self._pubsub.aclose()
        if self._client:
            await self._client.aclose()

    async def ping(self) -> None:
        assert self._client is not None
        await self._client.ping()

    async def publish(self, channel: str, message: bytes) -> None:
        assert self._client is not None
        await self._client.publish(self._prefix + channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        assert self._pubsub is not None
        subscription, first = self._local.add(channel)
        try:
            if first:
                confirmed = self._confirmed[channel] = asyncio.Event()
                await self._pubsub.subscribe(self._prefix + channel)
                self._wake.set()
                await asyncio.wait_for(confirmed.wait(), 10)
            else:
                await self._confirmed[channel].wait()
            yield subscription
        finally:
            if self._local.remove(channel, subscription):
                self._confirmed.pop(channel, None)
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(self._prefix + channel)

    async def _read(self) -> None:
        while True:
            pubsub = self._pubsub
            assert pubsub is not None
            if not pubsub.subscribed:
                await self._wake.wait()
                self._wake.clear()
                continue
            try:
                message = await pubsub.get_message(timeout=1.0)
            except (RedisError, OSError):
                log.warning("the Redis pub/sub connection dropped", exc_info=True)
                await self._reset()
                continue
            if message is None:
                continue
            channel = message["channel"].decode().removeprefix(self._prefix)
            if message["type"] == "subscribe" and channel in self._confirmed:
                self._confirmed[channel].set()
            elif message["type"] == "message":
                self._local.deliver(channel, message["data"])

    async def _reset(self) -> None:
        """Subscribers learn that they may have missed messages; new ones start afresh."""
        self._local.fail_all()
        self._local.subscribers.clear()
        self._confirmed.clear()
        assert self._client is not None and self._pubsub is not None
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()
        self._pubsub = self._client.pubsub()
        await asyncio.sleep(0.5)


def open_broker(redis_url: str | None) -> Broker:
    """The in-process broker, or Redis when a URL is configured."""
    return RedisBroker(redis_url) if redis_url else MemoryBroker()
