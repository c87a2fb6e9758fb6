"""Rate limits: at most `limit` hits of one key (an address, a user) per window, and
growing delays after repeated sign-in failures.

Fixed windows: the first hit of a key opens a window of `window_s` seconds and
every hit in it counts; past the limit, a hit is refused until the window ends,
and the refusal says when that is. Every limit is a setting, named in `RULES`.

Sign-in failures count per (handle, address): after `limit_sign_in_failures`, each
attempt from that address on that handle must wait 1 s, 2 s, 4 s... after the last
one (at most `limit_sign_in_max_delay_s`), and a success clears the count. Nobody
can lock another person out: the delays apply only where the failures came from.
An attempt reserves the delay it would earn by failing, so a burst of parallel
guesses gets one through, not all.

With EARSHOT_REDIS_URL set the counts live in Redis, so every server process shares
them; otherwise in this process's memory. If Redis cannot be reached, requests are
let through (and logged): a broken limiter must not lock everyone out.
EARSHOT_RATE_LIMITS=false turns all of it off (load tests and benchmarks).
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.config import Settings
from app.errors import ApiError, try_again_later

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window_s: int
    message: str = "Too many requests; wait a little."


# name: (setting that holds the limit, window in seconds, what a refused caller reads)
RULES: dict[str, tuple[str, int, str]] = {
    "upload": ("uploads_per_minute", 60, "Too many memos in a minute; wait a little."),
    "register": (
        "limit_registrations_per_hour", 3600,
        "Too many accounts were made from your network; try again later.",
    ),
    "text-post": (
        "limit_text_posts_per_minute", 60, "Too many messages in a minute; wait a little.",
    ),
    "reaction": (
        "limit_reactions_per_minute", 60, "Too many reactions in a minute; wait a little.",
    ),
    "position": (
        "limit_positions_per_minute", 60, "Too many listening positions saved; wait a little.",
    ),
    "group-create": ("limit_groups_per_hour", 3600, "Too many new groups in an hour."),
    "invite-create": ("limit_invites_per_hour", 3600, "Too many invite links in an hour."),
    "member-add": ("limit_member_adds_per_hour", 3600, "Too many members added in an hour."),
    "report": ("limit_reports_per_hour", 3600, "Too many reports in an hour."),
    "password-reset": (
        "limit_password_resets_per_hour", 3600, "Too many password resets; try again later.",
    ),
    "password-reset-login": (
        "limit_password_resets_per_hour", 3600,
        "Too many password resets for this account; try again later.",
    ),
    "email-token": (
        "limit_email_tokens_per_hour", 3600, "Too many links tried; try again later.",
    ),
    "push-subscribe": (
        "limit_push_subscriptions_per_hour", 3600,
        "Too many push subscriptions in an hour; try again later.",
    ),
    "oidc-start": (
        "limit_oidc_starts_per_hour", 3600, "Too many sign-ins started; try again later.",
    ),
    "avatar": (
        "limit_avatar_uploads_per_hour", 3600, "Too many new avatars in an hour; try again later.",
    ),
    "export": ("limit_exports_per_day", 86400, "Too many data exports today; try tomorrow."),
    "group-export": (
        "limit_group_exports_per_day", 86400, "Too many exports of this group today; try tomorrow.",
    ),
    "verification-mail": (
        "limit_verification_mails_per_hour", 3600,
        "Too many verification mails in an hour; try again later.",
    ),
}  # fmt: skip


def rule(settings: Settings, name: str) -> Rule:
    """The rule called `name`, with its limit as configured now."""
    setting, window_s, message = RULES[name]
    return Rule(name, int(getattr(settings, setting)), window_s, message)


class Limiter(Protocol):
    async def hit(self, rule: Rule, key: str) -> float:
        """Count one hit; 0 if allowed, else the seconds until the window ends."""
        ...

    async def reserve(self, key: str, delays: "Delays") -> float:
        """0 if `key` may try now (reserving the delay a failure would earn), else the wait."""
        ...

    async def failed(self, key: str, delays: "Delays") -> None:
        """Count one failure of `key`."""
        ...

    async def clear(self, key: str) -> None:
        """Forget `key`'s failures (it succeeded)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Delays:
    """After `free` failures, attempt n+1 waits 2**(n - free) s after the last, up to `max_s`."""

    free: int
    max_s: float
    forget_after_s: float  # failures this old (since the last one) are forgotten

    def after(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return float(min(2 ** min(failures - self.free, 30), self.max_s))


class MemoryLimiter:
    """Counts in this process; ended windows are dropped once a minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}  # -> (ends at, hits)
        self._failures: dict[str, tuple[int, float, float]] = {}  # -> (count, next, forget at)
        self._next_prune = 0.0

    def _prune(self, now: float) -> None:
        if now >= self._next_prune:
            self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
            self._failures = {k: f for k, f in self._failures.items() if f[2] > now}
            self._next_prune = now + 60

    async def hit(self, rule: Rule, key: str) -> float:
        now = self._clock()
        self._prune(now)
        ends, count = self._windows.get((rule.name, key), (0.0, 0))
        if ends <= now:
            ends, count = now + rule.window_s, 0
        self._windows[(rule.name, key)] = (ends, count + 1)
        return ends - now if count >= rule.limit else 0.0

    def _current(self, key: str, now: float) -> tuple[int, float, float]:
        count, next_at, forget_at = self._failures.get(key, (0, 0.0, 0.0))
        return (count, next_at, forget_at) if forget_at > now else (0, 0.0, 0.0)

    async def reserve(self, key: str, delays: Delays) -> float:
        now = self._clock()
        self._prune(now)
        count, next_at, _ = self._current(key, now)
        if now < next_at:
            return next_at - now
        if wait := delays.after(count + 1):
            self._failures[key] = (count, now + wait, now + delays.forget_after_s)
        return 0.0

    async def failed(self, key: str, delays: Delays) -> None:
        now = self._clock()
        count, next_at, _ = self._current(key, now)
        self._failures[key] = (count + 1, next_at, now + delays.forget_after_s)

    async def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    async def close(self) -> None:
        self._windows.clear()
        self._failures.clear()


# KEYS[1]: the failures hash {n, next}; ARGV: now, free, max delay, forget after.
_RESERVE = """
local v = redis.call('HMGET', KEYS[1], 'n', 'next')
local n = tonumber(v[1]) or 0
local nxt = tonumber(v[2]) or 0
local now = tonumber(ARGV[1])
if now < nxt then return tostring(nxt - now) end
local over = n + 1 - tonumber(ARGV[2])
if over >= 0 then
  local wait = math.min(2 ^ math.min(over, 30), tonumber(ARGV[3]))
  redis.call('HSET', KEYS[1], 'next', tostring(now + wait))
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[4])))
end
return '0'
"""


class RedisLimiter:
    """Counts in Redis: INCR, and an expiry set by the hit that opened the window."""

    def __init__(self, url: str, prefix: str = "earshot:limit:") -> None:
        self._client = redis.from_url(url)
        self._prefix = prefix
        self._reserve = self._client.register_script(_RESERVE)

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

    def _failures_key(self, key: str) -> str:
        return f"{self._prefix}failures:{key}"

    async def reserve(self, key: str, delays: Delays) -> float:
        args = [time.time(), delays.free, delays.max_s, delays.forget_after_s]
        try:
            wait = await self._reserve(keys=[self._failures_key(key)], args=args)
        except RedisError:
            log.warning("sign-in delay not checked: Redis is unreachable", exc_info=True)
            return 0.0
        return float(wait)

    async def failed(self, key: str, delays: Delays) -> None:
        name = self._failures_key(key)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hincrby(name, "n", 1)
                pipe.expire(name, math.ceil(delays.forget_after_s))
                await pipe.execute()
        except RedisError:
            log.warning("sign-in failure not counted: Redis is unreachable", exc_info=True)

    async def clear(self, key: str) -> None:
        try:
            await self._client.delete(self._failures_key(key))
        except RedisError:
            log.warning("sign-in failures not cleared: Redis is unreachable", exc_info=True)

    async def close(self) -> None:
        await self._client.aclose()


class Unlimited:
    """EARSHOT_RATE_LIMITS=false: every hit and every attempt is allowed."""

    async def hit(self, rule: Rule, key: str) -> float:
        return 0.0

    async def reserve(self, key: str, delays: Delays) -> float:
        return 0.0

    async def failed(self, key: str, delays: Delays) -> None:
        return None

    async def clear(self, key: str) -> None:
        return None

    async def close(self) -> None:
        return None


def open_limiter(settings: Settings) -> Limiter:
    if not settings.rate_limits:
        return Unlimited()
    return RedisLimiter(settings.redis_url) if settings.redis_url else MemoryLimiter()


def rate_limited(message: str, retry_after_s: float) -> ApiError:
    return try_again_later(message, code="rate_limited", status=429, retry_after_s=retry_after_s)


async def enforce(limiter: Limiter, rule: Rule, key: str, message: str | None = None) -> None:
    """Count a hit of `key`; raise 429 with Retry-After when it is over the limit."""
    wait = await limiter.hit(rule, key)
    if wait > 0:
        raise rate_limited(message or rule.message, wait)


def sign_in_delays(settings: Settings) -> Delays:
    max_s = float(settings.limit_sign_in_max_delay_s)
    return Delays(settings.limit_sign_in_failures, max_s, max(settings.login_window_s, 2 * max_s))
