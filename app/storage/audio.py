"""Audio work, all through ffmpeg subprocesses so the event loop never blocks and
memory stays bounded whatever the memo's length.

- `probe` tells decodable audio from anything else, and how long it is.
- `transcode_voice` makes the canonical form in one decoding pass: Ogg Opus, mono,
  48 kHz, 24 kb/s, loudness-normalized for speech (EBU R128, -16 LUFS), while the
  same ffmpeg process streams 8 kHz PCM to us for the duration and the waveform.
- `transcode_mp3` makes the fallback for players without Opus.
"""

import asyncio
import json
import os
import uuid
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from pydub.utils import get_encoder_name, get_prober_name

WAVEFORM_BUCKETS = 64
PCM_RATE = 8000  # enough for peaks and duration, cheap to move through a pipe
_WINDOW = PCM_RATE // 20  # one peak per 50 ms, reduced to 64 buckets at the end
_LOUDNESS = "loudnorm=I=-16:TP=-1.5:LRA=11"
_MIN_DECODED_MS = 50


class NotAudio(Exception):
    """The file is not audio that can be decoded."""


class AudioTooLong(Exception):
    def __init__(self, duration_ms: int) -> None:
        super().__init__(f"{duration_ms} ms")
        self.duration_ms = duration_ms


class TranscodeError(Exception):
    """ffmpeg failed; the message holds its last lines of error output."""


@dataclass
class ProbeResult:
    duration_ms: int
    codec: str
    container: str


@dataclass
class VoiceInfo:
    duration_ms: int
    waveform: list[int]


async def _run(args: list[str], time_limit_s: float) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), time_limit_s)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out, err


def _tail(err: bytes) -> str:
    lines = err.decode("utf-8", "replace").strip().splitlines()
    return " | ".join(lines[-3:]) or "no output"


async def _decoded_ms(path: Path, limit_s: float, time_limit_s: float) -> int:
    """Decode up to `limit_s` seconds to low-rate PCM and count it; errors mean not audio."""
    proc = await asyncio.create_subprocess_exec(
        get_encoder_name(), "-v", "error", "-nostdin", "-xerror", "-i", str(path),
        "-map", "0:a:0", "-t", str(limit_s), "-ac", "1", "-ar", str(PCM_RATE),
        "-f", "s16le", "pipe:1",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    stderr_task = asyncio.create_task(proc.stderr.read())
    decoded = 0

    async def count() -> None:
        nonlocal decoded
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(64 * 1024):
            decoded += len(chunk)
        await proc.wait()

    try:
        await asyncio.wait_for(count(), time_limit_s)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    finally:
        await stderr_task  # drained so the pipe never fills; the reason is not the user's
    if proc.returncode != 0:
        raise NotAudio("it does not decode as audio")
    return decoded // 2 * 1000 // PCM_RATE


async def probe(path: Path, max_duration_s: int) -> ProbeResult:
    """Check that `path` is decodable audio no longer than `max_duration_s` (1 s of grace)."""
    try:
        code, out, _ = await _run(
            [get_prober_name(), "-v", "error", "-of", "json", "-show_entries",
             "format=format_name,duration:stream=codec_type,codec_name,duration", str(path)],
            30,
        )  # fmt: skip
    except TimeoutError:
        raise NotAudio("it could not be read in time") from None
    if code != 0:
        raise NotAudio("its format is not recognised")
    info = json.loads(out or b"{}")
    audio = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        raise NotAudio("it has no audio stream")
    declared = _seconds(audio[0].get("duration")) or _seconds(
        info.get("format", {}).get("duration")
    )
    limit = max_duration_s + 1
    if declared is not None and declared > limit:
        raise AudioTooLong(int(declared * 1000))
    # Headers can lie (or be absent, as in MediaRecorder's webm): decode to be sure.
    # Without a declared duration, decode the whole file (bounded by the limit) to measure it.
    sample_s = 3.0 if declared is not None else limit + 1
    try:
        decoded_ms = await _decoded_ms(path, sample_s, time_limit_s=60 + sample_s / 20)
    except TimeoutError:
        raise NotAudio("it could not be decoded in time") from None
    if decoded_ms < _MIN_DECODED_MS:
        raise NotAudio("it contains no sound")
    if declared is None and decoded_ms > limit * 1000:
        raise AudioTooLong(decoded_ms)
    duration_ms = int(declared * 1000) if declared is not None else decoded_ms
    return ProbeResult(
        duration_ms=duration_ms,
        codec=str(audio[0].get("codec_name", "unknown")),
        container=str(info.get("format", {}).get("format_name", "unknown")),
    )


def _seconds(value: object) -> float | None:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


class _Peaks:
    """Peak per 50 ms window of 16-bit PCM, kept small: 12,000 ints for 10 minutes."""

    def __init__(self) -> None:
        self.windows = array("i")
        self.samples = 0
        self._carry = b""

    def feed(self, data: bytes) -> None:
        data = self._carry + data
        usable = len(data) - len(data) % (_WINDOW * 2)
        self._carry = data[usable:]
        pcm = array("h", data[:usable])
        self.samples += len(pcm)
        for i in range(0, len(pcm), _WINDOW):
            window = pcm[i : i + _WINDOW]
            self.windows.append(max(max(window), -min(window)))

    def finish(self) -> None:
        tail = self._carry[: len(self._carry) - len(self._carry) % 2]
        if tail:
            pcm = array("h", tail)
            self.samples += len(pcm)
            self.windows.append(max(max(pcm), -min(pcm)))
        self._carry = b""

    def waveform(self) -> list[int]:
        """64 values 0–255: each bucket's peak, scaled so the loudest bucket is 255."""
        n = len(self.windows)
        if n == 0:
            return [0] * WAVEFORM_BUCKETS
        buckets = [
            max(
                self.windows[
                    i * n // WAVEFORM_BUCKETS : max(
                        (i + 1) * n // WAVEFORM_BUCKETS, i * n // WAVEFORM_BUCKETS + 1
                    )
                ],
                default=0,
            )
            for i in range(WAVEFORM_BUCKETS)
        ]
        loudest = max(max(buckets), 1024)  # near-silence stays near zero
        return [min(255, round(b * 255 / loudest)) for b in buckets]


def _temp_beside(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")


async def transcode_voice(src: Path, dst: Path, time_limit_s: float = 1800) -> VoiceInfo:
    """Write the canonical Ogg Opus to `dst` and measure duration and waveform, in one pass."""
    tmp = _temp_beside(dst)
    graph = (
        f"[0:a:0]aformat=channel_layouts=mono,{_LOUDNESS},aresample=48000,"
        "aformat=sample_fmts=flt:channel_layouts=mono,asplit=2[enc][pcm];"
        f"[pcm]aresample={PCM_RATE},aformat=sample_fmts=s16:channel_layouts=mono[peaks]"
    )
    args = [
        get_encoder_name(), "-v", "error", "-nostdin", "-i", str(src), "-filter_complex", graph,
        "-map", "[enc]", "-c:a", "libopus", "-b:a", "24k", "-application", "voip",
        "-ar", "48000", "-f", "ogg", str(tmp),
        "-map", "[peaks]", "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    peaks = _Peaks()
    stderr_task = asyncio.create_task(proc.stderr.read())

    async def pump() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(64 * 1024):
            peaks.feed(chunk)

    try:
        await asyncio.wait_for(pump(), time_limit_s)
        await asyncio.wait_for(proc.wait(), 30)
        err = await stderr_task
        if proc.returncode != 0:
            raise TranscodeError(_tail(err))
        peaks.finish()
        if peaks.samples == 0:
            raise TranscodeError("no audio decoded")
        await asyncio.to_thread(_fsync_and_rename, tmp, dst)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        stderr_task.cancel()
        tmp.unlink(missing_ok=True)
        raise
    return VoiceInfo(duration_ms=peaks.samples * 1000 // PCM_RATE, waveform=peaks.waveform())


async def transcode_mp3(src: Path, dst: Path, time_limit_s: float = 600) -> None:
    """Write an MP3 (mono, 64 kb/s) of `src` to `dst`."""
    tmp = _temp_beside(dst)
    try:
        code, _, err = await _run(
            [get_encoder_name(), "-v", "error", "-nostdin", "-i", str(src), "-ac", "1",
             "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", str(tmp)],
            time_limit_s,
        )  # fmt: skip
        if code != 0:
            raise TranscodeError(_tail(err))
        await asyncio.to_thread(_fsync_and_rename, tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_and_rename(tmp: Path, dst: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, dst)


P = ParamSpec("P")
T = TypeVar("T")


class TranscodePool:
    """At most `size` ffmpeg jobs at once, so a burst of uploads cannot starve the machine."""

    def __init__(self, size: int) -> None:
        self._slots = asyncio.Semaphore(size)
        self.running = 0

    async def run(self, job: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        async with self._slots:
            self.running += 1
            try:
                return await job(*args, **kwargs)
            finally:
                self.running -= 1
