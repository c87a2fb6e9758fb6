"""Abuse: what one ordinary account's worst costs a real `earshot serve` process.

One server (SQLite, local files, default settings: real Argon2id, the default limits),
on loopback only. Each attack runs for a bounded time while a legitimate user does
the one thing the attack would starve, timed against the same action measured just
before the attacks (the baseline):

- bomb uploads: zero-timestamp Matroska bombs (FLAC 10 h, Opus 1 h, PCM 26 min, each
  claiming under a second), three of each at once; the user uploads a 3 s memo and
  waits until it is ready (retrying after a 503, as a client does).
- live bomb: the FLAC bomb sent as a live memo (never probed: only the conversion
  can stop it); the user posts a text.
- form-field flood: a chunked upload body of a million small fields; the user posts
  a text.
- big frames: 30 websockets each sending three 16 MiB frames; the user's websocket
  ping round trip.
- registration flood: 60 registrations at once (the per-address limit raised, as if
  from 60 addresses, so every one hashes); the user signs in.
- socket flood: 500 websockets of one account; another user's connect-and-ping.

Per attack: what was refused and how, peak scratch bytes (the server's tmp
directory, sampled every 10 ms), the server's peak RSS growth over the attack's
start, the CPU its ffmpeg children used, and the user's latency beside its baseline.

Run: .venv/bin/python -m bench.abuse   (about 2-3 minutes)
"""

import asyncio
import json
import os
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.common import METRICS_TOKEN, PASSWORD, rss_kib, ws_url
from tests import audio_samples, hostile_audio
from tests.process import ServerProcess

FRAME = 16 * 1024 * 1024


@dataclass
class Watch:
    """Samples the server's RSS and scratch bytes in a thread while an attack runs."""

    pid: int
    scratch: Path
    rss_start: int = 0
    rss_peak: int = 0
    scratch_peak: int = 0
    children_cpu: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _scratch_bytes(self) -> int:
        total = 0
        for dirpath, _, files in os.walk(self.scratch):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except FileNotFoundError:
                    pass
        return total

    def _children_cpu(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime+cstime

    def _run(self) -> None:
        while not self._stop.is_set():
            self.rss_peak = max(self.rss_peak, rss_kib(self.pid))
            self.scratch_peak = max(self.scratch_peak, self._scratch_bytes())
            self._stop.wait(0.01)

    def __enter__(self) -> "Watch":
        self.rss_start = self.rss_peak = rss_kib(self.pid)
        self._cpu_start = self._children_cpu()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep(0.5)  # children reaped, late allocations seen
        self._stop.set()
        self._thread.join()
        self.children_cpu = self._children_cpu() - self._cpu_start


@dataclass
class Row:
    attack: str
    refused: str
    watch: Watch
    user: str
    latency_s: float
    baseline_s: float


class User:
    """A legitimate person: an account, a group, and the actions an attack might starve."""

    def __init__(self, server: ServerProcess, http: httpx.AsyncClient, handle: str) -> None:
        self.server, self.http, self.handle = server, http, handle
        self.token = self.gid = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def register(self) -> "User":
        body = {"handle": self.handle, "display_name": self.handle, "password": PASSWORD}
        r = await self.http.post("/api/v1/auth/register", json=body)
        r.raise_for_status()
        self.token = r.json()["token"]
        group = await self.http.post("/api/v1/groups", json={"name": "g"}, headers=self.auth)
        self.gid = group.json()["id"]
        return self

    async def sign_in(self) -> float:
        t0 = time.perf_counter()
        body = {"handle": self.handle, "password": PASSWORD}
        (await self.http.post("/api/v1/auth/login", json=body)).raise_for_status()
        return time.perf_counter() - t0

    async def post_text(self) -> float:
        t0 = time.perf_counter()
        path = f"/api/v1/groups/{self.gid}/messages"
        (await self.http.post(path, json={"text": "hi"}, headers=self.auth)).raise_for_status()
        return time.perf_counter() - t0

    async def memo_ready(self, memo: Path) -> float:
        """Upload and wait until ready, retrying after a 503 as a client does."""
        t0 = time.perf_counter()
        while True:
            r = await upload(self.http, self.auth, self.gid, memo)
            if r.status_code != 503:
                break
            await asyncio.sleep(int(r.headers["retry-after"]))
        r.raise_for_status()
        mid = r.json()["id"]
        await until_processed(self.http, self.auth, mid)
        return time.perf_counter() - t0

    async def ping(self) -> float:
        t0 = time.perf_counter()
        async with connect(f"{ws_url(self.server.url)}?token={self.token}") as conn:
            await conn.send('{"type":"sync","cursors":{}}')
            await conn.send('{"type":"ping"}')
            while json.loads(await conn.recv())["type"] != "pong":
                pass
        return time.perf_counter() - t0


async def until_processed(http: httpx.AsyncClient, auth: dict[str, str], mid: str) -> dict:
    """The memo's `voice` once it is neither live nor processing (polled: no event needed)."""
    while True:
        voice = (await http.get(f"/api/v1/messages/{mid}", headers=auth)).json()["voice"]
        if voice["status"] not in ("processing", "live"):
            return voice
        await asyncio.sleep(0.05)


async def upload(
    http: httpx.AsyncClient, auth: dict[str, str], gid: str, path: Path
) -> httpx.Response:
    with path.open("rb") as f:
        files = {"file": (path.name, f)}
        return await http.post(f"/api/v1/groups/{gid}/voice", files=files, headers=auth)


def outcomes(statuses: list[Any]) -> str:
    return ", ".join(f"{n}× {status}" for status, n in sorted(Counter(statuses).items()))


async def bomb_uploads(attacker: User, bombs: list[Path]) -> str:
    answers = await asyncio.gather(
        *(upload(attacker.http, attacker.auth, attacker.gid, b) for b in bombs * 3)
    )
    return outcomes(
        [
            f"{r.status_code} {r.json()['error']['code']}" if r.is_error else r.status_code
            for r in answers
        ]  # fmt: skip
    )


async def live_bomb(attacker: User, bomb: Path) -> str:
    data = await asyncio.to_thread(bomb.read_bytes)
    async with connect(f"{ws_url(attacker.server.url)}?token={attacker.token}") as conn:
        await conn.send('{"type":"sync","cursors":{}}')
        start = {"type": "live.start", "group_id": attacker.gid, "mime": "audio/x-matroska"}
        await conn.send(json.dumps(start))
        while (frame := json.loads(await conn.recv()))["type"] != "live.started":
            pass
        mid = frame["message_id"]
        for i in range(0, len(data), 60_000):
            await conn.send(data[i : i + 60_000])
        await conn.send('{"type":"live.end"}')
    voice = await until_processed(attacker.http, attacker.auth, mid)
    return f"memo {voice['status']}: {voice['error']}"


async def field_flood(attacker: User) -> str:
    sent = 0

    async def body() -> Any:
        nonlocal sent
        part = b'--b0undary\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n'
        for _ in range(1000):
            sent += 1000
            yield part * 1000

    headers = {**attacker.auth, "Content-Type": "multipart/form-data; boundary=b0undary"}
    try:
        r = await attacker.http.post(
            f"/api/v1/groups/{attacker.gid}/voice", content=body(), headers=headers
        )
        answer = f"{r.status_code} {r.json()['error']['code']}"
    except httpx.HTTPError as exc:
        answer = type(exc).__name__
    return f"{answer} (the client pushed {sent:,} fields regardless)"


def _big_frames(url: str, token: str) -> list[str]:
    """One raw websocket that tries to send three 16 MiB frames."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        f"GET /api/v1/ws?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    sock.recv(4096)
    header = bytes([0x82, 0x80 | 127]) + FRAME.to_bytes(8, "big") + b"\0\0\0\0"
    results = []
    try:
        for _ in range(3):
            sock.sendall(header + b"\0" * FRAME)
            results.append("sent")
    except OSError:
        reply = b""
        try:
            reply = sock.recv(16)
        except OSError:
            pass
        code = int.from_bytes(reply[2:4], "big") if reply[:1] == b"\x88" else "reset"
        results.append(f"closed {code}")
    finally:
        sock.close()
    return results


async def big_frames(attacker: User) -> str:
    runs = await asyncio.gather(
        *(asyncio.to_thread(_big_frames, attacker.server.url, attacker.token) for _ in range(30))
    )
    whole = sum(r.count("sent") for r in runs)
    return outcomes([r[-1] for r in runs]) + f" (frames sent whole: {whole})"


async def registration_flood(attacker: User) -> str:
    async def one(i: int) -> int:
        body = {"handle": f"flood{i}", "display_name": "F", "password": PASSWORD}
        return (await attacker.http.post("/api/v1/auth/register", json=body)).status_code

    return outcomes(list(await asyncio.gather(*(one(i) for i in range(60)))))


async def socket_flood(attacker: User) -> str:
    url = f"{ws_url(attacker.server.url)}?token={attacker.token}"
    kept, codes = [], []

    async def one() -> None:
        conn = await connect(url, open_timeout=30)
        try:
            await asyncio.wait_for(conn.recv(), 0.5)
        except TimeoutError:
            kept.append(conn)  # accepted and quiet: a live socket
            return
        except (ConnectionClosed, InvalidStatus):
            pass
        await conn.wait_closed()
        codes.append(conn.close_code)

    for _ in range(5):
        await asyncio.gather(*(one() for _ in range(100)), return_exceptions=True)
    await asyncio.gather(*(c.close() for c in kept), return_exceptions=True)
    return f"{len(kept)} kept; " + outcomes([f"closed {c}" for c in codes])


async def attack(
    server: ServerProcess,
    scratch: Path,
    name: str,
    run: Awaitable[str],
    user_action: Callable[[], Awaitable[float]],
    user: str,
    baseline: float,
) -> Row:
    assert server.proc is not None
    with Watch(server.proc.pid, scratch) as watch:
        task = asyncio.ensure_future(run)
        await asyncio.sleep(0.2)  # the attack is under way
        latency = await user_action()
        refused = await asyncio.wait_for(task, 180)
    return Row(name, refused, watch, user, latency, baseline)


def table(rows: list[Row]) -> str:
    head = ("attack", "what happened to it", "peak scratch", "RSS growth", "ffmpeg CPU",
            "legitimate user", "latency (baseline)")  # fmt: skip
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        lines.append(
            " | ".join(
                (
                    r.attack, r.refused, f"{r.watch.scratch_peak / 1e6:.1f} MB",
                    f"{(r.watch.rss_peak - r.watch.rss_start) / 1024:+.0f} MB",
                    f"{r.watch.children_cpu:.1f} s", r.user,
                    f"{r.latency_s * 1000:.0f} ms ({r.baseline_s * 1000:.0f} ms)",
                )
            )
        )  # fmt: skip
    return "\n".join(f"| {line} |" for line in lines)


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="earshot-abuse-"))
    print("making the bombs...", flush=True)
    bombs = [
        hostile_audio.zero_timestamp_bomb(work, "flac", 36_000),
        hostile_audio.zero_timestamp_bomb(work, "opus", 3_600),
        hostile_audio.zero_timestamp_bomb(work, "pcm", 1_560),
    ]
    memo = audio_samples.client_file(work, "iphone_m4a", audio_samples.speech_of_length(work, 3))
    server = ServerProcess(
        work / "data",
        log=work / "server.log",
        metrics_token=METRICS_TOKEN,
        limit_registrations_per_hour="1000",  # as if the 60 came from 60 addresses
    ).start()
    rows: list[Row] = []
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            amy = await User(server, http, "amy").register()
            eve = await User(server, http, "eve").register()
            baseline = {
                "memo": min([await amy.memo_ready(memo) for _ in range(2)]),
                "text": min([await amy.post_text() for _ in range(5)]),
                "ping": min([await amy.ping() for _ in range(5)]),
                "sign-in": min([await amy.sign_in() for _ in range(3)]),
            }
            print("baselines:", {k: f"{v * 1000:.0f} ms" for k, v in baseline.items()}, flush=True)
            plan = [
                ("9 bomb uploads", bomb_uploads(eve, bombs), lambda: amy.memo_ready(memo),
                 "3 s memo upload to ready", "memo"),
                ("live bomb (FLAC 10 h)", live_bomb(eve, bombs[0]), amy.post_text,
                 "text post", "text"),
                ("1M form fields", field_flood(eve), amy.post_text, "text post", "text"),
                ("30 sockets × 3 × 16 MiB frames", big_frames(eve), amy.ping,
                 "websocket connect + ping", "ping"),
                ("60 registrations", registration_flood(eve), amy.sign_in, "sign-in", "sign-in"),
                ("500 sockets of one account", socket_flood(eve), amy.ping,
                 "websocket connect + ping", "ping"),
            ]  # fmt: skip
            for name, run, action, what, key in plan:
                print(f"attack: {name}", flush=True)
                scratch = work / "data" / "tmp"
                rows.append(await attack(server, scratch, name, run, action, what, baseline[key]))
    finally:
        server.stop()
    print()
    print(table(rows))


if __name__ == "__main__":
    asyncio.run(main())
