"""Real speech in the formats phones and browsers send, and garbage that only looks like audio.

Speech comes from espeak-ng (a few sentences, about 11 s, with pauses between
them); ffmpeg turns it into each client's format. Nothing is mocked: these are
the bytes a server really receives.

Files are made once into a directory the caller keeps (a session-scoped
fixture) and reused; each is written under a temporary name and renamed, so an
interrupted run never leaves a half-made sample to be picked up later.
"""

import os
import random
import re
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SENTENCES = (
    "Good morning team. I tried the new reading routine with the third grade teachers today. "
    "The students were engaged, and we should talk about pacing at our next meeting."
)


@dataclass(frozen=True)
class ClientFormat:
    """How one kind of client records: file name, ffmpeg output options, and whether the
    recorder streams (so the container cannot go back to write its duration)."""

    filename: str
    options: tuple[str, ...]
    streamed: bool = False


CLIENT_FORMATS: dict[str, ClientFormat] = {
    # iOS Voice Memos / AVAudioRecorder: AAC-LC in an MPEG-4 (m4a) file.
    "iphone_m4a": ClientFormat(
        "memo.m4a", ("-ac", "1", "-ar", "44100", "-c:a", "aac", "-b:a", "64k", "-f", "ipod")
    ),
    # Safari MediaRecorder: fragmented MP4 with AAC.
    "safari_mp4": ClientFormat(
        "memo.mp4",
        (
            "-ac",
            "1",
            "-ar",
            "48000",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-movflags",
            "frag_keyframe+empty_moov+default_base_moof",
            "-f",
            "mp4",
        ),
        streamed=True,
    ),  # fmt: skip
    # Chrome MediaRecorder: Opus in a live WebM, with no duration in its header.
    "chrome_webm": ClientFormat(
        "memo.webm",
        ("-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "32k", "-live", "1", "-f", "webm"),
        streamed=True,
    ),
    # Firefox MediaRecorder: Opus in Ogg.
    "firefox_ogg": ClientFormat(
        "memo.ogg", ("-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "32k", "-f", "ogg")
    ),
    # Android MediaRecorder (AMR cannot be encoded by Debian's ffmpeg; AAC in 3GP can).
    "android_3gp": ClientFormat(
        "memo.3gp", ("-ac", "1", "-ar", "16000", "-c:a", "aac", "-b:a", "32k", "-f", "3gp")
    ),
    "mp3": ClientFormat(
        "memo.mp3", ("-ac", "1", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3")
    ),
    "flac": ClientFormat("memo.flac", ("-ar", "48000", "-c:a", "flac", "-f", "flac")),
    "wav_44k_stereo": ClientFormat(
        "memo.wav", ("-ac", "2", "-ar", "44100", "-c:a", "pcm_s16le", "-f", "wav")
    ),
}


def _ffmpeg(*args: str, out: Path | None = None) -> None:
    if out is not None:
        with out.open("wb") as f:
            subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True, stdout=f)
    else:
        subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True)


def _cached(path: Path, make: Callable[[Path], object]) -> Path:
    """`path`, made by `make(temp_path)` unless it already exists."""
    if not path.exists():
        tmp = path.with_name(f".{uuid.uuid4().hex}.{path.name}")
        try:
            make(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path


def speech_wav(directory: Path) -> Path:
    """A few sentences of English speech (mono 22.05 kHz WAV, about 11 s)."""
    return _cached(
        directory / "speech.wav",
        lambda tmp: subprocess.run(
            ["espeak-ng", "-s", "150", "-w", str(tmp), SENTENCES], check=True
        ),
    )


def speech_of_length(directory: Path, seconds: int) -> Path:
    """The speech repeated until it is `seconds` long (mono 22.05 kHz WAV)."""
    return _cached(
        directory / f"speech_{seconds}s.wav",
        lambda tmp: _ffmpeg(
            "-stream_loop", "-1", "-i", str(speech_wav(directory)), "-t", str(seconds),
            "-c:a", "pcm_s16le", "-f", "wav", str(tmp),
        ),
    )  # fmt: skip


def long_speech_mp3(directory: Path, seconds: int) -> Path:
    """Speech repeated to `seconds`, as a small low-rate MP3 (20 minutes in about 2 s)."""
    return _cached(
        directory / f"speech_{seconds}s.mp3",
        lambda tmp: _ffmpeg(
            "-stream_loop", "-1", "-i", str(speech_wav(directory)), "-t", str(seconds),
            "-ac", "1", "-ar", "8000", "-c:a", "libmp3lame", "-b:a", "16k", "-f", "mp3", str(tmp),
        ),
    )  # fmt: skip


def client_file(directory: Path, kind: str, source: Path | None = None) -> Path:
    """The speech (or `source`) as client `kind` sends it (see CLIENT_FORMATS)."""
    fmt = CLIENT_FORMATS[kind]
    source = source or speech_wav(directory)
    name = fmt.filename if source == speech_wav(directory) else f"{source.stem}_{fmt.filename}"

    def make(tmp: Path) -> None:
        if fmt.streamed:  # a pipe cannot be seeked back: no duration, no index
            _ffmpeg("-i", str(source), *fmt.options, "pipe:1", out=tmp)
        else:
            _ffmpeg("-i", str(source), *fmt.options, str(tmp))

    return _cached(directory / name, make)


def quiet_speech(directory: Path, gain_db: int = -30) -> Path:
    """The speech `gain_db` quieter, as from a phone held far away (WAV)."""
    return _with_gain(directory, gain_db)


def loud_speech(directory: Path, gain_db: int = 10) -> Path:
    """The speech `gain_db` louder and clipped, as from a phone held to the mouth (WAV)."""
    return _with_gain(directory, gain_db)


def _with_gain(directory: Path, gain_db: int) -> Path:
    return _cached(
        directory / f"speech_{gain_db:+d}db.wav",
        lambda tmp: _ffmpeg(
            "-i", str(speech_wav(directory)), "-af", f"volume={gain_db}dB",
            "-c:a", "pcm_s16le", "-f", "wav", str(tmp),
        ),
    )  # fmt: skip


PAUSE_S = 4


def speech_with_pause(directory: Path, gain_db: int = 0) -> Path:
    """The speech, PAUSE_S seconds of room noise (-65 dBFS), the speech again, `gain_db`
    louder or quieter (mono WAV): a memo with a pause worth skipping."""

    def make(tmp: Path) -> None:
        speech = str(speech_wav(directory))
        _ffmpeg(
            "-i", speech, "-f", "lavfi", "-i",
            f"anoisesrc=color=white:amplitude=0.0005:duration={PAUSE_S}:sample_rate=22050",
            "-i", speech, "-filter_complex",
            f"[0:a][1:a][2:a]concat=n=3:v=0:a=1,volume={gain_db}dB",
            "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav", str(tmp),
        )  # fmt: skip

    return _cached(directory / f"speech_pause_{gain_db:+d}db.wav", make)


def silence_wav(directory: Path, seconds: int = 5) -> Path:
    """Digital silence (WAV): audio, but nothing in it."""
    return _cached(
        directory / f"silence_{seconds}s.wav",
        lambda tmp: _ffmpeg(
            "-f", "lavfi", "-i", f"anullsrc=r=48000:cl=mono:d={seconds}",
            "-c:a", "pcm_s16le", "-f", "wav", str(tmp),
        ),
    )  # fmt: skip


def tone_mp3(directory: Path, seconds: int) -> Path:
    """A long, small file: a low-bitrate tone (quick to make even at 20 minutes)."""
    return _cached(
        directory / f"tone_{seconds}s.mp3",
        lambda tmp: _ffmpeg(
            "-f", "lavfi", "-i", f"sine=f=220:d={seconds}", "-ar", "8000", "-ac", "1",
            "-c:a", "libmp3lame", "-b:a", "8k", "-f", "mp3", str(tmp),
        ),
    )  # fmt: skip


def with_title(directory: Path, title: str) -> Path:
    """The speech as an m4a carrying a title tag (metadata a user may not mean to share)."""
    return _cached(
        directory / "tagged.m4a",
        lambda tmp: _ffmpeg(
            "-i", str(speech_wav(directory)), "-metadata", f"title={title}",
            "-c:a", "aac", "-b:a", "64k", "-f", "ipod", str(tmp),
        ),
    )  # fmt: skip


def truncated_indexed_m4a(directory: Path) -> Path:
    """The first half of an m4a whose index comes first: half of it still decodes."""

    def make(tmp: Path) -> None:
        whole = tmp.with_name(f"{tmp.stem}.full.m4a")
        _ffmpeg(
            "-i", str(speech_wav(directory)), "-c:a", "aac", "-b:a", "64k",
            "-movflags", "+faststart", "-f", "ipod", str(whole),
        )  # fmt: skip
        data = whole.read_bytes()
        whole.unlink()
        tmp.write_bytes(data[: len(data) // 2])

    return _cached(directory / "truncated_indexed.m4a", make)


_ID3_HEADER = b"ID3\x04\x00\x00\x00\x00\x00\x00"


def garbage(directory: Path) -> dict[str, Path]:
    """Files that are not audio, each named like audio, by name."""
    rng = random.Random(20261123)  # the same bytes every run

    def raw(name: str, data: Callable[[], bytes]) -> Path:
        return _cached(directory / name, lambda tmp: tmp.write_bytes(data()))

    def truncated_m4a() -> bytes:
        whole = client_file(directory, "iphone_m4a").read_bytes()  # index at the end
        return whole[: len(whole) // 2]

    def png() -> bytes:
        picture = _cached(
            directory / "picture.png",
            lambda tmp: _ffmpeg(
                "-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1",
                "-c:v", "png", "-f", "image2", str(tmp),
            ),
        )  # fmt: skip
        return picture.read_bytes()

    files = {
        "zero_bytes.m4a": raw("zero_bytes.m4a", lambda: b""),
        "random_bytes.mp3": raw("random_bytes.mp3", lambda: rng.randbytes(200_000)),
        # An ID3 tag makes ffprobe sure it is MP3; only decoding shows it is not.
        "id3_then_noise.mp3": raw(
            "id3_then_noise.mp3", lambda: _ID3_HEADER + rng.randbytes(100_000)
        ),
        "script.ogg": raw(
            "script.ogg", lambda: b"#!/bin/sh\necho 'not a memo'\nrm -rf /tmp/nothing\n" * 20
        ),
        "text.wav": raw("text.wav", lambda: ("Just some words typed into a file. " * 400).encode()),
        "picture.m4a": raw("picture.m4a", png),
        "truncated.m4a": raw("truncated.m4a", truncated_m4a),
        # An HLS playlist pointing at a local file: must never be followed.
        "playlist.m4a": raw(
            "playlist.m4a",
            lambda: (
                b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
                b"file:///etc/passwd\n#EXT-X-ENDLIST\n"
            ),
        ),
    }
    files["video_only.m4a"] = _cached(
        directory / "video_only.m4a",
        lambda tmp: _ffmpeg(
            "-f", "lavfi", "-i", "testsrc=s=64x64:d=2", "-c:v", "mpeg4", "-f", "mp4", str(tmp)
        ),
    )  # fmt: skip
    return files


def duration_s(path: Path) -> float:
    """The duration ffprobe reads from the container (fails if there is none)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return float(out.stdout.strip())


def declared_duration(path: Path) -> str:
    """What the container says about its duration, as ffprobe prints it ("N/A" if nothing)."""
    return subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def audio_stream(path: Path) -> dict[str, str]:
    """ffprobe's view of the first audio stream: codec, channels, rate, container."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=codec_name,channels,sample_rate:format=format_name",
         "-of", "default=noprint_wrappers=1", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return dict(line.split("=", 1) for line in out.strip().splitlines())


def tags(path: Path) -> str:
    """Every metadata tag ffprobe finds in the file and its streams, as text."""
    return subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags:stream_tags", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def ebur128_report(path: Path) -> str:
    """ffmpeg's EBU R128 loudness summary of `path` (with true peak)."""
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-nostats", "-i", str(path), "-af", "ebur128=peak=true",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip


def loudness(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of `path`, measured by ffmpeg."""
    summary = ebur128_report(path).rpartition("Summary:")[2]
    integrated = re.search(r"I:\s*(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"Peak:\s*(-?[\d.]+|-inf) dBFS", summary)
    assert integrated and peak, summary
    return float(integrated.group(1)), float(peak.group(1))


def as_stored_opus(source: Path, directory: Path) -> Path:
    """`source` as Earshot keeps a memo (Opus 24k in Ogg, mono), so tests hear what servers do."""
    out = directory / f"{source.stem}.ogg"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-ac", "1", "-c:a", "libopus",
         "-b:a", "24k", str(out)],
        check=True,
    )  # fmt: skip
    return out
