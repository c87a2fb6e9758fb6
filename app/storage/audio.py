"""Audio work for voice memos: telling audio from garbage, and making the canonical form.

Everything runs in ffmpeg/ffprobe subprocesses driven from asyncio, so the event
loop never blocks and memory stays bounded whatever a memo's length: PCM is only
ever seen as a low-rate stream, reduced to peaks chunk by chunk (in C via audioop,
about 0.2 ms a chunk; in a worker thread where audioop is missing).

- `probe` decides whether an upload is decodable audio and how long it is.
  ffprobe alone is fooled (it "finds" MP3 in random bytes), so the first seconds
  are really decoded, stopping at the first error. MediaRecorder's WebM declares
  no duration; its length is then read from packet timestamps (no decoding).
- `transcode_voice` writes the canonical Ogg Opus (mono, 48 kHz, 24 kb/s, speech
  mode) at about -16 LUFS, and measures the exact duration and a 64-bar waveform.
  The upload is decoded once, to a temporary 48 kHz PCM file, while ffmpeg's
  `ebur128` measures its loudness and 8 kHz PCM feeds the waveform; the PCM is then
  encoded with one gain and a peak limiter. Single-pass `loudnorm` costs about
  twice the plain encode (it works at 192 kHz); this costs about 1.1x.
- `transcode_mp3` makes the fallback for players without Opus.
- `TranscodePool` bounds how many of these run at once.

Inputs are restricted to the audio containers clients send (`INPUT_FORMATS`), which
also keeps ffmpeg's playlist demuxers (HLS, concat) from following references
planted in an upload.
"""

import asyncio
import contextlib
import json
import math
import os
import re
import time
import uuid
from array import array
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from pydub import AudioSegment
from pydub.utils import get_prober_name

try:  # C speed for peaks; deprecated since 3.11 (pydub needs it too), `audioop-lts` on 3.13
    import audioop
except ImportError:  # pragma: no cover
    audioop = None  # type: ignore[assignment]

WAVEFORM_BARS = 64
TARGET_LUFS = -16.0
PEAK_LIMIT_DB = -2.0  # sample peak before encoding; Opus overshoots it by ~1.5 dB
MAX_GAIN_DB = 40.0  # enough for a recording 30 dB too quiet, not enough to make hiss of silence
OPUS_BITRATE = "24k"
BACKGROUND_NICENESS = 10  # added to ours for conversions: requests come first (see _Process)
MP3_BITRATE = "64k"
DURATION_TOLERANCE_MS = 1000

INPUT_FORMATS = ",".join(
    [
        "mov", "mp4", "m4a", "3gp", "3g2", "mj2",  # iOS, Safari, Android (AAC, AMR)
        "matroska", "webm",  # Chrome and Android MediaRecorder
        "ogg", "mp3", "wav", "w64", "flac", "aac", "amr", "amrnb", "amrwb",
        "caf", "aiff", "asf",
    ]
)  # fmt: skip

_PCM_RATE = 8000  # plenty for peaks and an exact duration, cheap to pipe
_CHECK_SECONDS = 3.0  # stretch decoded to prove that a file is audio
_MIN_AUDIO_MS = 20  # fewer decoded samples than this is not a recording
_DAMAGED_TAIL_MIN_MS = 1000  # a decode error after this much audio is a damaged end, kept
_PROBE_TIMEOUT_S = 20.0
_STALL_TIMEOUT_S = 30.0  # no output at all from ffmpeg for this long: give up
_GRACE_S = 30.0  # on top of the speed budget below, for start-up and a loaded machine
_MIN_DECODE_SPEED = 20.0  # decoding runs at ~1000x real time here; 20x means something is wrong
_MIN_ENCODE_SPEED = 2.0  # libopus/lame run at ~60-75x real time on one core
_STDERR_LINES = 20
_READ_SIZE = 256 * 1024


class NotAudio(Exception):
    """The file is not audio we can decode; the message says why, in words for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AudioTooLong(Exception):
    """The recording is longer than allowed; `duration_ms` is its length, or with
    `exact` false a lower bound (measuring stopped just past the limit)."""

    def __init__(
        self, duration_ms: int, max_duration_s: float | None = None, *, exact: bool = True
    ) -> None:
        limit = f"; the limit is {max_duration_s:g} s" if max_duration_s is not None else ""
        at_least = "" if exact else "at least "
        super().__init__(f"the recording is {at_least}{duration_ms / 1000:.1f} s long{limit}")
        self.duration_ms = duration_ms
        self.max_duration_s = max_duration_s
        self.exact = exact


class TranscodeError(Exception):
    """ffmpeg could not make the output; the message ends with ffmpeg's last error lines."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        super().__init__(f"{message}: {stderr_tail}" if stderr_tail else message)
        self.stderr_tail = stderr_tail


@dataclass(frozen=True)
class ProbeResult:
    """What `probe` learned: the length (from the header, else from packet timestamps)."""

    duration_ms: int
    codec: str
    container: str
    sample_rate: int | None
    channels: int | None
    duration_from_header: bool


@dataclass(frozen=True)
class VoiceInfo:
    """What the player shows: exact length and 64 peak bars (0-255)."""

    duration_ms: int
    waveform: list[int]


def ffmpeg_binary() -> str:
    """The ffmpeg pydub is configured to use (`AudioSegment.converter`)."""
    return str(AudioSegment.converter)


def ffprobe_binary() -> str:
    """The ffprobe pydub would use."""
    return str(get_prober_name())


def _input(path: Path) -> list[str]:
    return ["-format_whitelist", INPUT_FORMATS, "-protocol_whitelist", "file", "-i", str(path)]


class _Process:
    """One ffmpeg/ffprobe run: stdout piped to us, stderr's last lines kept, always reaped.

    A `background` run (converting a memo already accepted) runs at a lower CPU
    priority, so requests and fan-out, which people wait for, come first on a busy
    machine; probing an upload, which its sender waits for, runs at normal priority.
    """

    def __init__(self, args: list[str], background: bool = False) -> None:
        self.args = args
        self.background = background
        self.tail: deque[str] = deque(maxlen=_STDERR_LINES)
        self.summary: list[str] = []  # lines after the last "Summary:" (ebur128's report)
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr_task: asyncio.Task[None] | None = None

    @property
    def proc(self) -> asyncio.subprocess.Process:
        assert self._proc is not None
        return self._proc

    async def __aenter__(self) -> "_Process":
        self._proc = await asyncio.create_subprocess_exec(
            *self.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        if self.background:
            with contextlib.suppress(OSError):  # best effort: the job runs either way
                niceness = min(os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICENESS, 19)
                os.setpriority(os.PRIO_PROCESS, self._proc.pid, niceness)
        self._stderr_task = asyncio.create_task(self._collect_stderr())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        if self._stderr_task is not None:
            await self._stderr_task

    async def _collect_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        pending = b""
        in_summary = False
        while chunk := await self._proc.stderr.read(8192):
            *lines, pending = (pending + chunk).split(b"\n")
            pending = pending[-4096:]
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip()
                if not line:
                    continue
                self.tail.append(line)
                if line.endswith("Summary:"):  # the last one counts: graph set-up prints one too
                    self.summary = []
                    in_summary = True
                elif in_summary and len(self.summary) < 30:
                    self.summary.append(line)
        if pending.strip():
            self.tail.append(pending.decode("utf-8", "replace").rstrip())

    async def read(self, stall_timeout_s: float = _STALL_TIMEOUT_S) -> bytes:
        """The next piece of stdout (b"" at the end); TimeoutError if ffmpeg goes quiet."""
        assert self.proc.stdout is not None
        return await asyncio.wait_for(self.proc.stdout.read(_READ_SIZE), stall_timeout_s)

    async def finish(self, timeout_s: float = _STALL_TIMEOUT_S) -> int:
        """Wait for the exit (stdout already drained) and for the whole of stderr."""
        code = await asyncio.wait_for(self.proc.wait(), timeout_s)
        if self._stderr_task is not None:
            await asyncio.wait_for(self._stderr_task, timeout_s)
        return code

    def stderr_tail(self, lines: int = 3) -> str:
        return " | ".join(list(self.tail)[-lines:]) or "no error output"


async def probe(path: Path, max_duration_s: int) -> ProbeResult:
    """Check that `path` is decodable audio no longer than `max_duration_s` (plus 1 s).

    Raises NotAudio for anything else (empty, unknown format, no audio track, audio
    that does not decode) and AudioTooLong, with the length, for a long recording.
    """
    if (await asyncio.to_thread(os.path.getsize, path)) == 0:
        raise NotAudio("the file is empty")
    info = await _ffprobe(path)
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise NotAudio("it has no audio track")
    stream = streams[0]
    fmt = info.get("format", {})
    declared_s = _positive(stream.get("duration")) or _positive(fmt.get("duration"))
    limit_ms = max_duration_s * 1000 + DURATION_TOLERANCE_MS
    if declared_s is not None and declared_s * 1000 > limit_ms:
        raise AudioTooLong(round(declared_s * 1000), max_duration_s)

    decoded_ms, clean = await _decode_check(path, _CHECK_SECONDS)
    if decoded_ms < _MIN_AUDIO_MS or (not clean and decoded_ms < _DAMAGED_TAIL_MIN_MS):
        raise NotAudio("its audio does not decode")
    if declared_s is not None:
        duration_ms = round(declared_s * 1000)
    elif decoded_ms < _CHECK_SECONDS * 1000 - 1:  # the check decoded all of it
        duration_ms = decoded_ms
    else:
        # No declared length (MediaRecorder's WebM): add up the packets, which needs no
        # decoding; stop just past the limit so a long file costs no more than that.
        stop_s = limit_ms / 1000 + 1
        duration_ms = await _demuxed_ms(path, stop_s) or (await _decode_check(path, stop_s))[0]
        if duration_ms > limit_ms:
            raise AudioTooLong(duration_ms, max_duration_s, exact=False)
    return ProbeResult(
        duration_ms=duration_ms,
        codec=str(stream.get("codec_name", "unknown")),
        container=str(fmt.get("format_name", "unknown")),
        sample_rate=_int_or_none(stream.get("sample_rate")),
        channels=_int_or_none(stream.get("channels")),
        duration_from_header=declared_s is not None,
    )


async def _ffprobe(path: Path) -> dict[str, Any]:
    args = [
        ffprobe_binary(), "-v", "error", "-hide_banner", "-of", "json", "-show_entries",
        "format=format_name,duration:stream=codec_type,codec_name,sample_rate,channels,duration",
        *_input(path),
    ]  # fmt: skip
    out = bytearray()
    try:
        async with _Process(args, background=True) as run:
            async with asyncio.timeout(_PROBE_TIMEOUT_S):
                while chunk := await run.read():
                    out += chunk
                    if len(out) > 1_000_000:
                        raise NotAudio("its format is not one we recognise")
                code = await run.finish()
    except TimeoutError:
        raise NotAudio("it could not be read in time") from None
    if code != 0:
        raise NotAudio("its format is not one we recognise")
    try:
        info = json.loads(out)
    except ValueError:
        raise NotAudio("its format is not one we recognise") from None
    return info if isinstance(info, dict) else {}


async def _decode_check(path: Path, seconds: float) -> tuple[int, bool]:
    """Decode up to `seconds` of the first audio track, stopping at the first error.

    Returns the milliseconds decoded and whether decoding ended without error.
    """
    args = [
        ffmpeg_binary(), "-v", "error", "-nostdin", "-hide_banner", "-xerror",
        *_input(path), "-map", "0:a:0", "-t", f"{seconds:.3f}", "-vn", "-sn", "-dn",
        "-ac", "1", "-ar", str(_PCM_RATE), "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    decoded = 0
    try:
        async with _Process(args, background=True) as run:
            watchdog = _Watchdog(_MIN_DECODE_SPEED)
            while chunk := await run.read():
                decoded += len(chunk)
                watchdog.check(decoded / 2 / _PCM_RATE)
            code = await run.finish()
    except TimeoutError:
        raise NotAudio("it could not be decoded in time") from None
    return decoded // 2 * 1000 // _PCM_RATE, code == 0


async def _demuxed_ms(path: Path, max_seconds: float) -> int | None:
    """Length of the first audio track from its packets' timestamps (no decoding), up to
    `max_seconds`; None if ffmpeg cannot tell."""
    args = [
        ffmpeg_binary(), "-v", "error", "-nostdin", "-hide_banner", "-nostats",
        "-progress", "pipe:1", *_input(path), "-map", "0:a:0", "-c", "copy",
        "-t", f"{max_seconds:.3f}", "-f", "null", "-",
    ]  # fmt: skip
    out_us = 0
    pending = b""
    try:
        async with _Process(args, background=True) as run:
            watchdog = _Watchdog(_MIN_DECODE_SPEED)
            while chunk := await run.read():
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if line.startswith(b"out_time_us="):
                        out_us = max(out_us, round(_micro(line[12:]) * 1_000_000))
                watchdog.check(out_us / 1_000_000)
            code = await run.finish()
    except TimeoutError:
        return None
    return out_us // 1000 if code == 0 and out_us > 0 else None


class _Watchdog:
    """Deadline proportional to progress: `grace` seconds plus media time / `speed`."""

    def __init__(self, speed: float, grace_s: float = _GRACE_S) -> None:
        self.speed = speed
        self.grace_s = grace_s
        self.started = time.monotonic()

    def check(self, media_seconds: float) -> None:
        if time.monotonic() - self.started > self.grace_s + media_seconds / self.speed:
            raise TimeoutError("ffmpeg is too slow")


def _positive(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number > 0 and math.isfinite(number) else None


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None


class _Peaks:
    """Peak of |sample| per short window of 16-bit mono PCM, fed chunk by chunk.

    Windows start at 10 ms and double (pairwise max) whenever there are too many,
    so memory stays a few kilobytes however long the memo is.
    """

    MAX_WINDOWS = 4096

    def __init__(self) -> None:
        self.window = _PCM_RATE // 100
        self.peaks = array("i")
        self.bytes = 0
        self._carry = b""

    @property
    def samples(self) -> int:
        return self.bytes // 2

    def feed(self, data: bytes) -> None:
        self.bytes += len(data)
        data = self._carry + data
        view = memoryview(data)
        i = 0
        while len(data) - i >= 2 * self.window:
            step = 2 * self.window
            self._add(_peak(view[i : i + step]))
            i += step
        self._carry = data[i:]

    def _add(self, peak: int) -> None:
        self.peaks.append(peak)
        if len(self.peaks) >= 2 * self.MAX_WINDOWS:
            p = self.peaks
            self.peaks = array("i", map(max, p[0::2], p[1::2]))
            self.window *= 2

    def finish(self) -> None:
        tail = self._carry[: len(self._carry) - len(self._carry) % 2]
        if tail:
            self.peaks.append(_peak(memoryview(tail)))
        self._carry = b""

    def waveform(self, bars: int = WAVEFORM_BARS) -> list[int]:
        """`bars` values 0-255, scaled to the memo's own loudest bar.

        Scaling to the memo's peak (not to full scale) keeps a quiet recording as
        readable as a loud one; a floor at about -54 dBFS keeps silence flat.
        """
        n = len(self.peaks)
        if n == 0:
            return [0] * bars
        values = [
            max(self.peaks[i * n // bars : max((i + 1) * n // bars, i * n // bars + 1)])
            for i in range(bars)
        ]
        top = max(max(values), 64)
        return [min(255, round(v * 255 / top)) for v in values]


def _peak(pcm: memoryview) -> int:
    """Largest |sample| of 16-bit native-endian PCM."""
    if audioop is not None:
        return int(audioop.max(pcm, 2))
    samples = pcm.cast("h")
    return max(max(samples), -min(samples))


_INTEGRATED = re.compile(r"I:\s*(-?(?:inf|\d+(?:\.\d+)?))\s*LUFS")


def _integrated_lufs(summary: list[str]) -> float | None:
    for line in summary:
        if match := _INTEGRATED.search(line):
            value = float(match.group(1))
            return value if math.isfinite(value) else None
    return None


def _gain_db(integrated_lufs: float | None) -> float:
    """Gain that brings speech to TARGET_LUFS; none for silence (R128 reports -70 LUFS)."""
    if integrated_lufs is None or integrated_lufs <= -69.0:
        return 0.0
    return min(TARGET_LUFS - integrated_lufs, MAX_GAIN_DB)


async def _decode_and_measure(
    src: Path, pcm_wav: Path, max_duration_s: float | None
) -> tuple[_Peaks, float | None, str]:
    """Decode `src` once into 48 kHz mono PCM at `pcm_wav`, measuring on the way the
    EBU R128 integrated loudness (ffmpeg) and the peaks and length (8 kHz PCM to us)."""
    graph = (
        "[0:a:0]aformat=channel_layouts=mono,asplit=3[loud][wave][keep];"
        "[loud]ebur128=framelog=verbose[measured];"
        f"[wave]aresample={_PCM_RATE},aformat=sample_fmts=s16:channel_layouts=mono[pcm];"
        "[keep]aresample=48000,aformat=sample_fmts=s16:channel_layouts=mono[kept]"
    )
    limit = ["-t", f"{max_duration_s + 2:.3f}"] if max_duration_s is not None else []
    args = [
        ffmpeg_binary(), "-v", "info", "-nostats", "-hide_banner", "-nostdin",
        *limit, *_input(src), "-filter_complex", graph,
        "-map", "[measured]", "-f", "null", "-",
        "-map", "[kept]", "-map_metadata", "-1", "-c:a", "pcm_s16le", "-f", "wav", str(pcm_wav),
        "-map", "[pcm]", "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    peaks = _Peaks()
    async with _Process(args, background=True) as run:
        watchdog = _Watchdog(_MIN_DECODE_SPEED)
        try:
            while chunk := await run.read():
                if audioop is not None:  # ~0.2 ms per chunk: fine on the loop
                    peaks.feed(chunk)
                else:
                    await asyncio.to_thread(peaks.feed, chunk)
                watchdog.check(peaks.samples / _PCM_RATE)
            code = await run.finish()
        except TimeoutError:
            raise TranscodeError("decoding took too long", run.stderr_tail()) from None
        if code != 0:
            raise TranscodeError("ffmpeg could not decode the recording", run.stderr_tail())
        peaks.finish()
        return peaks, _integrated_lufs(run.summary), run.stderr_tail()


async def _encode(args: list[str], media_seconds: float | None, what: str) -> None:
    """Run an encoding ffmpeg with `-progress` on stdout, bounded by its own progress."""
    async with _Process([*args[:1], "-progress", "pipe:1", *args[1:]], background=True) as run:
        speed_budget = _Watchdog(_MIN_ENCODE_SPEED)
        done_s = 0.0
        pending = b""
        try:
            while chunk := await run.read():
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if line.startswith(b"out_time_us="):
                        done_s = max(done_s, _micro(line[12:]))
                speed_budget.check(max(done_s, media_seconds or 0.0))
            code = await run.finish()
        except TimeoutError:
            raise TranscodeError(f"{what} took too long", run.stderr_tail()) from None
        if code != 0:
            raise TranscodeError(f"ffmpeg could not make the {what}", run.stderr_tail())


def _micro(value: bytes) -> float:
    try:
        return max(0, int(value)) / 1_000_000
    except ValueError:
        return 0.0


def _temp_beside(dst: Path, suffix: str = ".tmp") -> Path:
    return dst.with_name(f".{dst.name}.{uuid.uuid4().hex}{suffix}")


def _fsync_and_rename(tmp: Path, dst: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, dst)


async def transcode_voice(
    src: Path, dst: Path, *, max_duration_s: float | None = None
) -> VoiceInfo:
    """Write the canonical form of `src` to `dst`: Ogg Opus, mono, 48 kHz, about -16 LUFS.

    Returns the exact duration (counted from decoded samples, not the header) and a
    64-bar waveform. `src` is decoded once, into a temporary 48 kHz 16-bit WAV beside
    `dst` (about 6 MB a minute) that the encoder then reads; `dst` appears only when
    complete. Pass `max_duration_s` (the upload limit) so that a file whose header
    understated its length is refused with AudioTooLong instead of filling the disk.
    Raises TranscodeError when ffmpeg fails or stalls.
    """
    pcm_wav, tmp = _temp_beside(dst, ".wav"), _temp_beside(dst)
    try:
        peaks, lufs, stderr_tail = await _decode_and_measure(src, pcm_wav, max_duration_s)
        duration_ms = peaks.samples * 1000 // _PCM_RATE
        if duration_ms < _MIN_AUDIO_MS:
            raise TranscodeError("the recording holds no audio", stderr_tail)
        limit_ms = None if max_duration_s is None else max_duration_s * 1000
        if limit_ms is not None and duration_ms > limit_ms + DURATION_TOLERANCE_MS:
            raise AudioTooLong(duration_ms, max_duration_s, exact=False)
        limit = 10 ** (PEAK_LIMIT_DB / 20)
        chain = f"volume={_gain_db(lufs):.2f}dB,alimiter=limit={limit:.4f}:level=false:latency=true"
        await _encode(
            [
                ffmpeg_binary(), "-v", "error", "-nostats", "-hide_banner", "-nostdin",
                *_input(pcm_wav), "-map", "0:a:0", "-af", chain, "-map_metadata", "-1",
                "-c:a", "libopus", "-b:a", OPUS_BITRATE, "-application", "voip",
                "-ac", "1", "-ar", "48000", "-f", "ogg", str(tmp),
            ],
            duration_ms / 1000,
            "Opus file",
        )  # fmt: skip
        await asyncio.to_thread(_fsync_and_rename, tmp, dst)
    finally:
        pcm_wav.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return VoiceInfo(duration_ms=duration_ms, waveform=peaks.waveform())


async def transcode_mp3(src: Path, dst: Path) -> None:
    """Write an MP3 of `src` (mono, 64 kb/s) to `dst`, for players without Opus."""
    tmp = _temp_beside(dst)
    try:
        await _encode(
            [
                ffmpeg_binary(), "-v", "error", "-nostats", "-hide_banner", "-nostdin",
                *_input(src), "-map", "0:a:0", "-map_metadata", "-1", "-ac", "1",
                "-c:a", "libmp3lame", "-b:a", MP3_BITRATE, "-f", "mp3", str(tmp),
            ],
            None,
            "MP3 file",
        )  # fmt: skip
        await asyncio.to_thread(_fsync_and_rename, tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


P = ParamSpec("P")
T = TypeVar("T")


class TranscodePool:
    """At most `size` ffmpeg jobs at once, so a burst of uploads cannot starve the machine."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a transcode pool needs at least one slot")
        self.size = size
        self.running = 0
        self.waiting = 0
        self._slots = asyncio.Semaphore(size)

    async def run(self, job: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Await `job(*args, **kwargs)` once a slot is free; the slot is freed however it ends."""
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            return await job(*args, **kwargs)
        finally:
            self.running -= 1
            self._slots.release()
