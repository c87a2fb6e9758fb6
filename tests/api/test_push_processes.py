"""Pushes across real `earshot serve` processes sharing one database: a SIGKILL in the
middle loses none and doubles none, and two processes sending at once send each once."""

import asyncio
import sqlite3
import time
from collections import Counter
from pathlib import Path

import httpx

from app.config import new_vapid_key
from tests.api.push_support import subscribed
from tests.helpers import Api, Person
from tests.process import ServerProcess
from tests.support.push_service import PushService, Subscription
from tests.support.push_service import push_service as push_service  # noqa: F401 (fixture)


def shared_settings(tmp_path: Path) -> dict[str, str]:
    return {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        "secret_key": "shared by every process",
        "vapid_private_key": new_vapid_key(),
        "push_allow_insecure": "true",
        "outbox_retry_s": "0.2",
        "lease_s": "2",
        "rate_limits": "false",
        "transcripts": "false",
        "argon2_time_cost": "1",
        "argon2_memory_kib": "1024",
        "argon2_parallelism": "1",
    }


def outbox_rows(tmp_path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(tmp_path / "shared.db") as db:
        return list(db.execute("SELECT channel, attempts FROM outbox WHERE failed_at IS NULL"))


async def until(condition: object, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def scene(
    url: str, push: PushService
) -> tuple[str, Person, list[Subscription], httpx.AsyncClient]:
    http = httpx.AsyncClient(base_url=url, timeout=30)
    api = Api(http)
    amy, ben, cat = [await api.register(n) for n in ("amy", "ben", "cat")]
    gid = await api.group(amy)
    for who in (ben, cat):
        await api.add(amy, gid, who)
    return gid, amy, [await subscribed(api, push, who) for who in (ben, cat)], http


def sends(tmp_path: Path) -> tuple[int, bool]:
    """How many pushes wait to be sent, and whether 5 or more were tried already."""
    rows = [tries for channel, tries in outbox_rows(tmp_path) if channel == "push.send"]
    return len(rows), sum(1 for tries in rows if tries) >= 5


def arrived(subs: list[Subscription]) -> list[Counter[str]]:
    return [Counter(m.json()["message_id"] for m in sub.messages) for sub in subs]


async def test_a_kill_in_the_middle_neither_loses_nor_doubles_a_push(
    tmp_path: Path, push_service: PushService
) -> None:
    shared = shared_settings(tmp_path)
    first = ServerProcess(tmp_path / "a", **shared).start()
    try:
        gid, amy, subs, http = await scene(first.url, push_service)
        for sub in subs:
            sub.answer(503)  # the push service is down: pushes wait, retried and claimed
        api = Api(http)
        posted = [(await api.post(amy, gid, f"note {n}"))["id"] for n in range(5)]
        await http.aclose()
        # Every message fanned out to its 10 sends (a loaded machine may take a while),
        # and at least 5 of them tried and refused.
        await until(lambda: sends(tmp_path) == (10, True))
    finally:
        first.kill()
    pending = [row for row in outbox_rows(tmp_path) if row[0] == "push.send"]
    assert len(pending) == 10, "every push is queued, none sent, at the kill"
    for sub in subs:
        sub.answer(None)
    second = ServerProcess(tmp_path / "b", **shared).start()
    try:
        await until(lambda: not outbox_rows(tmp_path))
        await asyncio.sleep(2.5)  # past the lease: a late double would have come by now
    finally:
        second.stop()
    assert arrived(subs) == [Counter(posted), Counter(posted)]


async def test_two_processes_sending_at_once_send_each_push_once(
    tmp_path: Path, push_service: PushService
) -> None:
    shared = shared_settings(tmp_path)
    servers = [ServerProcess(tmp_path / name, **shared).start() for name in ("a", "b")]
    try:
        gid, amy, subs, http = await scene(servers[0].url, push_service)
        posted = []
        async with httpx.AsyncClient(base_url=servers[1].url, timeout=30) as other:
            for n in range(20):
                api = Api(http if n % 2 else other)
                posted.append((await api.post(amy, gid, f"note {n}"))["id"])
        await http.aclose()
        await until(lambda: not outbox_rows(tmp_path))
        await asyncio.sleep(2.5)
    finally:
        for server in servers:
            server.stop()
    assert arrived(subs) == [Counter(posted), Counter(posted)]
