"""Bookmarks: private, paged newest first, exported as Markdown, gone with their message
and hidden once their group is left."""

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from app.models import Bookmark, Message
from tests import audio_samples
from tests.helpers import Api, Person, assert_error
from tests.services.helpers import processed, upload


async def pair(api: Api) -> tuple[Person, Person, str]:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    return amy, ben, gid


def mark(api: Api, who: Person, mid: str, **body: Any) -> Any:
    return api.call(who, "PUT", f"/messages/{mid}/bookmark", json=body)


async def ids(api: Api, who: Person, **params: Any) -> list[str]:
    page = await api.ok(who, "GET", "/me/bookmarks", params=params)
    return [b["message"]["id"] for b in page["bookmarks"]]


async def test_bookmarks_are_private_newest_first_and_paged(api: Api) -> None:
    amy, ben, gid = await pair(api)
    mids = [(await api.post(amy, gid, f"idea {n}"))["id"] for n in range(5)]
    before = await api.events(amy, gid)
    for mid in mids:
        r = await mark(api, ben, mid, note=f"try {mid[:4]}")
        assert r.status_code == 200
    body = r.json()
    assert body["message"]["id"] == mids[-1] and body["note"] == f"try {mids[-1][:4]}"
    assert body["offset_ms"] is None and body["message"]["text"] == "idea 4"
    assert body["message"]["bookmarked"] is True
    assert (await api.ok(amy, "GET", f"/messages/{mids[0]}"))["bookmarked"] is False
    page = await api.ok(ben, "GET", f"/groups/{gid}/messages")
    assert all(m["bookmarked"] for m in page["messages"])
    assert await api.events(amy, gid) == before  # nothing announced
    assert await ids(api, amy) == []
    first = await api.ok(ben, "GET", "/me/bookmarks", params={"limit": 2})
    assert first["has_more"] and [b["message"]["id"] for b in first["bookmarks"]] == mids[:2:-1]
    walked = await ids(api, ben, limit=2, before=mids[3])
    assert walked == [mids[2], mids[1]]
    assert await ids(api, ben, before=mids[0]) == []
    assert await ids(api, ben) == mids[::-1]


async def test_setting_again_replaces_the_note_and_removing_is_idempotent(api: Api) -> None:
    amy, ben, gid = await pair(api)
    mid = (await api.post(amy, gid, "read this"))["id"]
    first = (await mark(api, ben, mid, note="one")).json()
    again = (await mark(api, ben, mid, note="two")).json()
    assert again["note"] == "two" and again["created_at"] == first["created_at"]
    assert (await mark(api, ben, mid)).json()["note"] is None
    for _ in range(2):
        assert (await api.call(ben, "DELETE", f"/messages/{mid}/bookmark")).status_code == 204
    assert await ids(api, ben) == []
    retries = await asyncio.gather(*[mark(api, ben, mid, note="retry") for _ in range(5)])
    assert {r.status_code for r in retries} == {200}
    page = await api.ok(ben, "GET", "/me/bookmarks")
    assert [b["note"] for b in page["bookmarks"]] == ["retry"]


async def test_bad_input_is_refused_and_changes_nothing(api: Api) -> None:
    amy, ben, gid = await pair(api)
    eve = await api.register("eve")
    mid = (await api.post(amy, gid, "text"))["id"]
    await mark(api, ben, mid, note="kept")
    for body in ({"note": "x" * 1001}, {"note": "a\x00b"}, {"offset_ms": -1}, {"note": 3}):
        assert_error(await mark(api, ben, mid, **body), 422, "validation_error")
    error = assert_error(await mark(api, ben, mid, offset_ms=0), 422, "validation_error")
    assert error["details"] == {"field": "offset_ms"}  # a text has no places
    assert_error(await mark(api, eve, mid), 404, "message_not_found")
    assert_error(await api.call(eve, "DELETE", f"/messages/{mid}/bookmark"), 404)
    page = await api.ok(ben, "GET", "/me/bookmarks")
    assert [b["note"] for b in page["bookmarks"]] == ["kept"]
    error = assert_error(
        await api.call(ben, "GET", "/me/bookmarks", params={"before": mid[::-1]}), 422
    )
    assert error["code"] == "invalid_cursor"


async def test_a_deleted_message_takes_its_bookmarks_and_notes_with_it(api: Api, app: Any) -> None:
    amy, ben, gid = await pair(api)
    mid = (await api.post(amy, gid, "soon gone"))["id"]
    kept = (await api.post(amy, gid, "stays"))["id"]
    await mark(api, ben, mid, note="secret note")
    await mark(api, ben, kept)
    await api.ok(amy, "DELETE", f"/messages/{mid}")
    assert await ids(api, ben) == [kept]
    async with app.state.runtime.sessions() as db:
        notes = await db.scalars(select(Bookmark.note).where(Bookmark.note.is_not(None)))
        assert list(notes) == []
    assert_error(await mark(api, ben, mid), 409, "message_deleted")
    export = await api.call(ben, "GET", "/me/bookmarks.md")
    assert "soon gone" not in export.text and "secret note" not in export.text


async def test_leaving_a_group_hides_its_bookmarks(api: Api) -> None:
    amy, ben, gid = await pair(api)
    other = await api.group(amy, "Other")
    await api.add(amy, other, ben)
    here = (await api.post(amy, gid, "here"))["id"]
    there = (await api.post(amy, other, "there"))["id"]
    await mark(api, ben, here)
    await mark(api, ben, there)
    await api.ok(ben, "DELETE", f"/groups/{other}/members/{ben.id}")
    assert await ids(api, ben) == [here]
    assert "there" not in (await api.call(ben, "GET", "/me/bookmarks.md")).text


async def test_voice_places_and_the_markdown_export(api: Api, app: Any, samples: Path) -> None:
    amy, ben, gid = await pair(api)
    r = await upload(api, amy, gid, audio_samples.client_file(samples, "mp3"))
    memo = await processed(app, api, amy, r.json()["id"])
    length = memo["voice"]["duration_ms"]
    async with app.state.runtime.sessions() as db:
        await db.execute(
            update(Message)
            .where(Message.id == memo["id"])
            .values(transcript_status="ready", transcript_text="Start with the student work.")
        )
        await db.commit()
    assert_error(await mark(api, ben, memo["id"], offset_ms=length + 1), 422)
    assert (await mark(api, ben, memo["id"], offset_ms=length, note="x")).status_code == 200
    at = (await mark(api, ben, memo["id"], offset_ms=1500, note="Use on Monday")).json()
    assert at["offset_ms"] == 1500
    text = (await api.post(amy, gid, "Line one\n# not a heading"))["id"]
    await mark(api, ben, text)
    r = await api.call(ben, "GET", "/me/bookmarks.md")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/markdown; charset=utf-8"
    assert "attachment" in r.headers["content-disposition"]
    lines = r.text.splitlines()
    assert lines[0] == "# My Earshot bookmarks"
    assert "> Line one" in lines and "> # not a heading" in lines
    assert "> Start with the student work." in lines and "Note: Use on Monday" in lines
    seconds = length // 1000
    assert f"Voice memo, {seconds // 60}:{seconds % 60:02d}, from 0:01." in lines
    assert r.text.index("Line one") < r.text.index("student work")  # newest first
    assert (await api.call(amy, "GET", "/me/bookmarks.md")).text.count("##") == 0
    async with app.state.runtime.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Bookmark)) == 2
