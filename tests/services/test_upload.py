"""Uploading voice memos in every format clients send, and refusing what is not audio."""

from pathlib import Path
from typing import Any

import pytest

from tests import audio_samples
from tests.conftest import sqlite_only
from tests.helpers import Api, assert_error
from tests.services.helpers import blob_files, ffprobe_stream, processed, upload, work_files


@sqlite_only  # the database's part is the same for every format: both run it below
@pytest.mark.parametrize("kind", list(audio_samples.CLIENT_FORMATS))
async def test_client_format_becomes_ready_mono_opus(
    api: Api, app: Any, samples: Path, kind: str, tmp_path: Path
) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    source = audio_samples.client_file(samples, kind)
    r = await upload(api, amy, gid, source)
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["kind"] == "voice" and accepted["voice"]["status"] == "processing"

    memo = await processed(app, api, amy, accepted["id"])
    voice = memo["voice"]
    assert voice["status"] == "ready", voice
    expected_ms = audio_samples.duration_s(audio_samples.speech_wav(samples)) * 1000
    assert abs(voice["duration_ms"] - expected_ms) <= expected_ms * 0.05
    waveform = voice["waveform"]
    assert len(waveform) == 64 and all(0 <= v <= 255 for v in waveform)
    assert max(waveform) - min(waveform) > 100, "the waveform shows speech and pauses"
    assert voice["mime"] == "audio/ogg" and voice["size_bytes"] > 0

    played = await api.client.get(voice["audio_url"])
    assert played.status_code == 200
    assert played.headers["content-type"] == "audio/ogg"
    out = tmp_path / "played.ogg"
    out.write_bytes(played.content)
    assert len(played.content) == voice["size_bytes"]
    assert ffprobe_stream(out) == {
        "codec_name": "opus",
        "channels": "1",
        "sample_rate": "48000",
        "format_name": "ogg",
    }
    assert blob_files(app) == [f"voice/{memo['id']}/audio.ogg"], "the original is removed"


async def test_quiet_recording_is_normalized_for_speech(
    api: Api, app: Any, samples: Path, tmp_path: Path
) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    quiet = audio_samples.quiet_speech(samples, -30)
    memo = await processed(app, api, amy, (await upload(api, amy, gid, quiet)).json()["id"])
    out = tmp_path / "normalized.ogg"
    out.write_bytes((await api.client.get(memo["voice"]["audio_url"])).content)
    report = audio_samples.ebur128_report(out)
    integrated = float(report.split("Integrated loudness:")[1].split("I:")[1].split("LUFS")[0])
    assert -19 <= integrated <= -13, integrated


async def test_processing_emits_message_updated_ready(api: Api, app: Any, samples: Path) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    r = await upload(api, amy, gid, audio_samples.client_file(samples, "firefox_ogg"))
    await processed(app, api, amy, r.json()["id"])
    created, updated = (await api.events(amy, gid))[-2:]
    assert created["type"] == "message.created"
    assert created["data"]["voice"]["status"] == "processing"
    assert updated["type"] == "message.updated"
    assert updated["data"]["voice"]["status"] == "ready"
    assert updated["data"]["voice"]["audio_url"].startswith("/api/v1/audio/")


async def test_same_client_id_uploads_once(api: Api, app: Any, samples: Path) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    path = audio_samples.client_file(samples, "chrome_webm")
    first = await upload(api, amy, gid, path, client_id="memo-1")
    again = await upload(api, amy, gid, path, client_id="memo-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    await app.state.runtime.ingest.idle()
    assert len(blob_files(app)) == 1
    assert len((await api.ok(amy, "GET", f"/groups/{gid}/messages"))["messages"]) == 1


GARBAGE = [
    "zero_bytes.m4a",
    "random_bytes.mp3",
    "script.ogg",
    "text.wav",
    "picture.m4a",
    "truncated.m4a",
    "video_only.m4a",
]


@sqlite_only  # refused by the probe before any write; tests/fuzz does it on both
@pytest.mark.parametrize("name", GARBAGE)
async def test_garbage_is_415_and_leaves_nothing(
    api: Api, app: Any, samples: Path, name: str
) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    before = await api.events(amy, gid)
    path = audio_samples.garbage(samples)[name]
    error = assert_error(await upload(api, amy, gid, path), 415, "not_audio")
    assert "0x" not in error["message"], "no internals leak into the message"
    assert await api.events(amy, gid) == before
    assert (await api.ok(amy, "GET", f"/groups/{gid}/messages"))["messages"] == []
    assert blob_files(app) == [] and work_files(app) == []


async def test_twenty_minute_memo_is_422_too_long(api: Api, app: Any, samples: Path) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    long_file = audio_samples.tone_mp3(samples, seconds=1200)
    error = assert_error(await upload(api, amy, gid, long_file), 422, "too_long")
    assert error["details"]["duration_ms"] >= 1_199_000
    assert blob_files(app) == [] and work_files(app) == []


async def test_limits_are_settings(api: Api, app: Any, samples: Path) -> None:
    app.state.runtime.settings.max_duration_s = 5
    amy = await api.register("amy")
    gid = await api.group(amy)
    webm = audio_samples.client_file(samples, "chrome_webm")  # no duration in its header
    assert_error(await upload(api, amy, gid, webm), 422, "too_long")


async def test_oversized_upload_is_413_and_cut_off(api: Api, app: Any, samples: Path) -> None:
    app.state.runtime.settings.max_upload_bytes = 100_000
    amy = await api.register("amy")
    gid = await api.group(amy)
    wav = audio_samples.client_file(samples, "wav_44k_stereo")  # about 2 MB
    assert_error(await upload(api, amy, gid, wav), 413, "too_large")

    async def endless() -> Any:  # no Content-Length: the cap still cuts it off
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.wav"\r\n\r\n'
        for _ in range(1000):
            yield b"\0" * 65536

    r = await api.client.post(
        f"/api/v1/groups/{gid}/voice",
        content=endless(),
        headers={**amy.auth, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_error(r, 413, "too_large")
    assert blob_files(app) == [] and work_files(app) == []


async def test_upload_needs_multipart_with_a_file(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    r = await api.call(amy, "POST", f"/groups/{gid}/voice", json={"file": "x"})
    assert_error(r, 400, "invalid_upload")
    r = await api.call(amy, "POST", f"/groups/{gid}/voice", files={"other": ("a", b"x")})
    assert_error(r, 422, "validation_error")


async def test_outsider_cannot_upload(api: Api, app: Any, samples: Path) -> None:
    amy, eve = await api.register("amy"), await api.register("eve")
    gid = await api.group(amy)
    r = await upload(api, eve, gid, audio_samples.client_file(samples, "mp3"))
    assert_error(r, 404, "group_not_found")
    assert blob_files(app) == []
