"""Push delivery: how long a group's members wait for a push after a post, and what the
durable outbox costs over sending directly.

In one process: the app (SQLite file, default settings but loopback push endpoints
allowed) and the test push service on loopback, which checks each VAPID token and
decrypts each push. A group of MEMBERS people, each with one subscription; the owner
posts POSTS texts, each once every push of the one before has arrived. Measured per
push: post answered → push decrypted by the push service. Baseline, in the same run:
the same pushes encrypted and signed the same way (pywebpush, py-vapid) and POSTed
straight to the push service with httpx (no database, no queue), as many at once as
the outbox sends (EARSHOT_PUSH_WORKERS), each post's once the one before's are done.

Run: .venv/bin/python -m bench.push   (about half a minute)
"""

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from py_vapid import Vapid
from pywebpush import WebPusher

from app.config import Settings
from app.db import migrate_async
from tests.helpers import Api, running
from tests.support.push_service import PushService, running_push_service

MEMBERS = 50
POSTS = 10


async def through_earshot(push: PushService, data_dir: Path) -> tuple[float, list[float]]:
    settings = Settings(
        data_dir=data_dir,
        secret_key="bench",
        push_allow_insecure=True,
        rate_limits=False,
        transcripts=False,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    await migrate_async(settings.resolved_database_url)
    async with running(settings, request_timeout_s=30) as (_, client):
        api = Api(client)
        owner = await api.register("owner")
        gid = await api.group(owner)
        key = (await api.ok(None, "GET", "/push/key"))["public_key"]
        subs = []
        for n in range(MEMBERS):
            member = await api.register(f"m{n}")
            await api.add(owner, gid, member)
            sub = push.subscribe(application_server_key=key)
            await api.ok(member, "POST", "/push/subscriptions", json=sub.info())
            subs.append(sub)
        posted: dict[str, float] = {}
        started = time.perf_counter()
        for n in range(POSTS):
            message = await api.post(owner, gid, f"note {n}")
            posted[message["id"]] = time.perf_counter()
            for sub in subs:
                await sub.wait_for(n + 1, timeout_s=120)
        arrivals: list[float] = []
        elapsed = time.perf_counter() - started
        for sub in subs:
            for push_message in sub.messages:
                arrivals.append(push_message.arrived - posted[push_message.json()["message_id"]])
    return elapsed, arrivals


async def direct(push: PushService) -> tuple[float, list[float]]:
    """The same pushes straight to the push service, as many at once as the outbox sends."""
    signer = Vapid()
    signer.generate_keys()
    subs = [push.subscribe() for _ in range(MEMBERS)]
    slots = asyncio.Semaphore(Settings().push_workers)
    latencies: list[float] = []

    async def one(
        http: httpx.AsyncClient, info: dict[str, object], body: bytes, sent: float
    ) -> None:
        async with slots:
            encrypted = WebPusher(info).encode(body, content_encoding="aes128gcm")["body"]
            claims = {"sub": "mailto:b@example.org", "aud": push.origin}
            headers = {
                **signer.sign({**claims, "exp": int(time.time()) + 600}),
                "TTL": "60",
                "Content-Encoding": "aes128gcm",
            }
            r = await http.post(str(info["endpoint"]), content=encrypted, headers=headers)
        assert r.status_code == 201, r.text
        latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as http:
        for n in range(POSTS):
            body = f'{{"type": "message", "n": {n}}}'.encode()
            sent = time.perf_counter()
            await asyncio.gather(*(one(http, s.info(), body, sent) for s in subs))
    return time.perf_counter() - started, latencies


def row(name: str, elapsed: float, latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return (
        f"| {name} | {len(ms)} | {elapsed:.2f} | {len(ms) / elapsed:.0f} | "
        f"{statistics.median(ms):.0f} | {p95:.0f} | {ms[-1]:.0f} |"
    )


async def main() -> None:
    with running_push_service() as push, tempfile.TemporaryDirectory() as tmp:
        base_elapsed, base = await direct(push)
        elapsed, arrivals = await through_earshot(push, Path(tmp))
    print(f"{MEMBERS} subscribers, {POSTS} posts, one process, SQLite, loopback push service")
    print("| path | pushes | seconds | pushes/s | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    print(row("direct pywebpush+httpx (baseline)", base_elapsed, base))
    print(row("Earshot: post → outbox → push", elapsed, arrivals))


if __name__ == "__main__":
    asyncio.run(main())
