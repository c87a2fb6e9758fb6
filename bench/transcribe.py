"""Transcription benchmark: real-time factor, peak memory, and the cost to other uploads.

1. In a worker process (as the server runs it), transcribe 10 s and 60 s speech
   memos stored as Earshot stores them (Opus 24k): seconds per second of audio
   (real-time factor, after the model is loaded) and the worker's peak RSS.
2. Against a real `earshot serve` process, twice in the same run: with transcripts
   off (the baseline) and on. A 60 s memo is uploaded, then ten 10 s memos one
   after another; the table gives their upload-to-ready times, so what transcription
   costs other uploads shows as the difference.

Run: .venv/bin/python -m bench.transcribe   (loopback only; stops by itself)
"""

import asyncio
import multiprocessing
import resource
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from app import transcribe
from bench.common import PASSWORD, start_server
from tests import audio_samples

SMALL_MEMOS = 10


def _timed(path: Path) -> tuple[float, int]:
    """In the worker: seconds to transcribe `path`, and this process's peak RSS in KiB."""
    start = time.perf_counter()
    transcribe.transcribe(path)
    return time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def real_time_factors(memos: dict[int, Path]) -> list[tuple[int, float, float, int]]:
    with multiprocessing.get_context("spawn").Pool(1, transcribe.load) as pool:
        pool.apply(_timed, (memos[10],))  # warm up: the first call pays for lazy set-up
        rows = []
        for seconds, path in memos.items():
            elapsed, rss = pool.apply(_timed, (path,))
            rows.append((seconds, elapsed, elapsed / seconds, rss))
        return rows


async def upload_to_ready(transcripts: bool, big: Path, small: Path) -> list[float]:
    server = start_server(transcripts=str(transcripts).lower())
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            r = await http.post(
                "/api/v1/auth/register",
                json={"handle": "bench", "display_name": "Bench", "password": PASSWORD},
            )
            auth = {"Authorization": f"Bearer {r.json()['token']}"}
            gid = (await http.post("/api/v1/groups", headers=auth, json={"name": "b"})).json()["id"]

            async def post(path: Path) -> str:
                with path.open("rb") as f:
                    r = await http.post(
                        f"/api/v1/groups/{gid}/voice", headers=auth, files={"file": (path.name, f)}
                    )
                r.raise_for_status()
                return r.json()["id"]

            async def ready(mid: str) -> None:
                while True:
                    r = await http.get(f"/api/v1/messages/{mid}", headers=auth)
                    if r.json()["voice"]["status"] == "ready":
                        return
                    await asyncio.sleep(0.02)

            await ready(await post(big))
            times = []
            for _ in range(SMALL_MEMOS):  # while the big memo's transcription runs
                start = time.perf_counter()
                await ready(await post(small))
                times.append(time.perf_counter() - start)
            return times
    finally:
        server.stop()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources = {s: audio_samples.speech_of_length(work, s) for s in (10, 60)}
        memos = {s: audio_samples.as_stored_opus(p, work) for s, p in sources.items()}
        rtf = real_time_factors(memos)
        big = audio_samples.client_file(work, "iphone_m4a", sources[60])
        small = audio_samples.client_file(work, "iphone_m4a", sources[10])
        off = await upload_to_ready(False, big, small)
        on = await upload_to_ready(True, big, small)

    print("\nmemo   transcribe s   real-time factor   worker peak RSS MiB")
    for seconds, elapsed, factor, rss in rtf:
        print(f"{seconds:>3} s   {elapsed:>12.2f}   {factor:>16.3f}   {rss / 1024:>19.0f}")
    print(f"\n{SMALL_MEMOS} uploads of 10 s memos right after a 60 s one, upload-to-ready s:")
    print("transcripts        p50     max   vs off")
    base = statistics.median(off)
    for name, times in (("off (baseline)", off), ("on", on)):
        p50 = statistics.median(times)
        print(f"{name:<15} {p50:>6.2f}  {max(times):>6.2f}   {p50 / base:>5.2f}x")
    print("\n2 cores; Whisper tiny.en (int8, 1 thread) in a niced worker process; Opus 24k input.")


if __name__ == "__main__":
    asyncio.run(main())
