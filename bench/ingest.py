"""Ingest benchmark: upload-to-ready time of voice memos against plain ffmpeg.

For 10 s, 60 s and 10 min speech memos (AAC in m4a, as an iPhone sends), it
measures in the same run:
- baseline: `ffmpeg -i IN -ac 1 -c:a libopus -b:a 24k OUT.ogg` on the same file;
- earshot: a real `earshot serve` process, from the start of the upload to the
  message reading `ready` (polled every 20 ms), with the server's peak RSS growth
  and the peak RSS of its ffmpeg children.

Run: .venv/bin/python -m bench.ingest   (loopback only; stops by itself)
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.common import PASSWORD
from tests import audio_samples
from tests.process import ServerProcess


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


class RssWatch:
    """Samples a process's RSS and its children's every 10 ms while running."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.base = rss_kib(pid)
        self.peak = self.base
        self.child_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            self.child_peak = max(self.child_peak, sum(rss_kib(c) for c in children(self.pid)))
            time.sleep(0.01)

    def __enter__(self) -> "RssWatch":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def baseline_s(src: Path, work: Path) -> float:
    out = work / "baseline.ogg"
    start = time.perf_counter()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-ac", "1",
         "-c:a", "libopus", "-b:a", "24k", str(out)],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - start


def upload_to_ready_s(client: httpx.Client, token: str, gid: str, src: Path) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    start = time.perf_counter()
    with src.open("rb") as f:
        r = client.post(
            f"/api/v1/groups/{gid}/voice", headers=headers, files={"file": (src.name, f)}
        )
    r.raise_for_status()
    mid = r.json()["id"]
    while True:
        status = client.get(f"/api/v1/messages/{mid}", headers=headers).json()["voice"]["status"]
        if status != "processing":
            elapsed = time.perf_counter() - start
            assert status == "ready", status
            return elapsed
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lengths", default="10,60,600", help="memo lengths in seconds")
    parser.add_argument("--repeat", type=int, default=3, help="runs per length (best is kept)")
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("making speech memos…", file=sys.stderr)
        memos = {
            n: audio_samples.client_file(
                work, "iphone_m4a", audio_samples.speech_of_length(work, n)
            )
            for n in lengths
        }
        server = ServerProcess(work / "data", rate_limits="false").start()
        assert server.proc is not None
        rows = []
        try:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                token = client.post(
                    "/api/v1/auth/register",
                    json={"handle": "bench", "display_name": "Bench", "password": PASSWORD},
                ).json()["token"]
                gid = client.post(
                    "/api/v1/groups",
                    headers={"Authorization": f"Bearer {token}"},
                    json={"name": "bench"},
                ).json()["id"]
                for n, src in memos.items():
                    base = min(baseline_s(src, work) for _ in range(args.repeat))
                    runs = []
                    for _ in range(args.repeat):
                        with RssWatch(server.proc.pid) as watch:
                            runs.append(upload_to_ready_s(client, token, gid, src))
                        growth_mb = (watch.peak - watch.base) / 1024
                        child_mb = watch.child_peak / 1024
                    rows.append((n, src.stat().st_size, base, min(runs), growth_mb, child_mb))
        finally:
            server.proc.send_signal(signal.SIGTERM)
            server.proc.wait(timeout=15)

    print()
    print(f"{'memo':>8} {'upload':>9} {'ffmpeg s':>9} {'earshot s':>10} {'ratio':>6} "
          f"{'server RSS +MB':>15} {'ffmpeg RSS MB':>14}")  # fmt: skip
    for n, size, base, ours, growth, child in rows:
        label = f"{n // 60} min" if n >= 60 else f"{n} s"
        print(f"{label:>8} {size / 1e6:>7.2f}MB {base:>9.2f} {ours:>10.2f} {ours / base:>5.2f}x "
              f"{growth:>15.1f} {child:>14.1f}")  # fmt: skip
    print(
        f"\n{os.cpu_count()} cores; best of {args.repeat} runs each; "
        "earshot = upload start to `ready`, including loudness normalization and waveform."
    )


if __name__ == "__main__":
    main()
