"""Live relay benchmark: how long a push-to-talk chunk takes from sender to listeners.

One sender streams real Opus (espeak speech encoded as webm at 32 kb/s) in 250 ms
chunks to 10, 100 and 500 listeners; each listener timestamps each binary frame
as it arrives, in this same process, so the clocks agree; the latency is arrival
minus the moment before the sender's send. Baseline, in the same run: the
round-trip of the same chunks through `bench/echo_app.py`, a bare ASGI websocket
echo under uvicorn.

Run: .venv/bin/python -m bench.live [--listeners 10,100,500] [--chunks 40]
"""

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from bench.common import (
    close_all,
    group_of,
    open_live,
    percentiles,
    start_server,
    start_uvicorn,
    ws_url,
)
from tests import audio_samples

TIMESLICE_S = 0.25


def opus_chunks(count: int) -> list[bytes]:
    """Real Opus-in-webm bytes, cut the way MediaRecorder's 250 ms timeslices fall."""
    work = Path(tempfile.mkdtemp(prefix="earshot-live-"))
    speech = audio_samples.speech_of_length(work, max(10, int(count * TIMESLICE_S) + 1))
    data = audio_samples.client_file(work, "chrome_webm", speech).read_bytes()
    size = 32_000 // 8 // 4  # 250 ms at 32 kb/s
    return [data[i : i + size] for i in range(0, size * count, size)]


async def earshot(listeners: int, chunks: list[bytes]) -> tuple[float, float]:
    server = start_server()
    try:
        gid, tokens = await group_of(server.url, listeners + 1)
        conns = await open_live(ws_url(server.url), tokens)
        sender, ears = conns[0], conns[1:]
        await sender.send(f'{{"type":"live.start","group_id":"{gid}","mime":"audio/webm"}}')
        while '"live.started"' not in (await sender.recv()):
            pass
        sent_at: dict[int, float] = {}
        samples: list[float] = []
        expected = len(chunks) * len(ears)

        async def listen(conn: ClientConnection) -> None:
            async for raw in conn:
                if isinstance(raw, bytes):
                    samples.append(time.perf_counter() - sent_at[int.from_bytes(raw[16:24], "big")])

        readers = [asyncio.create_task(listen(c)) for c in ears]
        offset = 0
        for chunk in chunks:
            sent_at[offset] = time.perf_counter()
            await sender.send(chunk)
            offset += len(chunk)
            await asyncio.sleep(TIMESLICE_S)
        deadline = time.perf_counter() + 30
        while len(samples) < expected and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await sender.send('{"type":"live.end"}')
        for task in readers:
            task.cancel()
        await close_all(conns)
        assert len(samples) == expected, f"{len(samples)} of {expected} frames arrived"
        return percentiles(samples)
    finally:
        server.stop()


async def echo_round_trip(chunks: list[bytes]) -> tuple[float, float]:
    proc, port = await asyncio.to_thread(start_uvicorn, "bench.echo_app:app")
    try:
        samples = []
        async with connect(f"ws://127.0.0.1:{port}/", compression=None) as conn:
            for chunk in chunks:
                t0 = time.perf_counter()
                await conn.send(chunk)
                await conn.recv()
                samples.append(time.perf_counter() - t0)
                await asyncio.sleep(TIMESLICE_S / 5)
        return percentiles(samples)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 10)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listeners", default="10,100,500")
    parser.add_argument("--chunks", type=int, default=40)
    args = parser.parse_args()
    chunks = opus_chunks(args.chunks)
    e50, e99 = await echo_round_trip(chunks)
    rows = []
    for n in [int(x) for x in args.listeners.split(",")]:
        p50, p99 = await earshot(n, chunks)
        rows.append((n, p50, p99))
    print()
    print(
        f"{'listeners':>10} {'relay p50 ms':>13} {'p99 ms':>8} {'echo RTT p50':>13} {'p99 ms':>8}"
    )
    for n, p50, p99 in rows:
        print(f"{n:>10} {p50:>13.1f} {p99:>8.1f} {e50:>13.1f} {e99:>8.1f}")
    print(f"\n{os.cpu_count()} cores; {len(chunks)} chunks of {len(chunks[0])} bytes every "
          f"{TIMESLICE_S * 1000:.0f} ms; relay = send to each listener's receive.")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
