"""Rate limits: at most `limit` hits of one key (a handle, an address, a user) per window.

Fixed windows: the first hit of a key opens a window of `window_s` seconds and
every hit in it counts; past the limit, a hit is refused until the window ends,
and the refusal says when that is. With EARSHOT_REDIS_URL set the counts live in
Redis, so every server process shares them; otherwise in this process's memory.
If Redis cannot be reached, requests are let through (and logged): a broken
limiter must not lock everyone out.
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.errors import ApiError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window_s: int


class Limiter(Protocol):
    async def hit(self, rule: Rule, key: str) -> float:
        """Count one hit; 0 if allowed, else the seconds until the window ends."""
        ...

    async def close(self) -> None: ...


class MemoryLimiter:
    """Counts in this process; ended windows are dropped once a minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}  # -> (ends at, hits)
        self._next_prune = 0.0

    async def hit(self, rule: Rule, key: str) -> float:
        now = self._clock()
        if now >= self._next_prune:
            self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
            self._next_prune = now + 60
        ends, count = self._windows.get((rule.name, key), (0.0, 0))
        if ends <= now:
            ends, count = now + rule.window_s, 0
        self._windows[(rule.name, key)] = (ends, count + 1)
        return ends - now if count >= rule.limit else 0.0

    async def close(self) -> None:
        self._windows.clear()


class RedisLimiter:
    """Counts in Redis: INCR, and an expiry set by the hit that opened the window."""

    def __init__(self, url: str, prefix: str = "earshot:limit:") -> None:
        self._client = redis.from_url(url)
        self._prefix = prefix

    async def hit(self, rule: Rule, key: str) -> float:
        name = f"{self._prefix}{rule.name}:{key}"
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, rule.window_s, nx=True)
                pipe.pttl(name)
                count, _, ttl_ms = await pipe.execute()
        except RedisError:
            log.warning("rate limit %s not checked: Redis is unreachable", rule.name, exc_info=True)
            return 0.0
        return max(ttl_ms, 1) / 1000 if count > rule.limit else 0.0

    async def close(self) -> None:
        await self._client.aclose()


def open_limiter(redis_url: str | None) -> Limiter:
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()


def rate_limited(message: str, retry_after_s: float) -> ApiError:
    seconds = max(1, math.ceil(retry_after_s))
    return ApiError(
        message,
        code="rate_limited",
        status=429,
        details={"retry_after_s": seconds},
        headers={"Retry-After": str(seconds)},
    )


async def enforce(limiter: Limiter, rule: Rule, key: str, message: str) -> None:
    """Count a hit of `key`; raise 429 with Retry-After when it is over the limit."""
    wait = await limiter.hit(rule, key)
    if wait > 0:
        raise rate_limited(message, wait)
