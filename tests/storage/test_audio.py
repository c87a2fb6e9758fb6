"""Probing and transcoding real recordings with real ffmpeg: every client format, garbage,
long memos, loudness, waveform and the worker pool."""

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from pydub import AudioSegment

from app.storage import audio, ffmpeg
from app.storage.audio import AudioTooLong, NotAudio, TranscodeError
from app.storage.ffmpeg import Slots
from tests import audio_samples

LIMIT_S = 900  # the default 15-minute limit


def speech_ms(audio_dir: Path) -> float:
    return audio_samples.duration_s(audio_samples.speech_wav(audio_dir)) * 1000


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def assert_close(measured_ms: float, expected_ms: float, tolerance: float = 0.05) -> None:
    assert abs(measured_ms - expected_ms) <= expected_ms * tolerance, (measured_ms, expected_ms)


@pytest.mark.parametrize("kind", list(audio_samples.CLIENT_FORMATS))
async def test_client_recording_is_accepted_as_audio(audio_dir: Path, kind: str) -> None:
    result = await audio.probe(audio_samples.client_file(audio_dir, kind), LIMIT_S)
    assert_close(result.duration_ms, speech_ms(audio_dir))


@pytest.mark.parametrize("kind", list(audio_samples.CLIENT_FORMATS))
async def test_client_recording_becomes_mono_opus(
    audio_dir: Path, kind: str, tmp_path: Path
) -> None:
    dst = tmp_path / "audio.ogg"
    info = await audio.transcode_voice(
        audio_samples.client_file(audio_dir, kind), dst, max_duration_s=LIMIT_S
    )
    assert audio_samples.audio_stream(dst) == {
        "codec_name": "opus",
        "channels": "1",
        "sample_rate": "48000",
        "format_name": "ogg",
    }
    assert_close(info.duration_ms, speech_ms(audio_dir))
    assert_close(audio_samples.duration_s(dst) * 1000, info.duration_ms, 0.01)
    assert len(info.waveform) == 64 and all(0 <= v <= 255 for v in info.waveform)
    assert max(info.waveform) == 255 and min(info.waveform) < 40, "words and pauses both show"
    bitrate = dst.stat().st_size * 8 / (info.duration_ms / 1000)
    assert 16_000 <= bitrate <= 40_000, bitrate


async def test_quiet_recording_is_raised_to_speech_loudness(
    audio_dir: Path, tmp_path: Path
) -> None:
    quiet = audio_samples.quiet_speech(audio_dir, -30)
    assert audio_samples.loudness(quiet)[0] < -45
    dst = tmp_path / "audio.ogg"
    await audio.transcode_voice(quiet, dst, max_duration_s=LIMIT_S)
    integrated, true_peak = audio_samples.loudness(dst)
    assert -18 <= integrated <= -14, integrated
    assert true_peak < 0.5, "no clipping beyond the overshoot of lossy coding"


async def test_loud_clipped_recording_is_lowered_to_speech_loudness(
    audio_dir: Path, tmp_path: Path
) -> None:
    loud = audio_samples.loud_speech(audio_dir, 10)
    assert audio_samples.loudness(loud)[0] > -13
    dst = tmp_path / "audio.ogg"
    await audio.transcode_voice(loud, dst, max_duration_s=LIMIT_S)
    integrated, true_peak = audio_samples.loudness(dst)
    assert -18 <= integrated <= -14, integrated
    assert true_peak < 0.5, "no clipping beyond the overshoot of lossy coding"


async def test_quiet_recording_has_as_readable_a_waveform_as_a_normal_one(
    audio_dir: Path, tmp_path: Path
) -> None:
    normal = await audio.transcode_voice(
        audio_samples.speech_wav(audio_dir), tmp_path / "n.ogg", max_duration_s=LIMIT_S
    )
    quiet = await audio.transcode_voice(
        audio_samples.quiet_speech(audio_dir), tmp_path / "q.ogg", max_duration_s=LIMIT_S
    )
    assert max(abs(a - b) for a, b in zip(normal.waveform, quiet.waveform, strict=True)) <= 20


async def test_silence_stays_silent_with_a_flat_waveform(audio_dir: Path, tmp_path: Path) -> None:
    dst = tmp_path / "audio.ogg"
    info = await audio.transcode_voice(
        audio_samples.silence_wav(audio_dir, 5), dst, max_duration_s=LIMIT_S
    )
    assert info.waveform == [0] * 64
    assert_close(info.duration_ms, 5000, 0.01)


async def test_metadata_of_the_upload_is_not_kept(audio_dir: Path, tmp_path: Path) -> None:
    tagged = audio_samples.with_title(audio_dir, "Room 12 at Lincoln Elementary")
    assert "Lincoln" in audio_samples.tags(tagged)
    dst = tmp_path / "audio.ogg"
    await audio.transcode_voice(tagged, dst, max_duration_s=LIMIT_S)
    assert "Lincoln" not in audio_samples.tags(dst)


async def test_transcode_writes_only_the_destination(audio_dir: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out" / "audio.ogg"
    dst.parent.mkdir()
    dst.write_bytes(b"previous")
    await audio.transcode_voice(
        audio_samples.client_file(audio_dir, "firefox_ogg"), dst, max_duration_s=LIMIT_S
    )
    assert files_in(dst.parent) == ["audio.ogg"]
    assert dst.read_bytes()[:4] == b"OggS"


async def test_failed_transcode_explains_and_leaves_nothing(
    audio_dir: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "audio.ogg"
    with pytest.raises(TranscodeError) as failure:
        await audio.transcode_voice(
            audio_samples.garbage(audio_dir)["script.ogg"], dst, max_duration_s=LIMIT_S
        )
    assert "ffmpeg" in str(failure.value) and failure.value.stderr_tail
    assert files_in(tmp_path) == []


async def test_transcode_refuses_audio_longer_than_its_limit(
    audio_dir: Path, tmp_path: Path
) -> None:
    webm = audio_samples.client_file(audio_dir, "chrome_webm")
    with pytest.raises(AudioTooLong):
        await audio.transcode_voice(webm, tmp_path / "audio.ogg", max_duration_s=5)
    assert files_in(tmp_path) == []


async def test_mp3_fallback_is_mono_mp3_of_the_same_length(audio_dir: Path, tmp_path: Path) -> None:
    ogg, mp3 = tmp_path / "audio.ogg", tmp_path / "audio.mp3"
    info = await audio.transcode_voice(
        audio_samples.client_file(audio_dir, "iphone_m4a"), ogg, max_duration_s=LIMIT_S
    )
    await audio.transcode_mp3(ogg, mp3, max_duration_s=LIMIT_S)
    stream = audio_samples.audio_stream(mp3)
    assert (stream["codec_name"], stream["channels"], stream["format_name"]) == ("mp3", "1", "mp3")
    assert_close(audio_samples.duration_s(mp3) * 1000, info.duration_ms, 0.02)
    assert files_in(tmp_path) == ["audio.mp3", "audio.ogg"]


GARBAGE = [
    "zero_bytes.m4a",
    "random_bytes.mp3",
    "id3_then_noise.mp3",
    "script.ogg",
    "text.wav",
    "picture.m4a",
    "truncated.m4a",
    "playlist.m4a",
    "video_only.m4a",
]


@pytest.mark.parametrize("name", GARBAGE)
async def test_garbage_is_not_audio(audio_dir: Path, name: str) -> None:
    with pytest.raises(NotAudio) as refusal:
        await audio.probe(audio_samples.garbage(audio_dir)[name], LIMIT_S)
    reason = str(refusal.value)
    assert reason and reason == refusal.value.reason
    assert "0x" not in reason and "ffmpeg" not in reason, "a sentence for a person"


async def test_truncated_m4a_with_index_first_keeps_what_decodes(
    audio_dir: Path, tmp_path: Path
) -> None:
    half = audio_samples.truncated_indexed_m4a(audio_dir)
    await audio.probe(half, LIMIT_S)
    info = await audio.transcode_voice(half, tmp_path / "audio.ogg", max_duration_s=LIMIT_S)
    assert 0.3 * speech_ms(audio_dir) < info.duration_ms < 0.7 * speech_ms(audio_dir)


async def test_twenty_minute_memo_is_too_long(audio_dir: Path) -> None:
    long_memo = audio_samples.long_speech_mp3(audio_dir, 1200)
    with pytest.raises(AudioTooLong) as refusal:
        await audio.probe(long_memo, LIMIT_S)
    assert_close(refusal.value.duration_ms, 1_200_000, 0.01)


async def test_limit_allows_one_second_of_tolerance(audio_dir: Path) -> None:
    memo = audio_samples.client_file(audio_dir, "mp3")  # about 11.2 s
    await audio.probe(memo, 11)
    with pytest.raises(AudioTooLong):
        await audio.probe(memo, 10)


async def test_webm_without_duration_header_is_measured_by_decoding(audio_dir: Path) -> None:
    webm = audio_samples.client_file(audio_dir, "chrome_webm")
    assert audio_samples.declared_duration(webm) == "N/A"
    result = await audio.probe(webm, LIMIT_S)
    assert not result.duration_from_header
    assert_close(result.duration_ms, speech_ms(audio_dir))


async def test_webm_without_duration_header_can_still_be_too_long(audio_dir: Path) -> None:
    webm = audio_samples.client_file(audio_dir, "chrome_webm")
    with pytest.raises(AudioTooLong) as refusal:
        await audio.probe(webm, 5)
    assert refusal.value.duration_ms > 6000


async def test_pool_runs_at_most_its_size_at_once(audio_dir: Path, tmp_path: Path) -> None:
    pool = Slots(2)
    src = audio_samples.client_file(audio_dir, "firefox_ogg")
    seen: list[int] = []

    async def job(n: int) -> audio.VoiceInfo:
        seen.append(pool.running)
        return await audio.transcode_voice(src, tmp_path / f"{n}.ogg", max_duration_s=LIMIT_S)

    results = await asyncio.gather(*(pool.run(job, n) for n in range(5)))
    assert len(results) == 5 and max(seen) == 2
    assert pool.running == 0 and pool.waiting == 0


async def test_pool_frees_its_slot_when_a_job_fails(audio_dir: Path, tmp_path: Path) -> None:
    pool = Slots(1)
    script = audio_samples.garbage(audio_dir)["script.ogg"]
    with pytest.raises(TranscodeError):
        await pool.run(audio.transcode_voice, script, tmp_path / "bad.ogg", max_duration_s=LIMIT_S)
    src = audio_samples.client_file(audio_dir, "firefox_ogg")
    info = await asyncio.wait_for(
        pool.run(audio.transcode_voice, src, tmp_path / "ok.ogg", max_duration_s=LIMIT_S), 30
    )
    assert info.duration_ms > 0


async def test_conversions_run_at_a_lower_cpu_priority_than_probes() -> None:
    """Requests and checking uploads (their senders wait) come before conversions."""
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    seen = []
    for niceness in (ffmpeg.PROBE_NICENESS, ffmpeg.CONVERSION_NICENESS):
        limits = ffmpeg.Limits(cpu_s=10, file_bytes=0, niceness=niceness)
        async with ffmpeg.Process(["sleep", "5"], limits) as run:
            seen.append(os.getpriority(os.PRIO_PROCESS, run.proc.pid))
    assert seen == [ours, min(ours + ffmpeg.CONVERSION_NICENESS, 19)]
    assert seen[0] < seen[1]


def _niceness_of_children(log: Path) -> list[int]:
    """The niceness each wrapped ffmpeg/ffprobe child reported (field 19 of /proc/PID/stat)."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [int(line.rsplit(")", 1)[1].split()[16]) for line in lines]


async def test_probe_runs_its_children_at_our_priority_and_conversion_below(
    audio_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real call sites, not just `Limits`: every child of `probe` runs at our own
    priority (its sender waits), every child of `transcode_voice` CONVERSION_NICENESS below.
    Each real ffmpeg/ffprobe is reached through a script that notes its niceness first."""
    log, bin_dir = tmp_path / "children.log", tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ffmpeg", "ffprobe"):
        real = shutil.which(tool)
        assert real is not None
        wrapper = bin_dir / tool
        wrapper.write_text(
            f'#!/bin/sh\nread -r s < /proc/$$/stat\necho "$s" >> {log}\nexec {real} "$@"\n'
        )
        wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(AudioSegment, "converter", str(bin_dir / "ffmpeg"))
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    src = audio_samples.client_file(audio_dir, "firefox_ogg")

    await audio.probe(src, LIMIT_S)
    probed = _niceness_of_children(log)
    log.unlink()
    await audio.transcode_voice(src, tmp_path / "out.ogg", max_duration_s=LIMIT_S)
    converted = _niceness_of_children(log)

    assert len(probed) >= 2 and set(probed) == {ours}  # ffprobe, then the decoding ffmpeg
    assert len(converted) >= 2 and set(converted) == {min(ours + ffmpeg.CONVERSION_NICENESS, 19)}


@pytest.mark.parametrize("gain_db", [0, -30])
async def test_a_pause_is_marked_as_silence_to_skip_and_speech_is_not(
    audio_dir: Path, tmp_path: Path, gain_db: int
) -> None:
    src = audio_samples.speech_with_pause(audio_dir, gain_db)
    start = round(audio_samples.duration_s(audio_samples.speech_wav(audio_dir)) * 1000)
    end = start + audio_samples.PAUSE_S * 1000
    info = await audio.transcode_voice(src, tmp_path / "out.ogg", max_duration_s=LIMIT_S)
    pause = [s for s in info.silences if s[0] < end and s[1] > start]
    assert len(pause) == 1, info.silences
    begin, finish = pause[0]
    # The sample's own quiet before and after its sentences (under 1 s) joins the pause.
    assert start - 1000 <= begin <= start + 400 and end - 400 <= finish <= end + 1000, pause
    assert all(b - a >= 500 for a, b in info.silences), "only pauses worth skipping"
    speaking = sum(b - a for a, b in info.silences if b <= start or a >= end)
    assert speaking < 2000, "the sentences themselves are kept"


async def test_plain_speech_has_nothing_worth_skipping(audio_dir: Path, tmp_path: Path) -> None:
    speech = await audio.transcode_voice(
        audio_samples.speech_wav(audio_dir), tmp_path / "a.ogg", max_duration_s=LIMIT_S
    )
    assert sum(b - a for a, b in speech.silences) < 2000, speech.silences
