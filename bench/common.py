"""Shared pieces of the websocket benchmarks: a server with N members in one group,
live client connections, percentiles and RSS. Loopback only."""

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.process import ServerProcess, free_port

PASSWORD = "steady river stones"  # passes the rules for new passwords (no handle in it)
METRICS_TOKEN = "bench-metrics-token"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
FAST_SETTINGS = {  # cheap password hashing and no client rate limit: this is a benchmark
    "argon2_time_cost": "1",
    "argon2_memory_kib": "1024",
    "argon2_parallelism": "1",
    "rate_limits": "false",  # every 429 limit off
    "ws_messages_per_s": "100000",
    "ws_burst": "100000",
    "live_max_chunks_per_s": "100000",
    "ws_send_queue": "100000",
    "transcripts": "false",  # measured on its own by bench.transcribe
    "metrics_token": METRICS_TOKEN,
}


def start_server(**settings: str) -> ServerProcess:
    data = Path(tempfile.mkdtemp(prefix="earshot-bench-"))
    return ServerProcess(data, **{**FAST_SETTINGS, **settings}).start()


async def group_of(url: str, members: int, prefix: str = "member") -> tuple[str, list[str]]:
    """A group and the tokens of `members` people in it (the first one owns it)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:

        async def register(i: int) -> str:
            r = await http.post(
                "/api/v1/auth/register",
                json={"handle": f"{prefix}{i}", "display_name": f"M{i}", "password": PASSWORD},
            )
            r.raise_for_status()
            return r.json()["token"]

        tokens = [await register(0)]
        owner = {"Authorization": f"Bearer {tokens[0]}"}
        gid = (await http.post("/api/v1/groups", headers=owner, json={"name": "b"})).json()["id"]
        code = (await http.post(f"/api/v1/groups/{gid}/invites", headers=owner, json={})).json()[
            "code"
        ]
        for start in range(1, members, 50):
            batch = await asyncio.gather(
                *[register(i) for i in range(start, min(start + 50, members))]
            )
            for token in batch:
                r = await http.post(
                    f"/api/v1/invites/{code}/accept", headers={"Authorization": f"Bearer {token}"}
                )
                r.raise_for_status()
            tokens.extend(batch)
        return gid, tokens


async def open_live(ws_url: str, tokens: list[str]) -> list[ClientConnection]:
    """Connected, synced websockets, opened at most 200 at a time."""
    conns: list[ClientConnection] = []

    async def one(token: str) -> ClientConnection:
        conn = await connect(f"{ws_url}?token={token}", compression=None, max_queue=None)
        await conn.send('{"type":"sync","cursors":{}}')
        await conn.send('{"type":"ping"}')
        while json.loads(await conn.recv()).get("type") != "pong":
            pass
        return conn

    for start in range(0, len(tokens), 200):
        conns.extend(await asyncio.gather(*[one(t) for t in tokens[start : start + 200]]))
    return conns


def start_uvicorn(app: str) -> tuple[subprocess.Popen[bytes], int]:
    """A bare baseline app under uvicorn, configured like Earshot's server."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning",
         "--ws-per-message-deflate", "false", "--backlog", "4096"],
    )  # fmt: skip
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/")
            return proc, port
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/api/v1/ws"


def close_all(conns: list[ClientConnection]) -> Any:
    return asyncio.gather(*[c.close() for c in conns], return_exceptions=True)
