"""Fan-out benchmark: from a POST to the moment every member's websocket has the event.

One group with 100, 1,000 and 2,000 connected members on one Earshot process;
50 messages posted one after another; latency from just before each POST until each
member's connection has its `message.created` (p50, p99 over all deliveries), and
server RSS per idle connection. Baseline, in the same run: `bench/broadcast_app.py`,
a bare ASGI app under uvicorn that sends a same-sized text frame to every client
with a plain for-loop. With `--redis`, also 1,000 members split over two Earshot
processes sharing PostgreSQL and Redis (posts through the first).

The measuring clients run in this one asyncio process and share the 2 cores with
the server, so absolute numbers are pessimistic for both columns alike.

Run: .venv/bin/python -m bench.fanout [--sizes 100,1000,2000] [--messages 50] [--redis]
"""

import argparse
import asyncio
import os
import re
import time
import uuid
from collections import defaultdict

import asyncpg
import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.common import (
    close_all,
    group_of,
    open_live,
    percentiles,
    rss_kib,
    start_server,
    start_uvicorn,
    ws_url,
)
from tests.process import ServerProcess

SEQ = re.compile(r'"seq":(\d+)')


class Arrivals:
    """When each connection received each seq."""

    def __init__(self) -> None:
        self.times: dict[int, list[float]] = defaultdict(list)
        self.size = 0

    async def read(self, conn: ClientConnection) -> None:
        async for raw in conn:
            now = time.perf_counter()
            if isinstance(raw, str) and raw.startswith('{"type":"message.created"'):
                self.size = len(raw)
                self.times[int(SEQ.search(raw).group(1))].append(now)  # type: ignore[union-attr]

    async def wait(self, seq: int, count: int) -> list[float]:
        deadline = time.perf_counter() + 30
        while len(self.times[seq]) < count:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"only {len(self.times[seq])} of {count} got seq {seq}")
            await asyncio.sleep(0.002)
        return self.times.pop(seq)


async def earshot(
    members: int, messages: int, servers: list[ServerProcess]
) -> tuple[float, float, float, int]:
    first = servers[0]
    gid, tokens = await group_of(first.url, members)
    assert first.proc is not None
    before = rss_kib(first.proc.pid)
    conns = []
    share = (len(tokens) + len(servers) - 1) // len(servers)
    for i, server in enumerate(servers):
        conns += await open_live(ws_url(server.url), tokens[i * share : (i + 1) * share])
    per_conn = (rss_kib(first.proc.pid) - before) * len(servers) / members
    arrivals = Arrivals()
    readers = [asyncio.create_task(arrivals.read(c)) for c in conns]
    samples: list[float] = []
    owner = {"Authorization": f"Bearer {tokens[0]}"}
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
        for i in range(messages):
            t0 = time.perf_counter()
            r = await http.post(
                f"/api/v1/groups/{gid}/messages", headers=owner, json={"text": f"message {i}"}
            )
            samples += [t - t0 for t in await arrivals.wait(r.json()["seq"], len(conns))]
            await asyncio.sleep(0.02)
    for task in readers:
        task.cancel()
    await close_all(conns)
    p50, p99 = percentiles(samples)
    return p50, p99, per_conn, arrivals.size


async def baseline(members: int, messages: int, size: int) -> tuple[float, float]:
    proc, port = await asyncio.to_thread(start_uvicorn, "bench.broadcast_app:app")
    try:
        url = f"http://127.0.0.1:{port}"
        conns = []
        for start in range(0, members, 200):
            conns += await asyncio.gather(*[
                connect(f"ws://127.0.0.1:{port}/", compression=None, max_queue=None)
                for _ in range(min(200, members - start))
            ])  # fmt: skip
        arrivals = Arrivals()
        readers = [asyncio.create_task(arrivals.read(c)) for c in conns]
        samples: list[float] = []
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            for i in range(messages):
                head = f'{{"type":"message.created","seq":{i},"pad":"'
                body = head + "x" * max(0, size - len(head) - 2) + '"}'
                t0 = time.perf_counter()
                await http.post("/broadcast", content=body)
                samples += [t - t0 for t in await arrivals.wait(i, members)]
                await asyncio.sleep(0.02)
        for task in readers:
            task.cancel()
        await close_all(conns)
        return percentiles(samples)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def shared_database() -> tuple[str, str]:
    name = f"earshot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return name, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000,2000")
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--redis", action="store_true", help="also 1,000 members on 2 processes")
    args = parser.parse_args()
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        server = start_server()
        try:
            p50, p99, per_conn, size = await earshot(n, args.messages, [server])
        finally:
            server.stop()
        b50, b99 = await baseline(n, args.messages, size)
        rows.append((f"{n} (1 process)", p50, p99, b50, b99, per_conn))
    if args.redis:
        name, url = await shared_database()
        shared = {
            "database_url": url,
            "redis_url": "redis://127.0.0.1:6379/0",
            "secret_key": "bench",
        }
        servers = [start_server(**shared), start_server(**shared)]
        try:
            p50, p99, per_conn, size = await earshot(1000, args.messages, servers)
        finally:
            for s in servers:
                s.stop()
            await drop_database(name)
        b50, b99 = await baseline(1000, args.messages, size)
        rows.append(("1000 (2 processes, Redis)", p50, p99, b50, b99, per_conn))

    print()
    print(f"{'members':>26} {'earshot p50':>12} {'p99 ms':>8} {'baseline p50':>13} {'p99 ms':>8} "
          f"{'p99 ratio':>10} {'RSS KiB/conn':>13}")  # fmt: skip
    for label, p50, p99, b50, b99, per_conn in rows:
        print(f"{label:>26} {p50:>12.1f} {p99:>8.1f} {b50:>13.1f} {b99:>8.1f} {p99 / b99:>9.2f}x "
              f"{per_conn:>13.1f}")  # fmt: skip
    print(f"\n{os.cpu_count()} cores; {args.messages} messages per size; clients in one process.")


if __name__ == "__main__":
    asyncio.run(main())
