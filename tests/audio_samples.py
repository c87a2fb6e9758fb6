"""Real speech in the formats phones and browsers send, and garbage that only looks like audio.

Speech comes from espeak-ng; ffmpeg converts it. Everything is made once into a
directory the caller keeps (a session-scoped fixture).
"""

import os
import subprocess
from pathlib import Path

SENTENCES = (
    "Good morning team. I tried the new reading routine with the third grade teachers today. "
    "The students were engaged, and we should talk about pacing at our next meeting."
)

# name: (file name, ffmpeg output options) — what each kind of client really sends.
CLIENT_FORMATS: dict[str, tuple[str, list[str]]] = {
    "iphone_m4a": ("memo.m4a", ["-c:a", "aac", "-b:a", "64k", "-f", "ipod"]),
    "chrome_webm": ("memo.webm", ["-c:a", "libopus", "-b:a", "32k", "-f", "webm"]),
    "firefox_ogg": ("memo.ogg", ["-c:a", "libopus", "-b:a", "32k", "-f", "ogg"]),
    "android_3gp": ("memo.3gp", ["-c:a", "aac", "-b:a", "32k", "-ar", "16000", "-f", "3gp"]),
    "mp3": ("memo.mp3", ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"]),
    "flac": ("memo.flac", ["-c:a", "flac", "-f", "flac"]),
    "wav_44k_stereo": ("memo.wav", ["-ac", "2", "-ar", "44100", "-c:a", "pcm_s16le", "-f", "wav"]),
}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True)


def speech_wav(directory: Path) -> Path:
    """A few sentences of English speech (mono 22 kHz WAV, about 10 s)."""
    path = directory / "speech.wav"
    if not path.exists():
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), SENTENCES], check=True)
    return path


def speech_of_length(directory: Path, seconds: int) -> Path:
    """Speech looped to `seconds` long (mono WAV)."""
    path = directory / f"speech_{seconds}s.wav"
    if not path.exists():
        _ffmpeg(
            "-stream_loop", "-1", "-i", str(speech_wav(directory)), "-t", str(seconds), str(path)
        )
    return path


def client_file(directory: Path, kind: str, source: Path | None = None) -> Path:
    """The speech encoded as client `kind` (see CLIENT_FORMATS)."""
    name, options = CLIENT_FORMATS[kind]
    path = directory / name if source is None else directory / f"{source.stem}_{name}"
    if not path.exists():
        _ffmpeg("-i", str(source or speech_wav(directory)), *options, str(path))
    return path


def quiet_speech(directory: Path, gain_db: int = -30) -> Path:
    path = directory / f"speech_{gain_db}db.wav"
    if not path.exists():
        _ffmpeg("-i", str(speech_wav(directory)), "-af", f"volume={gain_db}dB", str(path))
    return path


def duration_s(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return float(out.stdout.strip())


def garbage(directory: Path) -> dict[str, Path]:
    """Files that are not audio, each named like audio."""
    files: dict[str, Path] = {}

    def make(name: str, data: bytes) -> None:
        path = directory / name
        path.write_bytes(data)
        files[name] = path

    make("zero_bytes.m4a", b"")
    make("random_bytes.mp3", os.urandom(200_000))
    make("script.ogg", b"#!/bin/sh\necho 'not a memo'\nrm -rf /tmp/nothing\n" * 20)
    make("text.wav", ("Just some words typed into a file. " * 400).encode())
    png = directory / "picture.png"
    _ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", str(png))
    make("picture.m4a", png.read_bytes())
    whole = client_file(directory, "iphone_m4a").read_bytes()
    make("truncated.m4a", whole[: len(whole) // 2])
    video = directory / "video_only.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x64:d=2", "-c:v", "mpeg4", str(video))
    files["video_only.m4a"] = video
    return files


def tone_mp3(directory: Path, seconds: int) -> Path:
    """A long, small file: a low-bitrate tone (quick to make even at 20 minutes)."""
    path = directory / f"tone_{seconds}s.mp3"
    if not path.exists():
        _ffmpeg("-f", "lavfi", "-i", f"sine=f=220:d={seconds}", "-ar", "8000", "-ac", "1",
                "-c:a", "libmp3lame", "-b:a", "8k", str(path))  # fmt: skip
    return path


def ebur128_report(path: Path) -> str:
    """ffmpeg's EBU R128 loudness summary of `path`."""
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
