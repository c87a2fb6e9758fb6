"""Real services the tests run on loopback: an OpenID Connect provider, a Web Push
service, an SMTP server, and Chromium helpers (axe-core, Lighthouse).

Each module offers a context manager (usable from `bench/` too) and a pytest fixture.
A test package uses a fixture by importing it into its conftest, e.g.
`from tests.support.smtp import smtp_server  # noqa: F401` (the session's Chromium,
`browser`, is registered for every test in tests/conftest.py). Every service binds
127.0.0.1 on a free port, stops at teardown, and fails the test (never skips it)
when it cannot start.
"""

import asyncio
import time
from typing import TypeVar

T = TypeVar("T")


async def wait_for_items(items: list[T], count: int, timeout_s: float, what: str) -> list[T]:
    """Until a service's thread has appended `count` items, without blocking the event
    loop (the sender may be running in it); fails naming how many arrived."""
    deadline = time.monotonic() + timeout_s
    while len(items) < count:
        assert time.monotonic() < deadline, f"{len(items)} of {count} {what} arrived"
        await asyncio.sleep(0.02)
    return items
