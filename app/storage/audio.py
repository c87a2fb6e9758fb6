"""Audio work for voice memos: telling audio from garbage, and making the canonical form.

Everything runs in ffmpeg/ffprobe subprocesses driven from asyncio (`app.storage.ffmpeg`:
resource limits, fenced inputs, the decoded-audio budget), so the event loop never
blocks and memory and disk stay bounded whatever a file claims: PCM is only ever seen
as a low-rate stream, reduced to peaks chunk by chunk (in C via audioop, about 0.2 ms
a chunk; in a worker thread where audioop is missing).

- `probe` decides whether an upload is decodable audio and how long it is. ffprobe
  alone is fooled (it "finds" MP3 in random bytes), and headers and timestamps can lie
  (a Matroska file whose packets all carry timestamp 0 says 8 s and holds 10 hours), so
  the whole file is decoded, stopping at the first error or just past the length limit.
  A header that declares more than the limit is refused without decoding.
- `transcode_voice` writes the canonical Ogg Opus (mono, 48 kHz, 24 kb/s, speech
  mode) at about -16 LUFS, and measures the exact duration and a 64-bar waveform.
  The upload is decoded once, to a temporary 48 kHz PCM file capped at the length
  limit, while ffmpeg's `ebur128` measures its loudness and 8 kHz PCM feeds the
  waveform; the PCM is then encoded with one gain and a peak limiter. Single-pass
  `loudnorm` costs about twice the plain encode (it works at 192 kHz); this costs
  about 1.1x.
- `transcode_mp3` makes the fallback for players without Opus.
"""

import asyncio
import json
import math
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.storage.ffmpeg import (
    CONVERSION_NICENESS,
    PCM_RATE,
    DecodedBudget,
    Limits,
    Process,
    ProgressTimeout,
    Watchdog,
    decoded_cap,
    ffmpeg_binary,
    ffprobe_binary,
    input_args,
    pcm_bytes,
    run_with_progress,
)
from app.storage.peaks import Peaks, fast_peaks

TARGET_LUFS = -16.0
PEAK_LIMIT_DB = -2.0  # sample peak before encoding; Opus overshoots it by ~1.5 dB
MAX_GAIN_DB = 40.0  # enough for a recording 30 dB too quiet, not enough to make hiss of silence
OPUS_BITRATE = "24k"
MP3_BITRATE = "64k"
DURATION_TOLERANCE_MS = 1000

_MIN_AUDIO_MS = 20  # fewer decoded samples than this is not a recording
_DAMAGED_TAIL_MIN_MS = 1000  # a decode error after this much audio is a damaged end, kept
_PROBE_TIMEOUT_S = 20.0
_MIN_DECODE_SPEED = 20.0  # decoding runs at ~300-1000x real time here; 20x means trouble
_MIN_ENCODE_SPEED = 2.0  # libopus/lame run at ~60-75x real time on one core
_PROBE_FILE_BYTES = 1024 * 1024  # probes write no file at all
_ENCODED_BYTES_PER_S = 64_000 // 8 * 2  # twice the MP3 rate: room for any of our outputs


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
    """What the player shows: exact length, 64 peak bars (0-255), and the spans of
    silence a listener may skip (`[[start_ms, end_ms], ...]`)."""

    duration_ms: int
    waveform: list[int]
    silences: list[list[int]]


async def probe(path: Path, max_duration_s: int) -> ProbeResult:
    """Check that `path` is decodable audio no longer than `max_duration_s` (plus 1 s).

    Raises NotAudio for anything else (empty, unknown format, no audio track, audio
    that does not decode) and AudioTooLong, with the length, for a long recording.
    The length is what decodes: a header is only trusted to refuse early.
    """
    if (await asyncio.to_thread(os.path.getsize, path)) == 0:
        raise NotAudio("the file is empty")
    info = await _ffprobe(path, max_duration_s)
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise NotAudio("it has no audio track")
    stream = streams[0]
    fmt = info.get("format", {})
    declared_s = _positive(stream.get("duration")) or _positive(fmt.get("duration"))
    limit_ms = max_duration_s * 1000 + DURATION_TOLERANCE_MS
    if declared_s is not None and declared_s * 1000 > limit_ms:
        raise AudioTooLong(round(declared_s * 1000), max_duration_s)
    decoded_ms, clean = await _decode(path, limit_ms / 1000)
    if decoded_ms > limit_ms:
        raise AudioTooLong(decoded_ms, max_duration_s, exact=False)
    if decoded_ms < _MIN_AUDIO_MS or (not clean and decoded_ms < _DAMAGED_TAIL_MIN_MS):
        raise NotAudio("its audio does not decode")
    return ProbeResult(
        duration_ms=decoded_ms,
        codec=str(stream.get("codec_name", "unknown")),
        container=str(fmt.get("format_name", "unknown")),
        sample_rate=_int_or_none(stream.get("sample_rate")),
        channels=_int_or_none(stream.get("channels")),
        duration_from_header=declared_s is not None,
    )


async def _ffprobe(path: Path, max_duration_s: float) -> dict[str, Any]:
    args = [
        ffprobe_binary(), "-v", "error", "-hide_banner", "-of", "json", "-show_entries",
        "format=format_name,duration:stream=codec_type,codec_name,sample_rate,channels,duration",
        *input_args(path),
    ]  # fmt: skip
    out = bytearray()
    limits = Limits(int(_PROBE_TIMEOUT_S) + 1, _PROBE_FILE_BYTES)
    try:
        async with Process(args, limits) as run:
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


async def _decode(path: Path, limit_s: float) -> tuple[int, bool]:
    """Decode the first audio track to its end, its first error, or just past `limit_s`.

    Returns the milliseconds decoded (over `limit_s` when the file is longer) and
    whether decoding ended cleanly. Counted from decoded samples, never timestamps.
    """
    cap_s = limit_s + 1
    args = [
        ffmpeg_binary(), "-v", "error", "-nostdin", "-hide_banner", "-xerror",
        *input_args(path), "-map", "0:a:0", "-af", decoded_cap(cap_s), "-vn", "-sn", "-dn",
        "-ac", "1", "-ar", str(PCM_RATE), "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    budget = DecodedBudget(cap_s)
    limits = Limits.for_media(cap_s, _MIN_DECODE_SPEED, _PROBE_FILE_BYTES)
    try:
        async with Process(args, limits) as run:
            watchdog = Watchdog(_MIN_DECODE_SPEED)
            while chunk := await run.read():
                budget.add(len(chunk))
                if budget.over:
                    return budget.ms, True  # leaving kills ffmpeg: nothing more is decoded
                watchdog.check(budget.seconds)
            code = await run.finish()
    except TimeoutError:
        raise NotAudio("it could not be decoded in time") from None
    return budget.ms, code == 0


def _positive(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number > 0 and math.isfinite(number) else None


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


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
    src: Path, pcm_wav: Path, cap_s: float
) -> tuple[Peaks, float | None, str]:
    """Decode `src` once into 48 kHz mono PCM at `pcm_wav`, measuring on the way the
    EBU R128 integrated loudness (ffmpeg) and the peaks and length (8 kHz PCM to us).

    At most `cap_s` seconds of decoded audio are kept: the graph trims on rebuilt
    timestamps, the PCM reaching us is counted (ffmpeg is killed past the cap), and the
    WAV cannot grow past the cap's size (RLIMIT_FSIZE)."""
    graph = (
        f"[0:a:0]{decoded_cap(cap_s)},aformat=channel_layouts=mono,asplit=3[loud][wave][keep];"
        "[loud]ebur128=framelog=verbose[measured];"
        f"[wave]aresample={PCM_RATE},aformat=sample_fmts=s16:channel_layouts=mono[pcm];"
        "[keep]aresample=48000,aformat=sample_fmts=s16:channel_layouts=mono[kept]"
    )
    args = [
        ffmpeg_binary(), "-v", "info", "-nostats", "-hide_banner", "-nostdin",
        *input_args(src), "-filter_complex", graph,
        "-map", "[measured]", "-f", "null", "-",
        "-map", "[kept]", "-map_metadata", "-1", "-c:a", "pcm_s16le", "-f", "wav", str(pcm_wav),
        "-map", "[pcm]", "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    peaks = Peaks()
    budget = DecodedBudget(cap_s)
    wav_bytes = pcm_bytes(cap_s) + 1024 * 1024  # the header, and a little slack
    limits = Limits.for_media(cap_s, _MIN_DECODE_SPEED, wav_bytes, CONVERSION_NICENESS)
    async with Process(args, limits) as run:
        watchdog = Watchdog(_MIN_DECODE_SPEED)
        try:
            while chunk := await run.read():
                budget.add(len(chunk))
                if budget.over:  # leaving kills ffmpeg; the caller refuses the length
                    peaks.bytes = budget.bytes
                    return peaks, None, run.stderr_tail()
                if fast_peaks:  # ~0.2 ms per chunk: fine on the loop
                    peaks.feed(chunk)
                else:
                    await asyncio.to_thread(peaks.feed, chunk)
                watchdog.check(budget.seconds)
            code = await run.finish()
        except TimeoutError:
            raise TranscodeError("decoding took too long", run.stderr_tail()) from None
        if code != 0:
            raise TranscodeError("ffmpeg could not decode the recording", run.stderr_tail())
        peaks.finish()
        return peaks, _integrated_lufs(run.summary), run.stderr_tail()


async def _encode(args: list[str], media_seconds: float, what: str) -> None:
    """Run an encoding ffmpeg, bounded by its own progress."""
    out_bytes = int(media_seconds * _ENCODED_BYTES_PER_S) + 1024 * 1024
    limits = Limits.for_media(media_seconds, _MIN_ENCODE_SPEED, out_bytes, CONVERSION_NICENESS)
    try:
        code, errors = await run_with_progress(args, limits, media_seconds, _MIN_ENCODE_SPEED)
    except ProgressTimeout as slow:
        raise TranscodeError(f"{what} took too long", slow.stderr_tail) from None
    if code != 0:
        raise TranscodeError(f"ffmpeg could not make the {what}", errors)


def _temp_beside(dst: Path, suffix: str = ".tmp") -> Path:
    return dst.with_name(f".{dst.name}.{uuid.uuid4().hex}{suffix}")


def _fsync_and_rename(tmp: Path, dst: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, dst)


async def transcode_voice(src: Path, dst: Path, *, max_duration_s: float) -> VoiceInfo:
    """Write the canonical form of `src` to `dst`: Ogg Opus, mono, 48 kHz, about -16 LUFS.

    Returns the exact duration (counted from decoded samples, not the header) and a
    64-bar waveform. `src` is decoded once, into a temporary 48 kHz 16-bit WAV beside
    `dst` (about 6 MB a minute, never more than `max_duration_s` of it) that the encoder
    then reads; `dst` appears only when complete. Audio longer than `max_duration_s`
    (plus the tolerance) is refused with AudioTooLong as soon as that much has decoded,
    whatever the file claims. Raises TranscodeError when ffmpeg fails or stalls.
    """
    limit_ms = max_duration_s * 1000 + DURATION_TOLERANCE_MS
    pcm_wav, tmp = _temp_beside(dst, ".wav"), _temp_beside(dst)
    try:
        peaks, lufs, stderr_tail = await _decode_and_measure(src, pcm_wav, limit_ms / 1000 + 1)
        duration_ms = peaks.samples * 1000 // PCM_RATE
        if duration_ms > limit_ms:
            raise AudioTooLong(duration_ms, max_duration_s, exact=False)
        if duration_ms < _MIN_AUDIO_MS:
            raise TranscodeError("the recording holds no audio", stderr_tail)
        limit = 10 ** (PEAK_LIMIT_DB / 20)
        chain = f"volume={_gain_db(lufs):.2f}dB,alimiter=limit={limit:.4f}:level=false:latency=true"
        await _encode(
            [
                ffmpeg_binary(), "-v", "error", "-nostats", "-hide_banner", "-nostdin",
                *input_args(pcm_wav), "-map", "0:a:0", "-af", chain, "-map_metadata", "-1",
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
    return VoiceInfo(duration_ms=duration_ms, waveform=peaks.waveform(), silences=peaks.silences())


async def transcode_mp3(src: Path, dst: Path, *, max_duration_s: float) -> None:
    """Write an MP3 of `src` (mono, 64 kb/s) to `dst`, for players without Opus."""
    cap_s = max_duration_s + DURATION_TOLERANCE_MS / 1000 + 1
    tmp = _temp_beside(dst)
    try:
        await _encode(
            [
                ffmpeg_binary(), "-v", "error", "-nostats", "-hide_banner", "-nostdin",
                *input_args(src), "-map", "0:a:0", "-af", decoded_cap(cap_s),
                "-map_metadata", "-1", "-ac", "1",
                "-c:a", "libmp3lame", "-b:a", MP3_BITRATE, "-f", "mp3", str(tmp),
            ],
            cap_s,
            "MP3 file",
        )  # fmt: skip
        await asyncio.to_thread(_fsync_and_rename, tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
