"""Playing memos through signed URLs: ranges, caching, MP3 fallback, tampering, deletion."""

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from app.services import signing
from tests import audio_samples
from tests.helpers import Api, Person, assert_error
from tests.services.helpers import blob_files, ffprobe_stream, processed, upload


@pytest.fixture
async def memo(api: Api, app: Any, samples: Path) -> tuple[Person, dict[str, Any]]:
    amy = await api.register("amy")
    gid = await api.group(amy)
    r = await upload(api, amy, gid, audio_samples.client_file(samples, "iphone_m4a"))
    return amy, await processed(app, api, amy, r.json()["id"])


async def test_audio_url_needs_no_authorization_header(api: Api, memo: Any) -> None:
    _, message = memo
    r = await api.client.get(message["voice"]["audio_url"])
    assert r.status_code == 200
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["etag"] and "max-age" in r.headers["cache-control"]


async def test_range_requests_get_206_with_the_right_bytes(api: Api, memo: Any) -> None:
    _, message = memo
    url = message["voice"]["audio_url"]
    whole = (await api.client.get(url)).content
    part = await api.client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    assert part.content == whole[100:200]
    tail = await api.client.get(url, headers={"Range": "bytes=-50"})
    assert tail.content == whole[-50:]
    open_ended = await api.client.get(url, headers={"Range": f"bytes={len(whole) - 10}-"})
    assert open_ended.content == whole[-10:]
    beyond = await api.client.get(url, headers={"Range": f"bytes={len(whole)}-"})
    assert_error(beyond, 416, "range_not_satisfiable")


async def test_unchanged_audio_answers_304_to_its_etag(api: Api, memo: Any) -> None:
    _, message = memo
    url = message["voice"]["audio_url"]
    etag = (await api.client.get(url)).headers["etag"]
    again = await api.client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


async def test_mp3_is_made_on_first_request_and_kept(
    api: Api, app: Any, memo: Any, tmp_path: Path
) -> None:
    _, message = memo
    url = message["voice"]["audio_url"] + "&format=mp3"
    first = await api.client.get(url)
    assert first.status_code == 200 and first.headers["content-type"] == "audio/mpeg"
    out = tmp_path / "memo.mp3"
    out.write_bytes(first.content)
    assert ffprobe_stream(out)["codec_name"] == "mp3"
    assert f"voice/{message['id']}/audio.mp3" in blob_files(app)
    second = await api.client.get(url)
    assert second.content == first.content


async def test_tampered_or_expired_links_are_403(api: Api, app: Any, memo: Any) -> None:
    _, message = memo
    url = message["voice"]["audio_url"]
    query = parse_qs(urlsplit(url).query)
    path = urlsplit(url).path
    wrong_sig = f"{path}?exp={query['exp'][0]}&sig={'A' * len(query['sig'][0])}"
    assert_error(await api.client.get(wrong_sig), 403, "invalid_signature")
    later = f"{path}?exp={int(query['exp'][0]) + 3600}&sig={query['sig'][0]}"
    assert_error(await api.client.get(later), 403, "invalid_signature")
    other_id = path.replace(message["id"], "00000000-0000-0000-0000-000000000000")
    assert_error(await api.client.get(f"{other_id}?{urlsplit(url).query}"), 403)
    secret = app.state.runtime.settings.resolved_secret
    expired = signing.audio_url(secret, message["id"], ttl_s=-7200, now=time.time())
    assert_error(await api.client.get(expired), 403, "url_expired")


async def test_deleting_a_memo_removes_its_audio(api: Api, app: Any, memo: Any) -> None:
    amy, message = memo
    url = message["voice"]["audio_url"]
    await api.client.get(url + "&format=mp3")
    assert (await api.call(amy, "DELETE", f"/messages/{message['id']}")).status_code == 204
    assert blob_files(app) == []
    assert_error(await api.client.get(url), 410, "audio_deleted")
    tombstone = await api.ok(amy, "GET", f"/messages/{message['id']}")
    assert tombstone["deleted"] and tombstone["voice"] is None


async def test_deleting_the_group_removes_all_its_audio(api: Api, app: Any, memo: Any) -> None:
    amy, message = memo
    assert blob_files(app)
    assert (await api.call(amy, "DELETE", f"/groups/{message['group_id']}")).status_code == 204
    assert blob_files(app) == []
