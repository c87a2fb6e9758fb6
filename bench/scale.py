"""Scale-out benchmark: one Earshot process against two, on PostgreSQL, Redis and S3.

For each layout: one group of 2,000 members whose websockets are spread evenly
over the processes (bench/listener.py, timestamping each frame's arrival);
30 texts posted through the processes in turn, each timed from the POST until
every member has it (p50, p99); then 8 one-minute memos uploaded all at once,
spread over the processes, timed until every one is ready, with the number each
process converted (from its /metrics). The one-process row is the baseline.

Needs PostgreSQL and Redis on 127.0.0.1 (as in CI); starts SeaweedFS itself.
Run: .venv/bin/python -m bench.scale [--members 2000] [--memos 8]
"""

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.common import METRICS_AUTH, group_of, percentiles, start_server, ws_url
from bench.fanout import Arrivals, drop_database, listeners, shared_database
from tests import audio_samples
from tests.api.test_operations import sample
from tests.process import ServerProcess
from tests.s3server import S3Server, running_s3

REDIS_URL = "redis://127.0.0.1:6379/0"


async def deliveries(servers: list[ServerProcess], members: int, posts: int) -> tuple[float, ...]:
    gid, tokens = await group_of(servers[0].url, members)
    urls = [
        f"{ws_url(servers[i % len(servers)].url)}?token={token}" for i, token in enumerate(tokens)
    ]
    arrivals = Arrivals()
    conns = await listeners(urls, arrivals, sync=True)
    samples: list[float] = []
    owner = {"Authorization": f"Bearer {tokens[0]}"}
    async with httpx.AsyncClient(headers=owner, timeout=60) as http:
        for i in range(posts):
            server = servers[i % len(servers)]
            t0 = time.perf_counter()
            r = await http.post(f"{server.url}/api/v1/groups/{gid}/messages", json={"text": "hi"})
            samples += [t - t0 for t in await arrivals.wait(r.json()["seq"], len(conns))]
            await asyncio.sleep(0.05)
    for conn in conns:
        conn.close()
    return percentiles(samples)


async def conversions(servers: list[ServerProcess], memos: int, memo: Path) -> tuple[float, list]:
    gid, tokens = await group_of(servers[0].url, 1, prefix="uploader")
    auth = {"Authorization": f"Bearer {tokens[0]}"}
    async with httpx.AsyncClient(headers=auth, timeout=120) as http:

        async def upload(i: int) -> str:
            with memo.open("rb") as f:
                r = await http.post(
                    f"{servers[i % len(servers)].url}/api/v1/groups/{gid}/voice",
                    files={"file": (memo.name, f)},
                )
            return str(r.json()["id"])

        before = [await converted(http, s) for s in servers]
        t0 = time.perf_counter()
        ids = await asyncio.gather(*[upload(i) for i in range(memos)])
        while True:
            states = [
                (await http.get(f"{servers[0].url}/api/v1/messages/{mid}")).json()["voice"]
                for mid in ids
            ]
            if all(v["status"] in ("ready", "failed") for v in states):
                break
            await asyncio.sleep(0.1)
        wall = time.perf_counter() - t0
        per_process = [await converted(http, s) - b for s, b in zip(servers, before, strict=True)]
    return wall, per_process


async def converted(http: httpx.AsyncClient, server: ServerProcess) -> int:
    text = (await http.get(f"{server.url}/metrics", headers=METRICS_AUTH)).text
    return int(sample(text, "earshot_processing_seconds_count", result="ready"))


async def layout(
    count: int, s3: S3Server, members: int, posts: int, memos: int, memo: Path
) -> tuple:
    name, database = await shared_database()
    shared = {
        "database_url": database,
        "redis_url": REDIS_URL,
        "storage_url": s3.storage_url(f"bench-{uuid.uuid4().hex[:8]}"),
        "secret_key": "bench",
        "transcode_workers": "1",  # one ffmpeg per process: 2 cores, 2 processes
    }
    servers = [start_server(**shared) for _ in range(count)]
    try:
        p50, p99 = await deliveries(servers, members, posts)
        wall, per_process = await conversions(servers, memos, memo)
    finally:
        for server in servers:
            server.stop()
        await drop_database(name)
    return p50, p99, wall, per_process


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=30)
    parser.add_argument("--memos", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="earshot-scale-"))
    memo = audio_samples.client_file(work, "iphone_m4a", audio_samples.speech_of_length(work, 60))
    rows = []
    with running_s3(work / "s3") as s3:
        for count in (1, 2):
            rows.append(
                (count, *await layout(count, s3, args.members, args.posts, args.memos, memo))
            )
    print()
    print(f"{'processes':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99 vs 1':>9} {'memos':>6} "
          f"{'all ready s':>12} {'memos/min':>10} {'converted per process':>22}")  # fmt: skip
    base_p99, base_wall = rows[0][2], rows[0][3]
    for count, p50, p99, wall, per_process in rows:
        print(f"{count:>9} {p50:>8.1f} {p99:>8.1f} {p99 / base_p99:>8.2f}x {args.memos:>6} "
              f"{wall:>12.1f} {args.memos * 60 / wall:>10.1f} {str(per_process):>22}")  # fmt: skip
    print(f"\n{os.cpu_count()} cores; {args.members} members, {args.posts} posts; "
          f"one-minute memos; 1 transcode worker per process; clients in one process; "
          f"the 1-process row ({base_wall:.1f} s) is the baseline.")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
