"""Soak test: one Earshot process under steady mixed load for minutes, checked for loss and leaks.

One server (SQLite, local files, in-process broker) and 500 members in 20 groups of
25, each member connected by its own websocket that syncs from seq 0 and then stays
live, recording every durable event it receives. For `--duration` seconds (default
300) an open-loop schedule posts 20 texts and uploads 5 real voice memos (speech of
5 and 8 s, as an iPhone m4a and a Chrome webm) per second, spread over the groups
and their members, each with its own `client_id`; a slow answer never delays the
next post (at most 64 are on the wire at once; the rest wait their turn, and each is
timed from its scheduled start). Every request's status is counted (anything but
2xx, or an exception, is a failure), and the server's RSS is sampled every few seconds.

Afterwards it waits (bounded) until every accepted memo is `ready`, reads each
group's durable event log over HTTP (`GET /groups/{gid}/events`, the authoritative
order: one `seq` per event, per group), and checks that every client holds every
event of its group exactly once and in that order, with the same content.

It prints: uploads sent / ready / failed, texts sent, failed requests, events
delivered, exactly-once-in-order per client (with counts of each kind of
violation), POST-to-delivery latency p50/p99 (from the start of the POST to the
moment a member's websocket has the `message.created`), upload-to-ready time, and
RSS. The baseline for a soak is the server itself once warmed up: the RSS after the
first 20% of the run is the reference, and the slope is a least-squares fit of the
samples after it, in KiB per minute (near zero when nothing leaks). It exits
non-zero when any correctness check fails.

The clients run in this one asyncio process and share the cores with the server
and its ffmpeg workers, so latencies are pessimistic; the table gives the CPU time
each used during the load, and the whole machine's, so a run that shared the
machine with other work shows it.

Run: .venv/bin/python -m bench.soak [--duration 300] [--clients 500] [--groups 20]
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.common import FAST_SETTINGS, group_of, percentiles, rss_kib, ws_url
from tests import audio_samples
from tests.process import ServerProcess

TEXTS_PER_S = 20
UPLOADS_PER_S = 5
WARM_UP = 0.2  # share of the run before the RSS baseline is taken
MEMO_SECONDS = (5, 8)
MEMO_KINDS = {"iphone_m4a": "audio/mp4", "chrome_webm": "audio/webm"}
MAX_IN_FLIGHT = 64  # requests on the wire at once (see Load)
GENEROUS = "1000000"
RATE_LIMITS = {  # this is a load test, not a test of the limits
    "rate_limits": "false",
    "ws_messages_per_s": GENEROUS,
    "ws_burst": GENEROUS,
}
SETTINGS = {
    **FAST_SETTINGS,  # cheap password hashing for 500 sign-ups
    **RATE_LIMITS,
    "ws_send_queue": "1024",  # the default: a client dropped as too slow is a finding
}

Key = tuple[int, str, int]  # one durable event: seq, type and a digest of its data


def event_key(event: dict) -> Key:
    """What two copies of one event must agree on (key order and spacing aside)."""
    data = json.dumps(event["data"], sort_keys=True, separators=(",", ":"))
    return event["seq"], event["type"], hash(data)


@dataclass(frozen=True)
class Memo:
    name: str
    mime: str
    content: bytes


def prepare_memos(work: Path) -> list[Memo]:
    """Real speech in the formats phones and browsers upload, made once before the load."""
    memos = []
    for seconds in MEMO_SECONDS:
        speech = audio_samples.speech_of_length(work, seconds)
        for kind, mime in MEMO_KINDS.items():
            path = audio_samples.client_file(work, kind, speech)
            memos.append(Memo(path.name, mime, path.read_bytes()))
    return memos


@dataclass
class Stats:
    """What the load saw: request outcomes, post times, deliveries and memo states."""

    requests: Counter[str] = field(default_factory=Counter)  # "kind status"
    failures: list[str] = field(default_factory=list)
    posted_at: dict[str, float] = field(default_factory=dict)  # client_id: POST start
    kind_of: dict[str, str] = field(default_factory=dict)  # client_id: "text" | "voice"
    delivery: dict[str, list[float]] = field(default_factory=lambda: {"text": [], "voice": []})
    accepted: set[str] = field(default_factory=set)  # client_ids of successful posts
    uploads: dict[str, float] = field(default_factory=dict)  # accepted memo id: POST start
    voice_state: dict[str, str] = field(default_factory=dict)  # memo id: latest status seen
    ready_at: dict[str, float] = field(default_factory=dict)  # memo id: first seen ready
    answered: dict[str, list[float]] = field(default_factory=lambda: {"text": [], "voice": []})
    schedule_lag: list[float] = field(default_factory=list)

    def outcome(self, kind: str, status: int | str, detail: str = "") -> None:
        self.requests[f"{kind} {status}"] += 1
        if not (isinstance(status, int) and 200 <= status < 300):
            self.failures.append(f"{kind}: {status} {detail}"[:200])

    @property
    def failed(self) -> int:
        return len(self.failures)

    def on_created(self, now: float, data: dict) -> None:
        client_id = data.get("client_id")
        if client_id in self.posted_at:
            self.delivery[self.kind_of[client_id]].append(now - self.posted_at[client_id])

    def on_updated(self, now: float, data: dict) -> None:
        mid, status = data["id"], (data.get("voice") or {}).get("status")
        if status and self.voice_state.get(mid) != status:
            self.voice_state[mid] = status
            if status == "ready":
                self.ready_at[mid] = now

    def ready_after(self) -> list[float]:
        """Seconds from each memo's upload POST to the first client seeing it ready."""
        return [self.ready_at[mid] - t0 for mid, t0 in self.uploads.items() if mid in self.ready_at]

    def settled(self) -> int:
        """Accepted memos a client has seen become ready or fail."""
        return sum(1 for mid in self.uploads if self.voice_state.get(mid) in ("ready", "failed"))


class Client:
    """One member's websocket: every durable event it receives, per group, in order."""

    def __init__(self, group_id: str, token: str, stats: Stats) -> None:
        self.group_id, self.token, self.stats = group_id, token, stats
        self.events: dict[str, list[Key]] = {}
        self.errors: list[str] = []
        self.closed: str | None = None  # why the connection ended before we closed it
        self.closing = False
        self.conn: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None

    async def open(self, url: str) -> None:
        """Connect, sync from seq 0 of its group and wait until the replay is done."""
        self.conn = await connect(
            f"{url}?token={self.token}",
            compression=None,
            max_queue=None,
            ping_interval=None,  # the server pings; a busy benchmark loop must not time out
            open_timeout=60,
        )
        pong = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self.listen(pong))
        await self.conn.send(json.dumps({"type": "sync", "cursors": {self.group_id: 0}}))
        await self.conn.send('{"type":"ping"}')
        await pong

    async def listen(self, pong: asyncio.Future[None]) -> None:
        assert self.conn is not None
        try:
            async for frame in self.conn:
                self.on_frame(time.perf_counter(), json.loads(frame), pong)
        except ConnectionClosed as closed:
            if not self.closing:
                self.closed = f"close code {closed.rcvd.code if closed.rcvd else 'none'}"
        else:
            if not self.closing:
                self.closed = "closed by the server"

    def on_frame(self, now: float, frame: dict, pong: asyncio.Future[None]) -> None:
        kind = frame.get("type")
        if "seq" in frame:
            self.events.setdefault(frame["group_id"], []).append(event_key(frame))
            if kind == "message.created":
                self.stats.on_created(now, frame["data"])
            elif kind == "message.updated":
                self.stats.on_updated(now, frame["data"])
        elif kind == "pong" and not pong.done():
            pong.set_result(None)
        elif kind == "error":
            self.errors.append(json.dumps(frame["error"])[:200])

    def last_seq(self) -> int:
        held = self.events.get(self.group_id)
        return held[-1][0] if held else 0

    async def close(self) -> None:
        self.closing = True
        if self.conn is not None:
            await self.conn.close()
        if self.task is not None:
            await self.task


@dataclass
class Group:
    id: str
    tokens: list[str]
    clients: list[Client] = field(default_factory=list)


async def make_groups(url: str, sizes: list[int]) -> list[Group]:
    """The groups and their members (the first one owns each), four groups at a time."""
    gate = asyncio.Semaphore(4)

    async def one(i: int, size: int) -> Group:
        async with gate:
            gid, tokens = await group_of(url, size, prefix=f"soak{i}-")
            return Group(gid, tokens)

    return list(await asyncio.gather(*[one(i, n) for i, n in enumerate(sizes)]))


async def connect_clients(url: str, groups: list[Group], stats: Stats) -> list[Client]:
    """Every member connected and synced, at most 100 handshakes at a time."""
    clients = []
    for group in groups:
        group.clients = [Client(group.id, token, stats) for token in group.tokens]
        clients += group.clients
    for start in range(0, len(clients), 100):
        await asyncio.gather(*[c.open(ws_url(url)) for c in clients[start : start + 100]])
    return clients


class Load:
    """The posts: texts and voice memos, spread over groups and members.

    At most MAX_IN_FLIGHT requests are on the wire; later ones wait here, and that wait
    counts in their time, since each is timed from its scheduled start (open loop).
    The cap is for the client's sake: httpx's pool spends CPU quadratic in its
    connections and queued requests, and with hundreds it starves this process."""

    def __init__(
        self, http: httpx.AsyncClient, groups: list[Group], memos: list[Memo], stats: Stats
    ) -> None:
        self.http, self.groups, self.memos, self.stats = http, groups, memos, stats
        self.in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    def sender(self, i: int) -> tuple[Group, dict[str, str]]:
        group = self.groups[i % len(self.groups)]
        token = group.tokens[(i // len(self.groups)) % len(group.tokens)]
        return group, {"Authorization": f"Bearer {token}"}

    async def post(self, kind: str, client_id: str, url: str, **kwargs) -> dict | None:
        """One POST, its outcome counted; the answer's JSON when it succeeded."""
        self.stats.kind_of[client_id] = kind
        self.stats.posted_at[client_id] = t0 = time.perf_counter()
        try:
            async with self.in_flight:
                r = await self.http.post(url, **kwargs)
        except Exception as exc:
            took = time.perf_counter() - t0
            self.stats.outcome(kind, type(exc).__name__, f"after {took:.1f} s: {exc!r}")
            return None
        took = time.perf_counter() - t0
        self.stats.outcome(kind, r.status_code, f"after {took:.1f} s: {r.text}")
        if not r.is_success:
            return None
        self.stats.answered[kind].append(time.perf_counter() - t0)
        self.stats.accepted.add(client_id)
        return r.json()

    async def text(self, i: int) -> None:
        group, auth = self.sender(i)
        client_id = f"soak-text-{i}"
        body = {"text": f"soak text {i}", "client_id": client_id}
        await self.post(
            "text", client_id, f"/api/v1/groups/{group.id}/messages", json=body, headers=auth
        )

    async def upload(self, i: int) -> None:
        group, auth = self.sender(i + 3)  # not always the same members as the texts
        memo = self.memos[i % len(self.memos)]
        client_id = f"soak-voice-{i}"
        message = await self.post(
            "voice",
            client_id,
            f"/api/v1/groups/{group.id}/voice",
            files={"file": (memo.name, memo.content, memo.mime)},
            data={"client_id": client_id},
            headers=auth,
        )
        if message is not None:
            self.stats.uploads[message["id"]] = self.stats.posted_at[client_id]
            if message["voice"]["status"] == "ready":
                self.stats.on_updated(time.perf_counter(), message)


async def paced(
    rate: float, duration: float, action: Callable[[int], Awaitable[None]], stats: Stats
) -> list[asyncio.Task[None]]:
    """Start `action(i)` at `rate` per second for `duration` seconds, never waiting for one."""
    start = time.perf_counter()
    tasks = []
    for i in range(int(rate * duration)):
        due = start + i / rate
        if due > time.perf_counter():
            await asyncio.sleep(due - time.perf_counter())
        stats.schedule_lag.append(max(0.0, time.perf_counter() - due))
        tasks.append(asyncio.create_task(action(i)))
    return tasks


async def sample_rss(pid: int, every: float, stop: asyncio.Event) -> list[tuple[float, int]]:
    """(seconds since start, RSS KiB) every `every` seconds until `stop` is set."""
    start = time.perf_counter()
    samples = []
    while not stop.is_set():
        samples.append((time.perf_counter() - start, rss_kib(pid)))
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
    samples.append((time.perf_counter() - start, rss_kib(pid)))
    return samples


async def progress(stats: Stats, stop: asyncio.Event, every: float = 30) -> None:
    """A line every `every` seconds, so a stalled run shows itself while it runs."""
    start = time.perf_counter()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            answered = sum(len(times) for times in stats.answered.values())
            waiting = len(stats.uploads) - stats.settled()
            print(f"  {time.perf_counter() - start:4.0f} s: {len(stats.posted_at)} posts started, "
                  f"{answered} answered, {stats.failed} failed, {waiting} memos not ready",
                  flush=True)  # fmt: skip


def rss_figures(samples: list[tuple[float, int]], warm_up_s: float) -> tuple[int, int, float]:
    """RSS at the end of warm-up (the baseline), at the end, and the slope after warm-up."""
    after = [(t, kib) for t, kib in samples if t >= warm_up_s] or samples[-1:]
    if len(after) >= 2:
        slope = statistics.linear_regression([t for t, _ in after], [k for _, k in after]).slope
    else:
        slope = 0.0
    return after[0][1], samples[-1][1], slope * 60


async def wait_until(done: Callable[[], bool], seconds: float) -> bool:
    deadline = time.perf_counter() + seconds
    while not done():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def server_log(http: httpx.AsyncClient, group: Group, stats: Stats) -> list[dict]:
    """The group's durable events in `seq` order, as the server keeps them."""
    auth = {"Authorization": f"Bearer {group.tokens[0]}"}
    events: list[dict] = []
    while True:
        after = events[-1]["seq"] if events else 0
        r = await http.get(
            f"/api/v1/groups/{group.id}/events",
            params={"after": after, "limit": 1000},
            headers=auth,
        )
        stats.outcome("events", r.status_code, r.text)
        r.raise_for_status()
        page = r.json()
        events += page["events"]
        if not page["has_more"]:
            return events


def violations(held: list[Key], truth: list[Key]) -> Counter[str]:
    """How a client's copy of a group's events differs from the server's log."""
    found: Counter[str] = Counter()
    if held == truth:
        return found
    seqs = [seq for seq, _, _ in held]
    expected = {key[0]: key for key in truth}
    found["duplicate"] = len(seqs) - len(set(seqs))
    found["missing"] = len(expected.keys() - set(seqs))
    found["unknown"] = sum(1 for seq in set(seqs) if seq not in expected)
    found["out of order"] = sum(1 for a, b in zip(seqs, seqs[1:], strict=False) if b < a)
    found["different content"] = sum(
        1 for key in held if key[0] in expected and key != expected[key[0]]
    )
    return +found


def log_problems(events: list[dict]) -> Counter[str]:
    """The log itself: seqs 1..N with no hole, and no post (client_id) created twice."""
    found: Counter[str] = Counter()
    seqs = [e["seq"] for e in events]
    if seqs != list(range(1, len(seqs) + 1)):
        found["seq not 1..N"] += 1
    created = Counter(e["data"].get("client_id") for e in events if e["type"] == "message.created")
    found["post created twice"] = sum(1 for cid, n in created.items() if cid and n > 1)
    return +found


@dataclass
class Verdict:
    """The end-of-run checks over all groups."""

    events_total: int = 0
    delivered_total: int = 0
    clients_ok: int = 0
    clients_bad: int = 0
    client_problems: Counter[str] = field(default_factory=Counter)
    log_problems: Counter[str] = field(default_factory=Counter)
    created_ids: set[str] = field(default_factory=set)  # client_ids in the logs
    final_state: dict[str, str] = field(default_factory=dict)  # memo id: status in the log


async def verify(http: httpx.AsyncClient, groups: list[Group], stats: Stats) -> Verdict:
    verdict = Verdict()
    for group in groups:
        events = await server_log(http, group, stats)
        truth = [event_key(e) for e in events]
        verdict.events_total += len(truth)
        verdict.log_problems += log_problems(events)
        for e in events:
            if e["type"] == "message.created" and e["data"].get("client_id"):
                verdict.created_ids.add(e["data"]["client_id"])
            if e["type"] in ("message.created", "message.updated") and e["data"].get("voice"):
                verdict.final_state[e["data"]["id"]] = e["data"]["voice"]["status"]
        for client in group.clients:
            held = client.events.get(group.id, [])
            verdict.delivered_total += sum(len(keys) for keys in client.events.values())
            found = violations(held, truth)
            found["events of another group"] = sum(
                len(keys) for gid, keys in client.events.items() if gid != group.id
            )
            found = +found
            verdict.client_problems += found
            if found:
                verdict.clients_bad += 1
            else:
                verdict.clients_ok += 1
    return verdict


def ms(samples: list[float]) -> str:
    if not samples:
        return "n/a"
    p50, p99 = percentiles(samples)
    return f"{p50:.0f} / {p99:.0f} ms"


def describe(problems: Counter[str]) -> str:
    return ", ".join(f"{n} {what}" for what, n in problems.most_common()) or "none"


@dataclass
class Run:
    """The run's timing and resource figures, next to the counts in Stats and Verdict."""

    rss: list[tuple[float, int]]  # (seconds into the load, KiB)
    cpu: dict[str, float]  # CPU seconds during the load: server, its ffmpeg, clients
    backlog: int  # accepted memos not yet ready when the load stopped
    drained_s: float  # from the end of the load until every memo was settled (or gave up)
    drained: bool
    elapsed_s: float


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds used by a process itself and by its finished children (ffmpeg)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    tick = os.sysconf("SC_CLK_TCK")
    return (utime + stime) / tick, (cutime + cstime) / tick


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all processes, all cores)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(x) for x in Path("/proc/stat").read_text().split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def report(
    args: argparse.Namespace, stats: Stats, verdict: Verdict, clients: list[Client], run: Run
) -> list[str]:
    """Print the table; return the failed checks."""
    ready = sum(1 for mid in stats.uploads if verdict.final_state.get(mid) == "ready")
    failed_memos = sum(1 for mid in stats.uploads if verdict.final_state.get(mid) == "failed")
    lost_posts = len(stats.accepted - verdict.created_ids)
    texts_ok = sum(1 for cid in stats.accepted if cid.startswith("soak-text-"))
    dropped = Counter(c.closed for c in clients if c.closed)
    ws_errors = sum(len(c.errors) for c in clients)
    warm, end, slope = rss_figures(run.rss, args.duration * WARM_UP)
    lag_p99 = percentiles(stats.schedule_lag)[1]
    ok = verdict.clients_bad == 0
    rows = [
        ("duration of load", f"{args.duration:.0f} s ({run.elapsed_s:.0f} s in all)"),
        ("clients / groups", f"{len(clients)} / {args.groups}"),
        ("uploads sent / accepted", f"{int(UPLOADS_PER_S * args.duration)} / {len(stats.uploads)}"),
        ("uploads ready / failed", f"{ready} / {failed_memos}"),
        ("memo backlog at end of load", f"{run.backlog} ({'all' if run.drained else 'NOT all'} "
         f"settled {run.drained_s:.0f} s later)"),
        ("text posts sent / accepted", f"{int(TEXTS_PER_S * args.duration)} / {texts_ok}"),
        ("requests / failed", f"{stats.requests.total()} / {stats.failed}"),
        ("post schedule lag p99 / max", f"{lag_p99:.0f} / "
         f"{max(stats.schedule_lag, default=0) * 1000:.0f} ms"),
        ("events in server logs", f"{verdict.events_total}"),
        ("events delivered total", f"{verdict.delivered_total}"),
        ("exactly once, in order", f"{'yes' if ok else 'NO'} ({verdict.clients_ok} clients ok, "
         f"{verdict.clients_bad} not)"),
        ("  violations", describe(verdict.client_problems)),
        ("server log problems", describe(verdict.log_problems)),
        ("websockets dropped", describe(dropped)),
        ("websocket error frames", f"{ws_errors}"),
        ("text POST answered p50 / p99", ms(stats.answered["text"])),
        ("text POST-to-delivery p50 / p99", ms(stats.delivery["text"])),
        ("voice POST answered p50 / p99", ms(stats.answered["voice"])),
        ("voice POST-to-delivery p50 / p99", ms(stats.delivery["voice"])),
        ("upload-to-ready p50 / p99", ms(stats.ready_after())),
        ("RSS at warm-up end (baseline)", f"{warm / 1024:.1f} MiB"),
        ("RSS at end of load", f"{end / 1024:.1f} MiB ({end - warm:+d} KiB)"),
        ("RSS slope after warm-up", f"{slope:+.1f} KiB/min"),
        ("CPU s in load: server / ffmpeg / clients", " / ".join(
            f"{run.cpu[k]:.0f}" for k in ("server", "ffmpeg", "clients"))),
        ("CPU s in load: whole machine / available", f"{run.cpu['machine']:.0f} / "
         f"{args.duration * (os.cpu_count() or 1):.0f}"),
    ]  # fmt: skip
    width = max(len(label) for label, _ in rows)
    print()
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(
        f"\n{os.cpu_count()} cores; {TEXTS_PER_S} texts/s and {UPLOADS_PER_S} uploads/s "
        f"(open loop); memos of {' and '.join(map(str, MEMO_SECONDS))} s speech; "
        f"warm-up = first {WARM_UP:.0%} of the load; clients in one process."
    )
    for failure in stats.failures[:10]:
        print(f"  failed request: {failure}")
    for client in clients:
        for error in client.errors[:3]:
            print(f"  error frame: {error}")
    checks = {
        "every request succeeded": stats.failed == 0,
        "every accepted memo ready": ready == len(stats.uploads),
        "every client has every event exactly once, in order": ok,
        "server logs have no holes or double posts": not verdict.log_problems,
        "no accepted post missing from the logs": lost_posts == 0,
        "no websocket dropped": not dropped,
        "no error frames": ws_errors == 0,
    }
    return [name for name, passed in checks.items() if not passed]


async def load_phase(
    args: argparse.Namespace, server: ServerProcess, load: Load, stats: Stats
) -> tuple[list[asyncio.Task[None]], list[tuple[float, int]], dict[str, float]]:
    """The paced posts with RSS samples; the posts' tasks (some still running) and figures."""
    assert server.proc is not None
    pid = server.proc.pid
    server_cpu, ffmpeg_cpu, own_cpu = *cpu_seconds(pid), time.process_time()
    machine_cpu = machine_busy_seconds()
    stop = asyncio.Event()
    rss_task = asyncio.create_task(sample_rss(pid, min(5.0, max(1.0, args.duration / 30)), stop))
    progress_task = asyncio.create_task(progress(stats, stop))
    texts, uploads = await asyncio.gather(
        paced(TEXTS_PER_S, args.duration, load.text, stats),
        paced(UPLOADS_PER_S, args.duration, load.upload, stats),
    )
    stop.set()
    await progress_task
    server_end, ffmpeg_end = cpu_seconds(pid)
    cpu = {
        "server": server_end - server_cpu,
        "ffmpeg": ffmpeg_end - ffmpeg_cpu,
        "clients": time.process_time() - own_cpu,
        "machine": machine_busy_seconds() - machine_cpu,
    }
    return texts + uploads, await rss_task, cpu


async def soak(args: argparse.Namespace, server: ServerProcess, memos: list[Memo]) -> list[str]:
    t_start = time.perf_counter()
    sizes = [
        args.clients // args.groups + (i < args.clients % args.groups) for i in range(args.groups)
    ]
    groups = await make_groups(server.url, sizes)
    stats = Stats()
    clients = await connect_clients(server.url, groups, stats)
    print(f"{len(clients)} clients connected in {time.perf_counter() - t_start:.0f} s", flush=True)
    limits = httpx.Limits(
        max_connections=MAX_IN_FLIGHT + 8, max_keepalive_connections=MAX_IN_FLIGHT + 8
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as http:
        posts, rss, cpu = await load_phase(args, server, Load(http, groups, memos, stats), stats)
        load_end = time.perf_counter()
        backlog = len(stats.uploads) - stats.settled()
        print(f"load done; {backlog} memos not ready yet, waiting for them", flush=True)
        await finish(posts, args.drain_timeout, stats)
        drained = await wait_until(
            lambda: stats.settled() == len(stats.uploads), args.drain_timeout
        )
        drained_s = time.perf_counter() - load_end
        await settle(http, groups, stats)
        verdict = await verify(http, groups, stats)
    await asyncio.gather(*[client.close() for client in clients])
    run = Run(rss, cpu, backlog, drained_s, drained, time.perf_counter() - t_start)
    return report(args, stats, verdict, clients, run)


async def finish(tasks: list[asyncio.Task[None]], seconds: float, stats: Stats) -> None:
    """Wait (bounded) for the posts still in flight; one not answered by then has failed."""
    _, pending = await asyncio.wait(tasks, timeout=seconds)
    for task in pending:
        task.cancel()
        stats.outcome("post", "no answer in time")


async def settle(http: httpx.AsyncClient, groups: list[Group], stats: Stats) -> None:
    """Wait (bounded) until each live client has caught up with its group's last seq."""
    for group in groups:
        auth = {"Authorization": f"Bearer {group.tokens[0]}"}
        r = await http.get(f"/api/v1/groups/{group.id}", headers=auth)
        stats.outcome("group", r.status_code, r.text)
        last = r.json()["last_seq"]
        await wait_until(
            lambda g=group, s=last: all(c.closed or c.last_seq() >= s for c in g.clients), 30
        )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=300, help="seconds of load")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument(
        "--drain-timeout", type=float, default=600, help="longest wait for memos after the load"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="earshot-soak-"))
    memos = await asyncio.to_thread(prepare_memos, work)
    log = work / "server.log"
    (work / "data").mkdir()
    server = ServerProcess(work / "data", log=log, **SETTINGS)
    await asyncio.to_thread(server.start)
    try:
        failed = await soak(args, server, memos)
    finally:
        server.stop()
    lines = log.read_text(errors="replace").splitlines()
    print(f"server log {log}: {len(lines)} lines, "
          f"{sum('Traceback' in line for line in lines)} tracebacks")  # fmt: skip
    for name in failed:
        print(f"FAILED: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
