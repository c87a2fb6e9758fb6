"""The private podcast feed, read as a podcast app reads it: feedparser for the RSS, every
enclosure downloaded and probed by ffprobe."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import httpx
from sqlalchemy import update

from app.models import Message
from tests import audio_samples
from tests.helpers import Api, Person, assert_error
from tests.services.helpers import ffprobe_stream, processed, upload


def local(url: str) -> str:
    """An absolute URL of the test app as a path and query for its client."""
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.netloc == "earshot.test", url
    return f"{parts.path}?{parts.query}"


async def memo(app: Any, api: Api, who: Person, gid: str, path: Path) -> dict[str, Any]:
    r = await upload(api, who, gid, path)
    assert r.status_code == 202, r.text
    message = await processed(app, api, who, r.json()["id"])
    assert message["voice"]["status"] == "ready"
    return message


async def read_feed(client: httpx.AsyncClient, url: str) -> Any:
    r = await client.get(local(url))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/rss+xml")
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.bozo_exception
    return parsed


async def test_the_feed_lists_my_groups_memos_and_every_enclosure_plays(
    app: Any, api: Api, client: httpx.AsyncClient, samples: Path, tmp_path: Path
) -> None:
    amy, ben, dan = [await api.register(n) for n in ("amy", "ben", "dan")]
    k5 = await api.group(amy, "K-5 coaches")
    await api.add(amy, k5, ben)
    elsewhere = await api.group(dan, "Not Ben's")
    short = await memo(app, api, amy, k5, audio_samples.speech_of_length(samples, 3))
    long = await memo(app, api, amy, k5, audio_samples.speech_of_length(samples, 7))
    await memo(app, api, dan, elsewhere, audio_samples.speech_of_length(samples, 3))
    await api.post(amy, k5, "a text is not in the feed")

    r = await api.call(ben, "POST", "/me/feeds")
    assert r.status_code == 201
    created = r.json()
    assert set(created) == {"id", "url"}
    feed = await read_feed(client, created["url"])
    assert feed.version == "rss20"
    assert feed.namespaces.get("itunes") == "http://www.itunes.com/dtds/podcast-1.0.dtd"
    artwork = await client.get(local(feed.feed.image.href))  # the show's artwork
    assert artwork.status_code == 200 and artwork.content.startswith(b"\x89PNG")
    assert [e.id for e in feed.entries] == [long["id"], short["id"]]  # newest first
    for entry, message in zip(feed.entries, (long, short), strict=True):
        assert entry.title == "Amy in K-5 coaches"
        assert entry.published_parsed is not None
        assert "summary" not in entry  # no transcript: previews are off
        seconds = round(message["voice"]["duration_ms"] / 1000)
        assert entry.itunes_duration == f"00:00:{seconds:02d}"
        [enclosure] = entry.enclosures
        assert enclosure.type == "audio/mpeg" and int(enclosure.length) > 0
        audio = await client.get(local(enclosure.href))  # no Authorization: a podcast app
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
        path = tmp_path / f"{entry.id}.mp3"
        path.write_bytes(audio.content)
        assert ffprobe_stream(path)["codec_name"] == "mp3"
        assert abs(audio_samples.duration_s(path) - message["voice"]["duration_ms"] / 1000) < 0.15
        partial = await client.get(local(enclosure.href), headers={"Range": "bytes=0-99"})
        assert partial.status_code == 206 and len(partial.content) == 100
        head = await client.head(local(enclosure.href))
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(audio.content))
    assert (await client.head(local(created["url"]))).status_code == 200


async def test_previews_add_transcripts_and_blocked_senders_are_left_out(
    app: Any, api: Api, client: httpx.AsyncClient, samples: Path
) -> None:
    amy, ben, cat = [await api.register(n) for n in ("amy", "ben", "cat")]
    gid = await api.group(amy, "K-5 coaches")
    for who in (ben, cat):
        await api.add(amy, gid, who)
    amys = await memo(app, api, amy, gid, audio_samples.speech_of_length(samples, 3))
    await memo(app, api, cat, gid, audio_samples.speech_of_length(samples, 3))
    async with app.state.runtime.sessions() as db:  # as the transcriber leaves a memo
        await db.execute(
            update(Message)
            .where(Message.id == amys["id"])
            .values(transcript_status="ready", transcript_text="Ms Lee's class at three")
        )
        await db.commit()
    await api.ok(ben, "POST", "/me/blocks", json={"user_id": cat.id})
    url = (await api.ok(ben, "POST", "/me/feeds"))["url"]
    [entry] = (await read_feed(client, url)).entries
    assert entry.id == amys["id"] and "summary" not in entry
    await api.ok(ben, "PATCH", "/me", json={"notification_previews": True})
    [entry] = (await read_feed(client, url)).entries
    assert entry.summary == "Ms Lee's class at three"


async def test_deleted_memos_and_groups_left_vanish_with_their_enclosures(
    app: Any, api: Api, client: httpx.AsyncClient, samples: Path
) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    kept_group, left_group = await api.group(amy, "Kept"), await api.group(amy, "Left")
    for gid in (kept_group, left_group):
        await api.add(amy, gid, ben)
    speech = audio_samples.speech_of_length(samples, 3)
    kept = await memo(app, api, amy, kept_group, speech)
    deleted = await memo(app, api, amy, kept_group, speech)
    removed = await memo(app, api, amy, left_group, speech)
    url = (await api.ok(ben, "POST", "/me/feeds"))["url"]
    enclosures = {e.id: e.enclosures[0].href for e in (await read_feed(client, url)).entries}
    assert set(enclosures) == {kept["id"], deleted["id"], removed["id"]}
    await api.ok(amy, "DELETE", f"/messages/{deleted['id']}")
    await api.ok(amy, "DELETE", f"/groups/{left_group}/members/{ben.id}")
    assert [e.id for e in (await read_feed(client, url)).entries] == [kept["id"]]
    async with app.state.runtime.sessions() as db:  # older than EARSHOT_FEED_DAYS (30)
        await db.execute(
            update(Message)
            .where(Message.id == kept["id"])
            .values(created_at=datetime.now(UTC) - timedelta(days=31))
        )
        await db.commit()
    assert (await read_feed(client, url)).entries == []
    for gone in (deleted["id"], removed["id"]):
        assert_error(await client.get(local(enclosures[gone])), 404)
    assert (await client.get(local(enclosures[kept["id"]]))).status_code == 200


async def test_revoking_a_feed_kills_it_and_its_enclosures(
    app: Any, api: Api, client: httpx.AsyncClient, samples: Path
) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await memo(app, api, amy, gid, audio_samples.speech_of_length(samples, 3))
    created = await api.ok(amy, "POST", "/me/feeds")
    other = await api.ok(amy, "POST", "/me/feeds")
    [entry] = (await read_feed(client, created["url"])).entries
    listed = await api.ok(amy, "GET", "/me/feeds")
    assert [f["id"] for f in listed["feeds"]] == [created["id"], other["id"]]
    assert "url" not in listed["feeds"][0]  # the token is never shown again
    assert_error(await api.call(ben, "DELETE", f"/me/feeds/{created['id']}"), 404)
    assert (await api.call(amy, "DELETE", f"/me/feeds/{created['id']}")).status_code == 204
    assert_error(await client.get(local(created["url"])), 404, "feed_not_found")
    assert_error(await client.get(local(entry.enclosures[0].href)), 404, "feed_not_found")
    assert_error(await api.call(amy, "DELETE", f"/me/feeds/{created['id']}"), 404)
    await read_feed(client, other["url"])  # another feed of the same person still works


async def test_a_wrong_token_or_signature_finds_nothing(
    app: Any, api: Api, client: httpx.AsyncClient, samples: Path
) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    await memo(app, api, amy, gid, audio_samples.speech_of_length(samples, 3))
    url = (await api.ok(amy, "POST", "/me/feeds"))["url"]
    [entry] = (await read_feed(client, url)).entries
    path = local(url)
    assert_error(await client.get(path[:-4] + "AAAA"), 404, "feed_not_found")
    assert_error(await client.get(path.split("?")[0]), 422)
    href = local(entry.enclosures[0].href)
    assert_error(await client.get(href[:-4] + "AAAA"), 404, "feed_not_found")
