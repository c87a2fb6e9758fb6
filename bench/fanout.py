"""Fan-out benchmark: from a POST to the moment every member's websocket has the event.

One group with 100, 1,000 and 2,000 connected members on one Earshot process;
50 messages posted one after another; latency from just before each POST until each
member's connection has its `message.created` (p50, p99 over all deliveries), and
server RSS per idle connection. Baseline, in the same run: `bench/broadcast_app.py`,
a bare ASGI app under uvicorn that sends a same-sized text frame to every client
with a plain for-loop. Both are connected at once and their posts alternate, so
both see the same machine at the same moments. With `--redis`, also 1,000 members
split over two Earshot processes sharing PostgreSQL and Redis (posts through the first).

The measuring clients (`bench/listener.py`, a bare protocol that timestamps each
frame as its bytes arrive) run in this one asyncio process and share the cores with
the servers, so absolute numbers are pessimistic for both columns alike.

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

from bench.common import (
    group_of,
    percentiles,
    rss_kib,
    start_server,
    start_uvicorn,
    ws_url,
)
from bench.listener import Listener, connect_listener
from tests.process import ServerProcess

SEQ = re.compile(rb'"seq":(\d+)')


class Arrivals:
    """When each connection received each seq."""

    def __init__(self) -> None:
        self.times: dict[int, list[float]] = defaultdict(list)
        self.size = 0

    def record(self, now: float, frame: bytes) -> None:
        if frame.startswith(b'{"type":"message.created"'):
            self.size = len(frame)
            self.times[int(SEQ.search(frame).group(1))].append(now)  # type: ignore[union-attr]

    async def wait(self, seq: int, count: int) -> list[float]:
        deadline = time.perf_counter() + 30
        while len(self.times[seq]) < count:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"only {len(self.times[seq])} of {count} got seq {seq}")
            await asyncio.sleep(0.002)
        return self.times.pop(seq)


async def listeners(urls: list[str], arrivals: Arrivals, sync: bool) -> list[Listener]:
    """Connected listeners, opened at most 200 at a time; with `sync`, synced and live."""

    async def one(url: str) -> Listener:
        pong = asyncio.get_running_loop().create_future()

        def on_text(now: float, frame: bytes) -> None:
            if pong.done():
                arrivals.record(now, frame)
            elif frame.startswith(b'{"type":"pong"'):
                pong.set_result(None)

        listener = await connect_listener(url, on_text)
        if sync:
            listener.send_text('{"type":"sync","cursors":{}}')
            listener.send_text('{"type":"ping"}')
            await pong
        else:
            pong.set_result(None)
        return listener

    opened: list[Listener] = []
    for start in range(0, len(urls), 200):
        opened += await asyncio.gather(*[one(u) for u in urls[start : start + 200]])
    return opened


class Side:
    """One side of the comparison: connected listeners and a way to post to all of them."""

    def __init__(self, http: httpx.AsyncClient, arrivals: Arrivals, conns: list[Listener]) -> None:
        self.http, self.arrivals, self.conns = http, arrivals, conns
        self.samples: list[float] = []

    async def post(self, i: int) -> int:
        raise NotImplementedError

    async def measure(self, i: int) -> None:
        t0 = time.perf_counter()
        seq = await self.post(i)
        self.samples += [t - t0 for t in await self.arrivals.wait(seq, len(self.conns))]

    async def close(self) -> None:
        for conn in self.conns:
            conn.close()
        await self.http.aclose()


class Earshot(Side):
    gid = ""

    async def post(self, i: int) -> int:
        r = await self.http.post(f"/api/v1/groups/{self.gid}/messages", json={"text": f"m {i}"})
        return int(r.json()["seq"])


class Baseline(Side):
    size = 0

    async def post(self, i: int) -> int:
        head = f'{{"type":"message.created","seq":{i},"pad":"'
        await self.http.post("/broadcast", content=head + "x" * (self.size - len(head) - 2) + '"}')
        return i


async def earshot(members: int, servers: list[ServerProcess]) -> tuple[Earshot, float]:
    """Members connected (spread over `servers`); posts go through the first server."""
    first = servers[0]
    gid, tokens = await group_of(first.url, members)
    assert first.proc is not None
    before = rss_kib(first.proc.pid)
    share = (len(tokens) + len(servers) - 1) // len(servers)
    urls = [
        f"{ws_url(server.url)}?token={token}"
        for i, server in enumerate(servers)
        for token in tokens[i * share : (i + 1) * share]
    ]
    arrivals = Arrivals()
    conns = await listeners(urls, arrivals, sync=True)
    per_conn = (rss_kib(first.proc.pid) - before) * len(servers) / members
    owner = {"Authorization": f"Bearer {tokens[0]}"}
    side = Earshot(
        httpx.AsyncClient(base_url=first.url, headers=owner, timeout=30), arrivals, conns
    )
    side.gid = gid
    return side, per_conn


async def baseline(members: int, port: int) -> Baseline:
    arrivals = Arrivals()
    conns = await listeners([f"ws://127.0.0.1:{port}/"] * members, arrivals, sync=False)
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
    return Baseline(http, arrivals, conns)


async def compare(members: int, messages: int, servers: list[ServerProcess]) -> tuple[float, ...]:
    """Both sides connected at once, their posts interleaved, so both see the same machine."""
    proc, port = await asyncio.to_thread(start_uvicorn, "bench.broadcast_app:app")
    try:
        ours, per_conn = await earshot(members, servers)
        base = await baseline(members, port)
        await ours.measure(-1)  # warm-up, and the frame size for the baseline
        base.size = ours.arrivals.size
        ours.samples = []
        for i in range(messages):
            for side in (ours, base) if i % 2 else (base, ours):
                await side.measure(i)
                await asyncio.sleep(0.02)
        await ours.close()
        await base.close()
        return (*percentiles(ours.samples), *percentiles(base.samples), per_conn)
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
            rows.append((f"{n} (1 process)", *await compare(n, args.messages, [server])))
        finally:
            server.stop()
    if args.redis:
        name, url = await shared_database()
        shared = {
            "database_url": url,
            "redis_url": "redis://127.0.0.1:6379/0",
            "secret_key": "bench",
        }
        servers = [start_server(**shared), start_server(**shared)]
        try:
            rows.append(("1000 (2 processes, Redis)", *await compare(1000, args.messages, servers)))
        finally:
            for s in servers:
                s.stop()
            await drop_database(name)

    print()
    print(f"{'members':>26} {'earshot p50':>12} {'p99 ms':>8} {'baseline p50':>13} {'p99 ms':>8} "
          f"{'p99 ratio':>10} {'RSS KiB/conn':>13}")  # fmt: skip
    for label, p50, p99, b50, b99, per_conn in rows:
        print(f"{label:>26} {p50:>12.1f} {p99:>8.1f} {b50:>13.1f} {b99:>8.1f} {p99 / b99:>9.2f}x "
              f"{per_conn:>13.1f}")  # fmt: skip
    print(f"\n{os.cpu_count()} cores; {args.messages} messages per size; clients in one process.")


if __name__ == "__main__":
    asyncio.run(main())
