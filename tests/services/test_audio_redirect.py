"""EARSHOT_AUDIO_DELIVERY=redirect: a signed audio URL redirects to a presigned GET of S3."""

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests import audio_samples
from tests.helpers import Api, assert_error
from tests.s3server import S3Server, s3_server  # noqa: F401  (a fixture)
from tests.services.helpers import ffprobe_stream, processed, upload


@pytest.fixture
def settings(database_url: str, tmp_path: Path, s3_server: S3Server) -> Settings:  # noqa: F811
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        storage_url=s3_server.storage_url(f"redirect-{uuid.uuid4().hex}"),
        audio_delivery="redirect",
        secret_key="test-secret",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )


@pytest.fixture
async def message(api: Api, app: Any, samples: Path) -> dict[str, Any]:
    amy = await api.register("amy")
    gid = await api.group(amy)
    r = await upload(api, amy, gid, audio_samples.client_file(samples, "iphone_m4a"))
    out = await processed(app, api, amy, r.json()["id"])
    out["_amy"] = amy
    return out


async def _follow(api: Api, url: str, **headers: str) -> httpx.Response:
    """GET the signed URL, check it redirects to the store, and fetch from the store."""
    first = await api.client.get(url)
    assert first.status_code == 307, first.text
    assert first.headers["cache-control"] == "no-store"
    location = first.headers["location"]
    async with httpx.AsyncClient() as store:  # a plain client: the store needs no credentials
        return await store.get(location, headers=headers)


async def test_the_signed_url_redirects_to_the_stores_copy(
    api: Api,
    message: dict[str, Any],
    s3_server: S3Server,  # noqa: F811
    tmp_path: Path,
) -> None:
    url = message["voice"]["audio_url"]
    assert url.startswith("/api/v1/audio/")  # the contract's URL, unchanged
    ogg = await _follow(api, url)
    assert ogg.status_code == 200
    assert urlsplit(str(ogg.url)).netloc == urlsplit(s3_server.endpoint).netloc
    (tmp_path / "memo.ogg").write_bytes(ogg.content)
    assert ffprobe_stream(tmp_path / "memo.ogg")["codec_name"] == "opus"
    part = await _follow(api, url, Range="bytes=10-19")
    assert part.status_code == 206 and part.content == ogg.content[10:20]
    mp3 = await _follow(api, url + "&format=mp3")
    (tmp_path / "memo.mp3").write_bytes(mp3.content)
    assert ffprobe_stream(tmp_path / "memo.mp3")["codec_name"] == "mp3"


async def test_bad_links_and_deleted_memos_are_refused_before_any_redirect(
    api: Api, message: dict[str, Any]
) -> None:
    url = message["voice"]["audio_url"]
    assert_error(await api.client.get(url.replace("sig=", "sig=x")), 403, "invalid_signature")
    r = await api.call(message["_amy"], "DELETE", f"/messages/{message['id']}")
    assert r.status_code == 204
    assert_error(await api.client.get(url), 410, "audio_deleted")


async def test_redirect_needs_an_s3_store(tmp_path: Path) -> None:
    local = Settings(data_dir=tmp_path, secret_key="s", audio_delivery="redirect")
    app = create_app(local)
    with pytest.raises(ValueError, match="needs an s3://"):
        async with app.router.lifespan_context(app):
            pass
