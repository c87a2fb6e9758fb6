"""Hostile files against real ffmpeg: decompression bombs cost no more than the length
limit, playlists and external references are never followed, every child is bounded."""

import asyncio
import resource
import subprocess
from pathlib import Path

import pytest

from app.storage import audio, ffmpeg
from app.storage.audio import AudioTooLong, NotAudio
from tests import audio_samples, hostile_audio

LIMIT_S = 30
BOMB_S = {"flac": 36_000, "opus": 600, "pcm": 600}  # 10 h, 10 min, 10 min


@pytest.fixture(scope="session")
def bombs(samples: Path) -> dict[str, Path]:
    return {c: hostile_audio.zero_timestamp_bomb(samples, c, s) for c, s in BOMB_S.items()}


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.mark.parametrize("codec", list(BOMB_S))
async def test_a_bomb_claims_seconds_but_the_probe_counts_what_decodes(
    bombs: dict[str, Path], codec: str
) -> None:
    declared = audio_samples.declared_duration(bombs[codec])
    assert declared == "N/A" or float(declared) < 10, "the header understates the length"
    with pytest.raises(AudioTooLong) as refusal:
        await audio.probe(bombs[codec], LIMIT_S)
    assert not refusal.value.exact
    assert (LIMIT_S + 1) * 1000 < refusal.value.duration_ms <= (LIMIT_S + 3) * 1000, (
        "decoding stopped just past the limit, not at the end of the bomb"
    )


@pytest.mark.parametrize("codec", list(BOMB_S))
async def test_converting_a_bomb_stops_at_the_limit_with_bounded_scratch(
    bombs: dict[str, Path], codec: str, tmp_path: Path
) -> None:
    """What a live memo (never probed) would cost: the conversion is the last line."""
    out = tmp_path / "out"
    out.mkdir()
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            size = sum(p.stat().st_size for p in out.iterdir() if p.exists())
            peak = max(peak, size)
            await asyncio.sleep(0.005)

    cpu_before = _children_cpu_s()
    watcher = asyncio.create_task(watch())
    try:
        with pytest.raises(AudioTooLong) as refusal:
            await audio.transcode_voice(bombs[codec], out / "audio.ogg", max_duration_s=LIMIT_S)
    finally:
        watcher.cancel()
    assert refusal.value.duration_ms <= (LIMIT_S + 3) * 1000
    assert peak <= ffmpeg.pcm_bytes(LIMIT_S + 3), f"{peak} bytes of scratch"
    assert list(out.iterdir()) == [], "nothing is left behind"
    assert _children_cpu_s() - cpu_before < 20, "ffmpeg did not convert hours of audio"


def test_the_playlist_would_play_if_hls_were_allowed(samples: Path) -> None:
    """The HLS file is a real attack: ffmpeg reads the named file once playlists are allowed."""
    playlist = hostile_audio.hls_playlist(samples)
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-protocol_whitelist", "file", "-f", "hls",
         "-i", str(playlist), "-ac", "1", "-ar", "8000", "-f", "s16le", "pipe:1"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert len(decoded) > 8000 * 2 * 10


async def test_a_playlist_naming_audio_elsewhere_is_not_audio(samples: Path) -> None:
    with pytest.raises(NotAudio):
        await audio.probe(hostile_audio.hls_playlist(samples), LIMIT_S)


@pytest.fixture
def referenced_movie(tmp_path: Path, samples: Path) -> Path:
    movie, target_bytes = hostile_audio.movie_with_external_reference(samples, "secret.mov")
    upload = tmp_path / "upload-movie"
    upload.write_bytes(movie.read_bytes())
    (tmp_path / "secret.mov").write_bytes(target_bytes)  # someone else's file beside it
    return upload


def test_the_movie_would_play_its_sibling_with_drefs_enabled(referenced_movie: Path) -> None:
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-enable_drefs", "1", "-i", str(referenced_movie),
         "-ac", "1", "-ar", "8000", "-f", "s16le", "pipe:1"],
        capture_output=True,
    ).stdout  # fmt: skip
    assert len(decoded) > 8000 * 2 * 4, "the reference really points at 5 s of audio"


async def test_a_movie_whose_samples_are_in_another_file_is_not_audio(
    referenced_movie: Path, tmp_path: Path
) -> None:
    with pytest.raises(NotAudio):
        await audio.probe(referenced_movie, LIMIT_S)
    with pytest.raises(audio.TranscodeError):
        await audio.transcode_voice(referenced_movie, tmp_path / "o.ogg", max_duration_s=LIMIT_S)


def _proc_limits(pid: int) -> tuple[dict[str, str], str]:
    """A process's resource limits (soft values, by name) and its /proc status text."""
    lines = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    status = Path(f"/proc/{pid}/status").read_text()
    return {line[:26].strip(): line[26:47].strip() for line in lines}, status


def _size_and_mode(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mode & 0o777


async def test_every_child_runs_with_cpu_file_and_memory_limits_and_a_private_umask() -> None:
    limits = ffmpeg.Limits(cpu_s=7, file_bytes=123_456, memory_bytes=900 * 1024 * 1024)
    async with ffmpeg.Process(["sleep", "5"], limits) as run:
        seen, status = _proc_limits(run.proc.pid)
    assert seen["Max cpu time"] == "7"
    assert seen["Max file size"] == "123456"
    assert seen["Max address space"] == str(900 * 1024 * 1024)
    assert "Umask:\t0077" in status


async def test_a_child_that_writes_past_its_file_limit_is_stopped(tmp_path: Path) -> None:
    out = tmp_path / "big.wav"
    args = ["ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", "anullsrc=r=48000",
            "-t", "60", "-f", "wav", str(out)]  # fmt: skip
    async with ffmpeg.Process(args, ffmpeg.Limits(cpu_s=30, file_bytes=100_000)) as run:
        while await run.read():
            pass
        code = await run.finish()
    assert code != 0
    size, mode = _size_and_mode(out)
    assert size <= 100_000 and mode == 0o600


def test_inputs_are_fenced_to_local_audio_files() -> None:
    args = ffmpeg.input_args(Path("/x/memo.m4a"))
    protocols = args[args.index("-protocol_whitelist") + 1].split(",")
    formats = args[args.index("-format_whitelist") + 1].split(",")
    assert sorted(protocols) == ["file", "pipe"]
    assert not {"hls", "concat", "applehttp", "image2", "tee"} & set(formats)
    assert "-enable_drefs" not in args  # off by ffmpeg's default (the movie test proves it)
