"""Uploads from an attacker with one ordinary account: bombs, playlists and references are
refused and leave nothing; form fields are capped; a full disk answers 507; a busy
machine answers 503 instead of running one ffmpeg per upload."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from tests import audio_samples, hostile_audio
from tests.helpers import Api, Person, assert_error
from tests.services.helpers import blob_files, upload, work_files

LIMIT_S = 30


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The length limit, plus what a test names with `parametrize(..., indirect=True)`."""
    extra = getattr(request, "param", {})
    return settings.model_copy(update={"max_duration_s": LIMIT_S, **extra})


@pytest.fixture
async def amy_group(api: Api) -> tuple[Person, str]:
    amy = await api.register("amy")
    return amy, await api.group(amy)


async def _nothing_left(api: Api, app: Any, amy: Person, gid: str) -> None:
    assert (await api.ok(amy, "GET", f"/groups/{gid}/messages"))["messages"] == []
    assert blob_files(app) == [] and work_files(app) == []


@pytest.mark.parametrize(("codec", "seconds"), [("flac", 36_000), ("opus", 600), ("pcm", 600)])
async def test_a_decompression_bomb_is_refused_as_too_long(
    api: Api, app: Any, amy_group: Any, samples: Path, codec: str, seconds: int
) -> None:
    amy, gid = amy_group
    bomb = hostile_audio.zero_timestamp_bomb(samples, codec, seconds)
    error = assert_error(await upload(api, amy, gid, bomb), 422, "too_long")
    assert error["details"]["duration_ms"] <= (LIMIT_S + 3) * 1000, "decoding stopped at the cap"
    await _nothing_left(api, app, amy, gid)


async def test_a_playlist_naming_audio_elsewhere_is_not_audio(
    api: Api, app: Any, amy_group: Any, samples: Path
) -> None:
    amy, gid = amy_group
    playlist = hostile_audio.hls_playlist(samples)
    assert_error(await upload(api, amy, gid, playlist), 415, "not_audio")
    await _nothing_left(api, app, amy, gid)


async def test_a_movie_referencing_a_scratch_file_beside_it_is_not_audio(
    api: Api, app: Any, amy_group: Any, samples: Path
) -> None:
    """The upload lands in the scratch directory: its reference names a file there."""
    amy, gid = amy_group
    movie, target = hostile_audio.movie_with_external_reference(samples, "someone-else.mov")
    planted = app.state.runtime.settings.work_dir / "someone-else.mov"
    planted.write_bytes(target)
    try:
        assert_error(await upload(api, amy, gid, movie), 415, "not_audio")
    finally:
        planted.unlink()
    await _nothing_left(api, app, amy, gid)


def _multipart(parts: list[tuple[str, bytes]], boundary: str = "b0undary") -> bytes:
    body = b""
    for headers, value in parts:
        body += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


async def _post_form(api: Api, who: Person, gid: str, body: Any) -> Any:
    headers = {**who.auth, "Content-Type": "multipart/form-data; boundary=b0undary"}
    return await api.client.post(f"/api/v1/groups/{gid}/voice", content=body, headers=headers)


async def test_at_most_sixteen_fields_besides_the_file(
    api: Api, app: Any, amy_group: Any, samples: Path
) -> None:
    amy, gid = amy_group
    memo = audio_samples.client_file(samples, "mp3").read_bytes()
    file_part = ('Content-Disposition: form-data; name="file"; filename="m.mp3"', memo)
    fields = [(f'Content-Disposition: form-data; name="f{i}"', b"x") for i in range(17)]
    r = await _post_form(api, amy, gid, _multipart([*fields, file_part]))
    error = assert_error(r, 413, "too_large")
    assert error["details"]["max_fields"] == 16
    r = await _post_form(api, amy, gid, _multipart([*fields[:16], file_part]))
    assert r.status_code == 202, r.text


async def test_at_most_64_kib_around_the_file(api: Api, app: Any, amy_group: Any) -> None:
    amy, gid = amy_group
    padded = [
        (f'Content-Disposition: form-data; name="f{i}"\r\nX-Pad: ' + "p" * 4100, b"x")
        for i in range(16)
    ]  # sixteen fields, but 66 KB of them
    r = await _post_form(api, amy, gid, _multipart(padded))
    assert_error(r, 413, "too_large")
    await _nothing_left(api, app, amy, gid)


async def test_a_million_small_fields_are_cut_off_early(api: Api, app: Any, amy_group: Any) -> None:
    amy, gid = amy_group
    sent = 0

    async def flood() -> AsyncIterator[bytes]:
        nonlocal sent
        part = b'--b0undary\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n'
        for _ in range(1_000_000 // 1000):
            sent += 1
            yield part * 1000  # chunked: no Content-Length to refuse up front

    assert_error(await _post_form(api, amy, gid, flood()), 413, "too_large")
    assert sent <= 2, f"{sent} chunks of 1000 fields were read"
    await _nothing_left(api, app, amy, gid)


@pytest.mark.parametrize("settings", [{"min_free_mb": 10**9}], indirect=True)  # a petabyte
async def test_a_server_short_of_disk_space_refuses_uploads_with_507(
    api: Api, app: Any, amy_group: Any, samples: Path
) -> None:
    amy, gid = amy_group
    memo = audio_samples.client_file(samples, "mp3")
    error = assert_error(await upload(api, amy, gid, memo), 507, "insufficient_storage")
    assert "disk space" in error["message"]
    await _nothing_left(api, app, amy, gid)
    await api.post(amy, gid, "texts still work")


@pytest.mark.parametrize("settings", [{"probe_workers": 1, "probe_wait_s": 0.2}], indirect=True)
async def test_a_busy_machine_answers_503_instead_of_another_ffmpeg(
    api: Api, app: Any, amy_group: Any, samples: Path
) -> None:
    amy, gid = amy_group
    memo = audio_samples.client_file(samples, "mp3")
    release = asyncio.Event()
    held = asyncio.create_task(app.state.runtime.probes.run(release.wait))  # the only slot
    await asyncio.sleep(0)
    r = await upload(api, amy, gid, memo)
    error = assert_error(r, 503, "server_busy")
    assert r.headers["retry-after"] == "1" and error["details"] == {"retry_after_s": 1}
    await _nothing_left(api, app, amy, gid)
    release.set()
    await held
    assert (await upload(api, amy, gid, memo)).status_code == 202
