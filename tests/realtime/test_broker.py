"""The fan-out broker, in-process and on a real Redis (when EARSHOT_TEST_REDIS_URL is set)."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import RedisError

from app.realtime.broker import Broker, MemoryBroker, RedisBroker, SubscriptionLost

REDIS_URL = os.environ.get("EARSHOT_TEST_REDIS_URL")
BACKENDS = ["memory"] + (["redis"] if REDIS_URL else [])


def make(backend: str, prefix: str, queue_size: int = 10_000) -> Broker:
    if backend == "memory":
        return MemoryBroker(queue_size)
    assert REDIS_URL
    return RedisBroker(REDIS_URL, prefix=prefix, queue_size=queue_size)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def prefix() -> str:
    return f"earshot-test-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def broker(backend: str, prefix: str) -> AsyncIterator[Broker]:
    b = make(backend, prefix)
    await b.connect()
    yield b
    await b.disconnect()


async def test_messages_arrive_in_order_to_every_subscriber_of_the_channel(
    broker: Broker,
) -> None:
    async with broker.subscribe("a") as first, broker.subscribe("a") as second:
        async with broker.subscribe("b") as other:
            for i in range(100):
                await broker.publish("a", str(i).encode())
            expected = [str(i).encode() for i in range(100)]
            assert [await first.get() for _ in range(100)] == expected
            assert [await second.get() for _ in range(100)] == expected
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(other.get(), 0.2)


async def test_every_byte_value_arrives_unchanged(broker: Broker) -> None:
    payload = bytes(range(256)) * 4
    async with broker.subscribe("bin") as sub:
        await broker.publish("bin", payload)
        assert await asyncio.wait_for(sub.get(), 5) == payload


async def test_leaving_stops_delivery(broker: Broker) -> None:
    async with broker.subscribe("c") as stays:
        async with broker.subscribe("c") as leaves:
            await broker.publish("c", b"1")
            assert await leaves.get() == b"1"
        await broker.publish("c", b"2")
        assert [await stays.get(), await stays.get()] == [b"1", b"2"]
    async with broker.subscribe("c") as again:
        await broker.publish("c", b"3")
        assert await asyncio.wait_for(again.get(), 5) == b"3"


async def test_a_slow_subscriber_is_told_it_lost_messages_and_others_go_on(
    backend: str, prefix: str
) -> None:
    broker = make(backend, prefix, queue_size=10)
    await broker.connect()
    try:
        async with broker.subscribe("d") as slow, broker.subscribe("d") as fast:
            for i in range(30):
                await broker.publish("d", str(i).encode())
                assert await asyncio.wait_for(fast.get(), 5) == str(i).encode()
            with pytest.raises(SubscriptionLost):
                while True:
                    await asyncio.wait_for(slow.get(), 5)
    finally:
        await broker.disconnect()


async def test_ping_answers(broker: Broker) -> None:
    await broker.ping()


if REDIS_URL:

    async def test_two_processes_see_each_others_messages(prefix: str) -> None:
        one, two = make("redis", prefix), make("redis", prefix)
        await one.connect()
        await two.connect()
        try:
            async with one.subscribe("e") as on_one, two.subscribe("e") as on_two:
                await one.publish("e", b"from one")
                await two.publish("e", b"from two")
                for sub in (on_one, on_two):
                    got = {await asyncio.wait_for(sub.get(), 5) for _ in range(2)}
                    assert got == {b"from one", b"from two"}
        finally:
            await one.disconnect()
            await two.disconnect()

    async def test_unreachable_redis_fails_at_connect() -> None:
        broker = RedisBroker("redis://127.0.0.1:1/0")
        with pytest.raises(RedisError):
            await broker.connect()
