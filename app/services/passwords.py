"""Passwords: what a new one must be, and Argon2id hashing on executors of its own.

Hashing is deliberately slow (tens of milliseconds of CPU and 64 MiB each), so it
never runs on the event loop nor on the default thread pool that file work shares:
new hashes (registrations, password changes) run on one executor, checks at sign-in
on another, each with a bounded queue. A flood of registrations then waits behind
itself (or is refused 503 with Retry-After once the queue is full) while sign-ins go on.

A new password has at least MIN_LENGTH characters, is not only whitespace, does not
contain the handle, and is not one of the 30,000 most common passwords (the list that
the `zxcvbn` package ships, from its `frequency_lists`; checked lower-cased, with and
without its spaces).
"""

import asyncio
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache, lru_cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.config import Settings
from app.errors import Invalid, busy

MIN_LENGTH = 10
T = TypeVar("T")


@cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # ~1 MB of lists: loaded on first use

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_new_password(password: str, handle: str) -> None:
    """Refuse a weak new password with 422 `weak_password`, saying why."""

    def weak(message: str, reason: str) -> Invalid:
        return Invalid(message, code="weak_password", details={"reason": reason})

    if len(password) < MIN_LENGTH:
        raise weak(f"Use at least {MIN_LENGTH} characters.", "too_short")
    if not password.strip():
        raise weak("A password cannot be only spaces.", "whitespace")
    lowered = password.lower()
    if handle and handle.lower() in lowered:
        raise weak("A password cannot contain your handle.", "contains_handle")
    common = _common_passwords()
    if lowered in common or "".join(lowered.split()) in common:
        raise weak("That password is one of the most common ones; choose another.", "common")


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


class _Executor:
    """A thread pool that admits at most `workers + queue` jobs; past that, 503."""

    def __init__(self, name: str, workers: int, queue: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix=name)
        self._capacity = max(workers, 1) + max(queue, 0)
        self.in_flight = 0

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if self.in_flight >= self._capacity:
            raise busy("The server is busy checking passwords; try again in a moment.", 2)
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self.in_flight -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Passwords:
    """Hashing and checking passwords with the configured Argon2id parameters."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._hashing = _Executor("hash", settings.hash_workers, settings.hash_queue)
        self._checking = _Executor("verify", settings.verify_workers, settings.hash_queue)
        self._dummy: str | None = None

    @property
    def hasher(self) -> PasswordHasher:
        """The hasher for the parameters configured now (an operator may strengthen them)."""
        s = self.settings
        return _hasher(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism)

    async def hash(self, password: str) -> str:
        return await self._hashing.run(self.hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches `stored`; None (no such account) costs the same time."""
        if stored is None:
            if self._dummy is None:
                self._dummy = await self._hashing.run(self.hasher.hash, secrets.token_urlsafe(16))
            stored = self._dummy
        try:
            return bool(await self._checking.run(self.hasher.verify, stored, password))
        except (VerificationError, InvalidHashError):
            return False

    @property
    def hashing_backlog(self) -> int:
        """New hashes running or waiting (for benchmarks and tests)."""
        return self._hashing.in_flight

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)

    def close(self) -> None:
        self._hashing.close()
        self._checking.close()
